package org.jvmd.vmctl;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Locale;
import org.jvmd.qcow2.BackingChain;
import org.jvmd.qcow2.ChannelImageFile;
import org.jvmd.qcow2.DiskImage;
import org.jvmd.qcow2.ImageFile;
import org.jvmd.qcow2.ImageFormat;
import org.jvmd.qcow2.Qcow2Create;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * {@code vmctl create [-b base | -i disk] [-s size] disk} (vmctl main.c ctl_create and
 * ctl_convert): runs as the invoking user, without vmd. The format comes from a {@code raw:} or
 * {@code qcow2:} prefix, the magic of an existing file, or the name's extension (else raw).
 */
final class CreateCommand extends VmctlCommand {
    /** A disk argument: its format and the path without the prefix (vmctl's parse_disktype). */
    record DiskType(ImageFormat format, String path) {
    }

    private static final long MB = 1024 * 1024;
    /** ctl_convert's copy buffer: 64 KiB. */
    private static final int CHUNK = 1 << 16;

    /** The run's vmctl (its streams and errx); set by {@link #run(Vmctl, ParseResult)}. */
    private Vmctl v;

    CreateCommand() {
        super("create", "[-b base | -i disk] [-s size] disk",
                "Create a disk image (raw, or qcow2 by a qcow2: prefix or a .qcow2 name), empty, over a base image (-b) or copied from another disk (-i).");
    }

    @Override
    void declare(CommandSpec s) {
        valued(s, 'b', "base", Path.class, "Create a qcow2 image over this base image.");
        valued(s, 'i', "disk", Path.class, "Copy this disk image into the new one.");
        valued(s, 's', "size", String.class, "The image's size (scaled: 10G); optional with -b or -i.");
        operands(s, "disk", Path.class, null, "The image to create ([raw:|qcow2:]path).");
    }

    @Override
    int run(Vmctl vmctl, ParseResult r) {
        CreateCommand run = new CreateCommand();
        run.v = vmctl;
        return run.run(operands(r), value(r, 'b'), value(r, 'i'), value(r, 's'));
    }

    /** parse_disktype: "raw:" / "qcow2:" prefix, else the file's magic, else the extension, else raw. */
    static DiskType parseDisktype(String s) {
        if (s.startsWith("raw:")) {
            return new DiskType(ImageFormat.RAW, s.substring(4));
        }
        if (s.startsWith("qcow2:")) {
            return new DiskType(ImageFormat.QCOW2, s.substring(6));
        }
        Path p = Path.of(s);
        if (Files.isRegularFile(p)) {
            try (ImageFile f = ChannelImageFile.open(p, true)) {
                if (ImageFormat.detect(f) == ImageFormat.QCOW2) {
                    return new DiskType(ImageFormat.QCOW2, s);
                }
            } catch (IOException e) {
                // unreadable: decided by the name below, as vmctl does
            }
        }
        int dot = s.lastIndexOf('.');
        if (dot >= 0 && dot + 1 < s.length() && s.indexOf('/', dot) < 0) {
            String ext = s.substring(dot + 1).toLowerCase(Locale.ROOT);
            if (ext.equals("qcow2")) {
                return new DiskType(ImageFormat.QCOW2, s);
            }
        }
        return new DiskType(ImageFormat.RAW, s);
    }

    /** parse_size(res, word, "disk"): scaled, at least 1 MB, rounded down to the megabyte. */
    long parseSize(String word) {
        long val = 0;
        try {
            val = Vmctl.scanScaled(word);
        } catch (IllegalArgumentException e) {
            v.errx("invalid disk size: " + word + ": Invalid argument");
        }
        if (val < MB) {
            v.errx("disk size must be at least 1MB");
        }
        long size = val / MB * MB;
        if (size != val) {
            v.warnx("disk size rounded to " + FmtScaled.format(size));
        }
        return size;
    }

    private int run(List<String> pos, String base, String input, String sizeWord) {
        long size = sizeWord != null ? parseSize(sizeWord) : 0;
        if (pos.size() != 1) {
            v.ctlUsage(this);
        }
        DiskType disk = parseDisktype(pos.get(0));
        if (input != null) {
            if (base != null) {
                v.errx("conflicting -b and -i arguments");
            }
            return convert(input, disk, size);
        }
        if (base != null && disk.format() != ImageFormat.QCOW2) {
            v.errx("base images require qcow2 disk format");
        }
        if (size == 0 && base == null) {
            v.warnRaw("could not create " + disk.path() + ": missing size argument");
            v.ctlUsage(this);
        }
        try {
            if (disk.format() == ImageFormat.RAW) {
                createRaw(Path.of(disk.path()), size);
            } else {
                createQcow2(Path.of(disk.path()), size, base);
            }
        } catch (BaseProblem e) {
            v.errx(e.getMessage());
        } catch (IOException e) {
            v.errx("create imagefile operation failed: " + reason(e));
        }
        v.warnx(disk.format().word() + " imagefile created");
        return 0;
    }

