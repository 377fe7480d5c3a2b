package org.jvmd.vmd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.qcow2.BackingChain;
import org.jvmd.qcow2.ChannelImageFile;
import org.jvmd.qcow2.ImageException;
import org.jvmd.qcow2.ImageFile;
import org.jvmd.qcow2.ImageFormat;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.vmd.config.DiskSpec;

/**
 * The images of a VM's disks, opened by vmd (the parent) when the VM starts, each with an
 * exclusive lock so that two VMs never write the same image (vmd's {@code O_EXLOCK}; here
 * {@code flock(LOCK_EX|LOCK_NB)} on the open file description, which the copies handed to
 * vmm-proc and vioblk-proc share). The descriptors here are held for the VM's life; closing
 * them when the VM has ended releases the locks.
 *
 * <p>An image a caller named (vmctl start -d) comes as descriptors the caller opened with its
 * own rights (the image and its qcow2 bases), checked when vmd took the request ({@link
 * CallerAccess#checkPassed}, vmd's {@code vm_checkaccess}); vmd reopens each through its
 * descriptor, never through a path the caller named. Every refusal names the disk: {@code
 * disk 0 (/var/vm/web.img): ...}.
 *
 * <p>{@link #layers} is the one seam where an image's format and base chain are resolved:
 * raw, or qcow2 with its read-only, share-locked bases (FD_DISK layer 1..n).
 */
final class DiskImages implements AutoCloseable {
    /** The qcow2 magic, "QFI\xfb" (QEMU docs/interop/qcow2.txt: header offset 0). */
    static final int QCOW2_MAGIC = 0x514649fb;

    /** A refused image: the message names the disk and reaches vmctl as it is. */
    static final class DiskImageException extends IOException {
        private static final long serialVersionUID = 1L;

        DiskImageException(String message) {
            super(message);
        }
    }

    /** One disk: its layers' descriptors (layer 0 its own image, then its bases) and their formats. */
    record Disk(DiskSpec spec, List<Fd> layers, DiskFormat format, List<DiskFormat> baseFormats) {}

    /** What {@link #layers} resolves for one disk: the formats and the base images it opened. */
    record Layers(DiskFormat format, List<DiskFormat> baseFormats, List<Fd> bases) {}

    private final List<Disk> disks;

    private DiskImages(List<Disk> disks) {
        this.disks = disks;
    }

    /**
     * Opens, checks and locks every disk of a VM, in order: vm.conf's images by their paths,
     * a caller's through the descriptors it passed ({@link DiskSpec#passed}, checked when vmd
     * took the request: {@link CallerAccess#checkPassed}). On failure nothing stays open or locked.
     */
    static DiskImages open(List<DiskSpec> specs) throws IOException {
        List<Disk> opened = new ArrayList<>();
        try {
            for (int i = 0; i < specs.size(); i++) {
                opened.add(openDisk(i, specs.get(i)));
            }
            return new DiskImages(opened);
        } catch (IOException | RuntimeException e) {
            opened.forEach(d -> Fd.closeAll(d.layers()));
            throw e;
        }
    }

    private static Disk openDisk(int index, DiskSpec spec) throws IOException {
        String what = name(index, spec);
        Fd own;
        try {
            own = spec.passed().isEmpty() ? CallerAccess.openConfigured(what, spec.path(), LibC.O_RDWR)
                    : CallerAccess.reopen(what, spec.passed().get(0), LibC.O_RDWR);
        } catch (CallerAccess.Refused e) {
            throw new DiskImageException(e.getMessage());
        }
        try {
            lock(what, own);
            Layers l = layers(index, spec, own);
            List<Fd> all = new ArrayList<>();
            all.add(own);
            all.addAll(l.bases());
            return new Disk(spec, all, l.format(), l.baseFormats());
        } catch (IOException | RuntimeException e) {
            own.close();
            throw e;
        }
    }

    /** strerror(3)'s text: "No such file or directory". */
    static String strerror(int errno) {
        return CallerAccess.strerror(errno);
    }

    /** {@code disk N (path)}, as every message about a disk starts. */
    static String name(int index, DiskSpec spec) {
        return "disk " + index + " (" + spec.path() + ")";
    }

    private static Path fdPath(Fd fd) {
        return CallerAccess.fdPath(fd);
    }

