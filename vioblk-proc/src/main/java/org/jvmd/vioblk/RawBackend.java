package org.jvmd.vioblk;

import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.FileIo;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.NativeBuffer;
import org.jvmd.sys.SysException;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.blk.BlockError;
import org.jvmd.virtio.blk.BlockIoException;
import org.jvmd.virtio.blk.GuestSpans;
import org.jvmd.virtio.blk.SpanBackend;

/**
 * A raw image (vmd's vioraw.c): the guest's sectors are the file's bytes. Reads and writes
 * go between the image and guest memory with preadv/pwritev on iovecs that point into
 * the mapped guest RAM, so no byte passes through the Java heap. FLUSH is fdatasync;
 * DISCARD punches a hole; WRITE_ZEROES punches (unmap) or zeroes the range, falling back
 * to writing zeroes where the file system cannot. Works on a regular file or a block device.
 *
 * <p>Thread-safe: positional calls share no file offset; each I/O thread has its own iovec.
 */
public final class RawBackend extends SpanBackend {
    /** UIO_MAXIOV bounds one preadv/pwritev; a request has at most seg_max spans, far below. */
    private static final int IOVECS = IoVec.MAX;
    private static final int ZERO_CHUNK = 1 << 20;

    private final Fd fd;
    private final MappedGuestMemory memory;
    private final long size;
    private final ThreadLocal<IoVec> iovecs = ThreadLocal.withInitial(() -> new IoVec(IOVECS));
    private volatile NativeBuffer zeroes;

    /** Adopts {@code fd} (closed by {@link #close}); {@code size} as {@link FileIo#size} told before the drop. */
    public RawBackend(Fd fd, MappedGuestMemory memory, long size) {
        this.fd = fd;
        this.memory = memory;
        this.size = size;
    }

    /** The image's size in bytes, by fstat (a file) or lseek (a block device). */
    public static long sizeOf(Fd fd) throws SysException {
        return FileIo.size(fd);
    }

    @Override
    public long size() {
        return size;
    }

    public Fd fd() {
        return fd;
    }

    /** preadv/pwritev until every byte moved (a short transfer continues where it stopped). */
    @Override
    protected void transfer(long offset, GuestSpans spans, boolean write) throws BlockIoException {
        IoVec iov = iovecs.get();
        long total = spans.bytes();
        long done = 0;
        while (done < total) {
            fill(iov, spans, done);
            long r = write ? FileIo.tryPwritev(fd, iov, offset + done) : FileIo.tryPreadv(fd, iov, offset + done);
            if (r == -Errno.EINTR) {
                continue;
            }
            if (r < 0) {
                throw failure(write ? "pwritev" : "preadv", (int) -r);
            }
            if (r == 0) {
                throw new BlockIoException(BlockError.IO_OTHER, (write ? "pwritev" : "preadv") + " at " + (offset + done)
                        + ": no progress (the image shrank?)");
            }
            done += r;
        }
    }

    /** The spans from byte {@code skip} on, as host addresses in guest RAM. */
    void fill(IoVec iov, GuestSpans spans, long skip) throws BlockIoException {
        fill(memory, iov, spans, skip, spans.bytes());
    }

    /** Bytes [from, to) of the spans, as host addresses in guest RAM. */
    static void fill(MappedGuestMemory memory, IoVec iov, GuestSpans spans, long from, long to)
            throws BlockIoException {
        iov.clear();
        long at = 0;
        try {
            for (int i = 0; i < spans.count() && at < to; i++) {
                long len = spans.length(i);
                long a = Math.max(from, at);
                long b = Math.min(to, at + len);
                if (a < b) {
                    iov.add(memory, spans.address(i) + (a - at), b - a);
                }
                at += len;
            }
        } catch (GuestFault f) {
            throw new BlockIoException(BlockError.GUEST_FAULT, f.getMessage());
        }
    }

    MappedGuestMemory memory() {
        return memory;
    }

    @Override
    public void flush() throws BlockIoException {
        int r = FileIo.tryFdatasync(fd);
        if (r < 0) {
            throw failure("fdatasync", -r);
        }
    }

    @Override
    public void discard(long offset, long length) throws BlockIoException {
        int r = FileIo.tryFallocate(fd, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, offset, length);
        if (r < 0 && !unsupported(-r)) {
            throw failure("fallocate(PUNCH_HOLE)", -r);
        }
        // A file system that cannot punch holes keeps the data: discard is a hint (virtio 1.2 §5.2.6.2).
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws BlockIoException {
        if (unmap) {
            int r = FileIo.tryFallocate(fd, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, offset, length);
            if (r == 0) {
                return;
            }
            if (!unsupported(-r)) {
                throw failure("fallocate(PUNCH_HOLE)", -r);
            }
        }
        int r = FileIo.tryFallocate(fd, FileIo.FALLOC_FL_ZERO_RANGE | FileIo.FALLOC_FL_KEEP_SIZE, offset, length);
        if (r == 0) {
            return;
        }
        if (!unsupported(-r)) {
            throw failure("fallocate(ZERO_RANGE)", -r);
        }
        writeZeroBytes(offset, length);
    }

    private void writeZeroBytes(long offset, long length) throws BlockIoException {
        NativeBuffer z = zeroes;
        if (z == null) {
            z = new NativeBuffer(ZERO_CHUNK);   // allocated zeroed, once
            zeroes = z;
        }
        IoVec iov = iovecs.get();
        for (long done = 0; done < length; ) {
            long n = Math.min(ZERO_CHUNK, length - done);
            iov.clear();
            iov.add(z, 0, n);
            long r = FileIo.tryPwritev(fd, iov, offset + done);
            if (r == -Errno.EINTR) {
                continue;
            }
            if (r <= 0) {
                throw failure("pwritev(zeroes)", r == 0 ? Errno.EIO : (int) -r);
            }
            done += r;
        }
    }

    private static boolean unsupported(int errno) {
        return errno == Errno.EOPNOTSUPP || errno == Errno.ENOSYS || errno == Errno.ENODEV;
    }

    /** EIO and ENOSPC are counted by name; the guest gets IOERR for each (virtio 1.2 §5.2.6). */
    static BlockIoException failure(String call, int errno) {
        BlockError why = switch (errno) {
            case Errno.EIO -> BlockError.IO_EIO;
            case Errno.ENOSPC, Errno.EDQUOT -> BlockError.IO_ENOSPC;
            default -> BlockError.IO_OTHER;
        };
        return new BlockIoException(why, call + ": " + Errno.describe(errno));
    }

    @Override
    public void close() {
        fd.close();
    }
}