    /** A problem with the base named by -b, reported as it is. */
    private static final class BaseProblem extends IOException {
        private static final long serialVersionUID = 1L;

        BaseProblem(String m) {
            super(m);
        }
    }

    /** strerror-style text for a failed file operation; the library's own message otherwise. */
    static String reason(IOException e) {
        if (e instanceof FileAlreadyExistsException) {
            return "File exists";
        }
        if (e instanceof NoSuchFileException) {
            return "No such file or directory";
        }
        if (e instanceof AccessDeniedException) {
            return "Permission denied";
        }
        return String.valueOf(e.getMessage());
    }

    /** Creates the file exclusively, mode 0600 (virtio_raw_create / virtio_qcow2_create). */
    private static FileChannel createExclusive(Path p) throws IOException {
        return FileChannel.open(p, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    }

    static void createRaw(Path p, long size) throws IOException {
        try (ImageFile f = new ChannelImageFile(createExclusive(p), p.toString())) {
            f.setSize(size);
        }
    }

    static void createQcow2(Path p, long size, String base) throws IOException {
        String name = null;
        ImageFormat baseFormat = null;
        if (base != null) {
            DiskType bt = parseDisktype(base);
            Path bp = Path.of(bt.path());
            List<BackingChain.Entry> chain;
            try {
                chain = BackingChain.resolve(bp, bt.format());
            } catch (IOException e) {
                throw new BaseProblem("invalid base image " + bt.path() + ": " + reason(e));
            }
            baseFormat = chain.get(0).format();
            long baseSize;
            try (DiskImage b = BackingChain.open(chain, true)) {
                baseSize = b.size();
            }
            if (size == 0) {
                size = baseSize;
            } else if (size < baseSize) {
                throw new BaseProblem("base image " + bt.path() + " (" + baseSize
                        + " bytes) is larger than the requested disk size (" + size + " bytes)");
            }
            // a relative name is stored relative to the new image's directory, where QEMU and
            // vmd look for it; an absolute one as given
            if (bp.isAbsolute()) {
                name = bp.toString();
            } else {
                Path dir = p.toAbsolutePath().getParent();
                name = dir.relativize(bp.toAbsolutePath().normalize()).toString();
            }
        }
        FileChannel ch = createExclusive(p);
        boolean done = false;
        try (ImageFile f = new ChannelImageFile(ch, p.toString())) {
            Qcow2Create.create(f, size, name, baseFormat);
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** ctl_convert: copies every non-zero 64 KiB of the source disk (with its base chain) into a new image. */
    private int convert(String input, DiskType dst, long dstSize) {
        DiskType src = parseDisktype(input);
        DiskImage in = null;
        try {
            in = BackingChain.open(BackingChain.resolve(Path.of(src.path()), src.format()), true);
        } catch (IOException e) {
            v.errx("failed to open source image file: " + reason(e));
        }
        try (DiskImage s = in) {
            long want = dstSize == 0 ? s.size() : dstSize;
            if (want < s.size()) {
                v.errx("size cannot be smaller than input disk size");
            }
            long size = (want + MB - 1) / MB * MB;
            Path dp = Path.of(dst.path());
            try {
                if (dst.format() == ImageFormat.RAW) {
                    createRaw(dp, size);
                } else {
                    createQcow2(dp, size, null);
                }
            } catch (IOException e) {
                v.errx("failed to create destination image file: " + reason(e));
            }
            try (DiskImage d = BackingChain.open(List.of(new BackingChain.Entry(dp.toAbsolutePath(), dst.format())),
                    false)) {
                ByteBuffer buf = ByteBuffer.allocate(CHUNK);
                for (long off = 0; off < s.size(); off += CHUNK) {
                    int n = (int) Math.min(CHUNK, s.size() - off);
                    buf.clear().limit(n);
                    s.read(off, buf);
                    buf.flip();
                    if (!allZero(buf)) {
                        d.write(off, buf);
                    }
                }
                d.flush();
            } catch (IOException e) {
                v.errx("failed to write to destination: " + reason(e));
            }
            if (want < size) {
                v.warnx("destination size rounded to " + size / MB + " megabytes");
            }
        } catch (IOException e) {
            v.errx("failed to read from source: " + reason(e));
        }
        v.warnx(dst.format().word() + " imagefile created");
        return 0;
    }

    private static boolean allZero(ByteBuffer b) {
        for (int i = b.position(); i < b.limit(); i++) {
            if (b.get(i) != 0) {
                return false;
            }
        }
        return true;
    }
}