    /** flock(LOCK_EX|LOCK_NB): a VM holding the image already makes this one fail at once. */
    private static void lock(String what, Fd fd) throws IOException {
        try {
            LibC.flock(fd, LibC.LOCK_EX | LibC.LOCK_NB);
        } catch (SysException e) {
            throw new DiskImageException(what + ": " + (e.errno() == Errno.EAGAIN
                    ? "in use by another VM (locked)" : "cannot lock: " + strerror(e.errno())));
        }
    }

    /**
     * The seam for image formats: the format of {@code own} (as configured, or by its magic for
     * {@code AUTO}) and the base images it stands on, opened read-only, with their formats.
     * A raw image has no bases. For a qcow2 image the chain is resolved by the qcow2 library
     * ({@link BackingChain#resolve}: a relative base name against the directory of the image
     * that names it, an absolute one as is; a loop, a missing base, an unknown format, a base
     * larger than its disk or a chain deeper than {@value BackingChain#MAX_DEPTH} refused with
     * the library's message). Each base is opened here once, O_RDONLY, and its header read
     * through that very descriptor, so the chain checked is the chain handed down: vm.conf's
     * by the name its child stores, a caller's by reopening the descriptor the caller passed
     * for it (in chain order; one that is not the file the chain names, or a base that was
     * not passed, is refused); and each base takes a shared lock (LOCK_SH|LOCK_NB):
     * several VMs may stand on one base, but none may have it as its own, written disk while
     * they do (that VM's exclusive lock and these shared ones exclude each other, whichever
     * comes first). The caller closes the bases with the disk, which releases the locks.
     */
    static Layers layers(int index, DiskSpec spec, Fd own) throws IOException {
        DiskSpec.Format f = spec.format();
        if (f == DiskSpec.Format.AUTO) {
            f = isQcow2(own) ? DiskSpec.Format.QCOW2 : DiskSpec.Format.RAW;
        }
        return switch (f) {
            case RAW -> {
                if (spec.passed().size() > 1) {
                    throw new DiskImageException(name(index, spec) + ": base images passed for a raw image");
                }
                yield new Layers(DiskFormat.FORMAT_RAW, List.of(), List.of());
            }
            case QCOW2 -> qcow2Layers(index, spec, own);
            case AUTO -> throw new IllegalStateException("format still AUTO");
        };
    }

