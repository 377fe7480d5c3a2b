package org.jvmd.vioblk;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.jvmd.qcow2.ImageException;
import org.jvmd.qcow2.ImageFile;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.FileIo;

/**
 * A layer of a qcow2 disk over the descriptor vmd opened and passed down (the disk process
 * opens nothing): pread/pwrite ({@link FileIo#tryPread}: in place for a direct buffer, so
 * guest data read into or written from a view of guest memory is not copied), fstat,
 * fdatasync, fallocate(PUNCH_HOLE). The file grows by pwrite past its end; ftruncate is
 * refused by the disk seccomp profile, and so {@link #setSize} is refused here with a
 * message (the qcow2 image never asks for it: it allocates by writing).
 *
 * <p>Errors keep their errno ({@link FileIoException}) so that ENOSPC and EIO are counted
 * as such by {@link Qcow2Backend}.
 */
final class FdImageFile implements ImageFile {
    private final Fd fd;
    private final String name;

    /** An I/O error of the image's file, with its errno. */
    static final class FileIoException extends IOException {
        private static final long serialVersionUID = 1L;
        private final String call;
        private final int errno;

        FileIoException(String name, String call, int errno) {
            super(name + ": " + call + ": " + Errno.describe(errno));
            this.call = call;
            this.errno = errno;
        }

        String call() {
            return call;
        }

        int errno() {
            return errno;
        }
    }

    /** Adopts {@code fd} (closed by {@link #close}). */
    FdImageFile(Fd fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    Fd fd() {
        return fd;
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        if (!dst.hasRemaining()) {
            return 0;
        }
        long r = transfer(dst, position, false);
        return r == 0 ? -1 : (int) r;
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        return (int) transfer(src, position, true);
    }

    /** One pread or pwrite, again after EINTR; the bytes it moved. */
    private long transfer(ByteBuffer b, long position, boolean write) throws IOException {
        while (true) {
            long r = write ? FileIo.tryPwrite(fd, b, position) : FileIo.tryPread(fd, b, position);
            if (r == -Errno.EINTR) {
                continue;
            }
            if (r < 0) {
                throw new FileIoException(name, write ? "pwrite" : "pread", (int) -r);
            }
            return r;
        }
    }

    @Override
    public long size() throws IOException {
        return FileIo.size(fd);
    }

    @Override
    public void setSize(long size) throws IOException {
        throw new ImageException(name + ": the disk process does not truncate its images");
    }

    @Override
    public void flush() throws IOException {
        int r;
        while ((r = FileIo.tryFdatasync(fd)) == -Errno.EINTR) {
            // again
        }
        if (r < 0) {
            throw new FileIoException(name, "fdatasync", -r);
        }
    }

    @Override
    public boolean punchHole(long offset, long length) throws IOException {
        int r = FileIo.tryFallocate(fd, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, offset, length);
        if (r == 0) {
            return true;
        }
        if (-r == Errno.EOPNOTSUPP || -r == Errno.ENOSYS || -r == Errno.ENODEV) {
            return false;
        }
        throw new FileIoException(name, "fallocate(PUNCH_HOLE)", -r);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void close() {
        fd.close();
    }
}
