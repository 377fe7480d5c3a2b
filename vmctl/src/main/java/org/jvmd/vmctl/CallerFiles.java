package org.jvmd.vmctl;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.DiskRequest;
import org.jvmd.qcow2.BackingChain;
import org.jvmd.qcow2.ChannelImageFile;
import org.jvmd.qcow2.ImageException;
import org.jvmd.qcow2.ImageFormat;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/**
 * The files a {@code vmctl start} names (kernel, disk images and their qcow2 bases), opened
 * by vmctl with the user's own rights and passed to vmd as descriptors (vmd never opens a
 * path a caller names; it checks the descriptors like vm_checkaccess). The request names
 * each by its index in {@link #fds()}. A file the user cannot open is vmctl's own error,
 * naming it. Closes what it opened if anything fails ({@link #close}).
 */
final class CallerFiles implements AutoCloseable {
    /** Thrown with vmctl's message for a file it cannot open or read. */
    static final class Unopenable extends Exception {
        private static final long serialVersionUID = 1L;

        Unopenable(String message) {
            super(message);
        }
    }

    private final List<Fd> fds = new ArrayList<>();

    /** The descriptors in index order; the caller sends (and so hands over) them. */
    List<Fd> fds() {
        return fds;
    }

    private int add(Fd fd) {
        fds.add(fd);
        return fds.size() - 1;
    }

    private static Fd open(String what, Path p, int flags) throws Unopenable {
        try {
            return LibC.open(p.toString(), flags | LibC.O_CLOEXEC);
        } catch (SysException e) {
            throw new Unopenable("cannot open " + what + " '" + p + "': " + Vmctl.strerror(e.errno()));
        }
    }

    /** The kernel (or initrd), read-only: its descriptor's index. */
    int bootFile(String what, Path p) throws Unopenable {
        return add(open(what, p, LibC.O_RDONLY));
    }

    /**
     * A disk: the image read-write (the guest writes it) and, for a qcow2 image, every base
     * of its chain read-only, in order, resolved here by the qcow2 library with the user's
     * rights (vmd re-reads the chain through these descriptors and refuses one that needs a
     * base it was not given).
     */
    DiskRequest disk(DiskRequest d) throws Unopenable {
        Path p = Path.of(d.getPath());
        Fd image = open("disk", p, LibC.O_RDWR);
        DiskRequest.Builder b = d.toBuilder().setFd(add(image));
        if (d.getFormat() == DiskFormat.FORMAT_RAW) {
            return b.build();
        }
        ImageFormat top = d.getFormat() == DiskFormat.FORMAT_QCOW2 ? ImageFormat.QCOW2 : null;
        List<Fd> bases = new ArrayList<>();
        boolean[] first = {true};
        try {
            BackingChain.resolve(p, top, q -> {
                Fd fd;
                if (first[0]) {
                    first[0] = false;
                    fd = image;
                } else {
                    try {
                        fd = open("base image", q, LibC.O_RDONLY);
                    } catch (Unopenable e) {
                        throw new ImageException(e.getMessage()); // passed on by the chain as it is
                    }
                    bases.add(fd);
                }
                return new ChannelImageFile(FileChannel.open(fd.procPath(), StandardOpenOption.READ), q.toString());
            });
        } catch (IOException e) {
            Fd.closeAll(bases);
            throw new Unopenable("disk '" + p + "': " + e.getMessage());
        }
        for (Fd fd : bases) {
            b.addBaseFds(add(fd));
        }
        return b.build();
    }

    /** Closes every descriptor still held (none once they were sent). */
    @Override
    public void close() {
        Fd.closeAll(fds);
    }
}