    private static Layers qcow2Layers(int index, DiskSpec spec, Fd own) throws IOException {
        String what = name(index, spec);
        List<Fd> bases = new ArrayList<>();
        boolean[] top = {true};
        boolean passed = !spec.passed().isEmpty();
        try {
            BackingChain.Opener opener = p -> {
                if (top[0]) {
                    top[0] = false;
                    return view(own, p);   // the top (asked first): the descriptor already opened and locked
                }
                Fd base = passed ? passedBase(p, spec, bases.size()) : openBase(p);
                bases.add(base);
                return view(base, p);
            };
            // A caller's layers are known by the files of the descriptors it passed (loops
            // included): vmd looks up no path a caller's image names.
            int[] asked = {0};
            BackingChain.Identity byDescriptor = p -> {
                int n = asked[0]++;
                if (n >= spec.passed().size()) {
                    throw new ImageException("base image " + p + ": not passed (the caller passes every base image's descriptor)");
                }
                return Files.readAttributes(fdPath(spec.passed().get(n)), BasicFileAttributes.class).fileKey();
            };
            List<BackingChain.Entry> chain = passed
                    ? BackingChain.resolve(spec.path(), ImageFormat.QCOW2, opener, byDescriptor)
                    : BackingChain.resolve(spec.path(), ImageFormat.QCOW2, opener);
            if (chain.size() != bases.size() + 1) {
                throw new IllegalStateException("chain of " + chain.size() + " for " + bases.size() + " bases");
            }
            if (passed && spec.passed().size() != chain.size()) {
                throw new DiskImageException(what + ": " + (spec.passed().size() - 1) + " base images passed, the chain has "
                        + bases.size());
            }
            List<DiskFormat> formats = new ArrayList<>();
            for (BackingChain.Entry e : chain.subList(1, chain.size())) {
                formats.add(e.format() == ImageFormat.QCOW2 ? DiskFormat.FORMAT_QCOW2 : DiskFormat.FORMAT_RAW);
            }
            return new Layers(DiskFormat.FORMAT_QCOW2, formats, List.copyOf(bases));
        } catch (DiskImageException e) {
            Fd.closeAll(bases);
            throw e;
        } catch (ImageException e) {
            Fd.closeAll(bases);
            throw new DiskImageException(what + ": " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            Fd.closeAll(bases);
            throw new DiskImageException(what + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
        }
    }

    /**
     * A base of vm.conf's disk: opened O_RDONLY by vmd (root's configuration), a regular
     * file, locked shared. A refusal is an {@link ImageException} ("base image /path: ..."),
     * which the chain's resolution passes on as it is and {@link #qcow2Layers} prefixes with
     * the disk's name.
     */
    private static Fd openBase(Path p) throws IOException {
        String base = "base image " + p;
        Fd fd;
        try {
            fd = CallerAccess.openConfigured(base, p, LibC.O_RDONLY);
        } catch (CallerAccess.Refused e) {
            throw new ImageException(e.getMessage());
        }
        return lockShared(base, fd);
    }

    /**
     * Base number {@code n} (0: the image's own base) of a caller's disk: the descriptor the
     * caller passed for it, in chain order (vmctl resolves the chain as the caller), reopened
     * read-only through that descriptor and locked shared. vmd reads the chain from the
     * images' contents (formats, sizes, loops by the descriptors' files); which file stands
     * for which name is the caller's to say, since it may read every one of them. A base it
     * was not given is refused, never opened or looked up by its path.
     */
    private static Fd passedBase(Path p, DiskSpec spec, int n) throws IOException {
        String base = "base image " + p;
        if (n + 1 >= spec.passed().size()) {
            throw new ImageException(base + ": not passed (the caller passes every base image's descriptor)");
        }
        Fd fd;
        try {
            fd = CallerAccess.reopen(base, spec.passed().get(n + 1), LibC.O_RDONLY);
        } catch (CallerAccess.Refused e) {
            throw new ImageException(e.getMessage());
        }
        return lockShared(base, fd);
    }

    private static Fd lockShared(String base, Fd fd) throws IOException {
        try {
            LibC.flock(fd, LibC.LOCK_SH | LibC.LOCK_NB);
        } catch (SysException e) {
            fd.close();
            throw new ImageException(base + ": " + (e.errno() == Errno.EAGAIN
                    ? "in use by another VM as its own disk (locked)" : "cannot lock: " + strerror(e.errno())));
        }
        return fd;
    }

    /** A read-only ImageFile over a descriptor of ours (its own open file description, the same file). */
    private static ImageFile view(Fd fd, Path p) throws IOException {
        return new ChannelImageFile(FileChannel.open(fdPath(fd), StandardOpenOption.READ), p.toString());
    }

    /** True when the image starts with the qcow2 magic (read through a descriptor of its own). */
    static boolean isQcow2(Fd own) throws IOException {
        try (FileChannel ch = FileChannel.open(fdPath(own), StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(4);
            while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
                // a short image has no magic
            }
            return !b.hasRemaining() && b.getInt(0) == QCOW2_MAGIC;
        }
    }

    // ---- handing them down ----

    List<Disk> disks() {
        return List.copyOf(disks);
    }

    /** The disks as vmm-proc's configuration shows them (serial: the VM's name and the disk number). */
    List<DiskConfig> configs(String vmName) {
        List<DiskConfig> out = new ArrayList<>();
        for (int i = 0; i < disks.size(); i++) {
            Disk d = disks.get(i);
            String serial = vmName + "-" + i;
            out.add(DiskConfig.newBuilder().setIndex(i).setPath(d.spec().path().toString()).setFormat(d.format())
                    .setReadOnly(false).setSerial(serial.length() > 20 ? serial.substring(serial.length() - 20) : serial)
                    .addAllBaseFormats(d.baseFormats()).build());
        }
        return out;
    }

    /** Duplicates of every layer's descriptor (FD_DISK index = disk, layer), for StartVm: {@code fds} get them. */
    void dupInto(List<Fd> fds, List<FdSlot> slots) throws SysException {
        for (int i = 0; i < disks.size(); i++) {
            List<Fd> layers = disks.get(i).layers();
            for (int l = 0; l < layers.size(); l++) {
                fds.add(layers.get(l).dup());
                slots.add(FdSlot.newBuilder().setRole(FdRole.FD_DISK).setIndex(i).setLayer(l).build());
            }
        }
    }

    /** Closes vmd's descriptors: once the VM's processes are gone too, the locks are released. */
    @Override
    public void close() {
        disks.forEach(d -> Fd.closeAll(d.layers()));
    }
}
