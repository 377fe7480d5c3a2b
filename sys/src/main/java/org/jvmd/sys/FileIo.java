package org.jvmd.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import org.jvmd.sys.memory.MappedGuestMemory;

/**
 * The file calls a disk image needs (vioblk-proc's raw backend): positional vectored I/O
 * straight between the image and guest memory ({@link IoVec}, no copy in Java), durable
 * writes, hole punching and zeroing, the size and type of the descriptor. Each binding is
 * named after its call; failures go through {@link SysException} ("pwritev: ENOSPC (No
 * space left on device)"), and the {@code try*} variants of the data path return
 * {@code -errno} instead, so that a failing disk costs no exception per request.
 *
 * <p>Constants: Linux x86_64, include/uapi/linux/falloc.h, fs.h, asm-generic/stat.h.
 */
public final class FileIo {
    private FileIo() {}

    /** fallocate(2) mode bits (include/uapi/linux/falloc.h). */
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    /** lseek(2) whence. */
    public static final int SEEK_SET = 0;
    public static final int SEEK_END = 2;
    /** st_mode file types (include/uapi/linux/stat.h). */
    public static final int S_IFMT = 0170000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFBLK = 0060000;
    /**
     * struct stat on x86_64 (arch/x86/include/uapi/asm/stat.h): 144 bytes, st_mode at 24,
     * st_size at 48, st_blocks (512-byte units, whatever st_blksize is: stat(2)) at 64.
     */
    static final int STAT_BYTES = 144;
    static final int STAT_MODE = 24;
    static final int STAT_SIZE = 48;
    static final int STAT_BLOCKS = 64;
    /** stat(2): st_blocks counts 512-byte units. */
    public static final int STAT_BLOCK_UNIT = 512;

    private static final class Preadv {
        static final MethodHandle H = Native.downcall("preadv",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    }
    private static final class Pwritev {
        static final MethodHandle H = Native.downcall("pwritev",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    }
    private static final class Pread {
        static final MethodHandle H = Native.downcall("pread",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    }
    private static final class Pwrite {
        static final MethodHandle H = Native.downcall("pwrite",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    }
    /** The bounce buffer of a heap ByteBuffer's pread/pwrite (a direct one needs none). */
    private static final int BOUNCE = 1 << 16;
    private static final ThreadLocal<MemorySegment> BOUNCES =
            ThreadLocal.withInitial(() -> java.lang.foreign.Arena.ofAuto().allocate(BOUNCE, 64));

    private static final class Fdatasync {
        static final MethodHandle H = Native.downcall("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class Fallocate {
        static final MethodHandle H = Native.downcall("fallocate",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    }
    private static final class Fstat {
        static final MethodHandle H = Native.downcall("fstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class Lseek {
        static final MethodHandle H = Native.downcall("lseek",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    }

    /** Links every handle of this class (before a privilege drop, with the rest of the start-up). */
    public static void preload() {
        MethodHandle[] all = {Preadv.H, Pwritev.H, Pread.H, Pwrite.H, Fdatasync.H, Fallocate.H, Fstat.H, Lseek.H};
        BOUNCES.get();
        if (all.length != 8) {
            throw new IllegalStateException();
        }
    }

    /** {@code preadv(fd, iov, iovcnt, offset)}: bytes read (0 at end of file) or {@code -errno}. */
    public static long tryPreadv(Fd fd, IoVec iov, long offset) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Preadv.H.invokeExact(st, fd.num(), iov.segment(), iov.count(), offset);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    /** {@code pwritev(fd, iov, iovcnt, offset)}: bytes written or {@code -errno}. */
    public static long tryPwritev(Fd fd, IoVec iov, long offset) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Pwritev.H.invokeExact(st, fd.num(), iov.segment(), iov.count(), offset);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    /**
     * {@code pread(fd, buf, count, offset)} into {@code dst} from its position, which advances by
     * the bytes read: the count (0 at end of file) or {@code -errno}. A direct buffer (a view
     * of guest memory, {@link MappedGuestMemory#byteBuffer}) is read into in place; a heap
     * buffer through a per-thread bounce buffer, at most 64 KiB per call (a short read).
     */
    public static long tryPread(Fd fd, ByteBuffer dst, long offset) {
        if (!dst.hasRemaining()) {
            return 0;
        }
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("pread into a read-only buffer");
        }
        boolean direct = dst.isDirect();
        MemorySegment buf = direct ? MemorySegment.ofBuffer(dst)
                : BOUNCES.get().asSlice(0, Math.min(BOUNCE, dst.remaining()));
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Pread.H.invokeExact(st, fd.num(), buf, buf.byteSize(), offset);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        r = Native.result(r, st);
        if (r < 0) {
            return r;
        }
        if (!direct) {
            MemorySegment.copy(buf, 0, MemorySegment.ofBuffer(dst), 0, r);
        }
        dst.position(dst.position() + (int) r);
        return r;
    }

    /**
     * {@code pwrite(fd, buf, count, offset)} from {@code src}'s position, which advances by the
     * bytes written: the count or {@code -errno}; a heap buffer goes through the bounce buffer,
     * at most 64 KiB per call (a short write).
     */
    public static long tryPwrite(Fd fd, ByteBuffer src, long offset) {
        if (!src.hasRemaining()) {
            return 0;
        }
        boolean direct = src.isDirect();
        MemorySegment buf;
        if (direct) {
            buf = MemorySegment.ofBuffer(src);
        } else {
            buf = BOUNCES.get().asSlice(0, Math.min(BOUNCE, src.remaining()));
            MemorySegment.copy(MemorySegment.ofBuffer(src), 0, buf, 0, buf.byteSize());
        }
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Pwrite.H.invokeExact(st, fd.num(), buf, buf.byteSize(), offset);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        r = Native.result(r, st);
        if (r < 0) {
            return r;
        }
        src.position(src.position() + (int) r);
        return r;
    }

    /** {@link #tryPreadv}, retried on EINTR; throws on failure. */
    public static long preadv(Fd fd, IoVec iov, long offset) throws SysException {
        long r;
        while ((r = tryPreadv(fd, iov, offset)) == -Errno.EINTR) {
            // interrupted before any data: try again
        }
        return Native.check(r, "preadv");
    }

    /** {@link #tryPwritev}, retried on EINTR; throws on failure. */
    public static long pwritev(Fd fd, IoVec iov, long offset) throws SysException {
        long r;
        while ((r = tryPwritev(fd, iov, offset)) == -Errno.EINTR) {
            // interrupted before any data: try again
        }
        return Native.check(r, "pwritev");
    }

    /**
     * Calls fdatasync and fallocate once on no descriptor (each fails with EBADF), so that
     * their first real call finds the call path linked and warm (vioblk's warm-up).
     */
    public static void warmUp() {
        tryFdatasync(-1);
        tryFallocate(-1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 0);
    }

    /** {@code fdatasync(fd)}: 0 or {@code -errno}. */
    public static int tryFdatasync(Fd fd) {
        return tryFdatasync(fd.num());
    }

    private static int tryFdatasync(int fd) {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Fdatasync.H.invokeExact(st, fd);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    public static void fdatasync(Fd fd) throws SysException {
        int r;
        while ((r = tryFdatasync(fd)) == -Errno.EINTR) {
            // try again
        }
        Native.check(r, "fdatasync");
    }

    /** {@code fallocate(fd, mode, offset, len)}: 0 or {@code -errno} (EOPNOTSUPP where the file system cannot). */
    public static int tryFallocate(Fd fd, int mode, long offset, long len) {
        return tryFallocate(fd.num(), mode, offset, len);
    }

    private static int tryFallocate(int fd, int mode, long offset, long len) {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Fallocate.H.invokeExact(st, fd, mode, offset, len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    public static void fallocate(Fd fd, int mode, long offset, long len) throws SysException {
        int r;
        while ((r = tryFallocate(fd, mode, offset, len)) == -Errno.EINTR) {
            // try again
        }
        Native.check(r, "fallocate");
    }

    /**
     * What {@link #fstat} tells: the file type and permission bits, the size, and the storage
     * allocated in 512-byte blocks (for a memfd: the pages written or touched so far).
     */
    public record Stat(int mode, long size, long blocks) {
        /** The bytes allocated to the file: st_blocks * 512. */
        public long allocatedBytes() {
            return blocks * STAT_BLOCK_UNIT;
        }

        public boolean isRegular() {
            return (mode & S_IFMT) == S_IFREG;
        }

        public boolean isBlockDevice() {
            return (mode & S_IFMT) == S_IFBLK;
        }
    }

    /** {@code fstat(fd)}: st_mode, st_size (0 for a block device: use {@link #size}) and st_blocks. */
    public static Stat fstat(Fd fd) throws SysException {
        MemorySegment st = Native.state();
        MemorySegment buf = Native.scratch().asSlice(0, STAT_BYTES);
        int r;
        try {
            r = (int) Fstat.H.invokeExact(st, fd.num(), buf);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "fstat");
        return new Stat(buf.get(JAVA_INT, STAT_MODE), buf.get(JAVA_LONG, STAT_SIZE), buf.get(JAVA_LONG, STAT_BLOCKS));
    }

    /** {@code lseek(fd, offset, whence)}: the new offset. */
    public static long lseek(Fd fd, long offset, int whence) throws SysException {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Lseek.H.invokeExact(st, fd.num(), offset, whence);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.check(r, st, "lseek");
    }

    /**
     * The size in bytes of a regular file or a block device: st_size for a file, the end
     * offset for a device (lseek(SEEK_END) gives a block device's size as BLKGETSIZE64
     * does, without an ioctl). Leaves the file offset at the end (pread/pwrite ignore it).
     */
    public static long size(Fd fd) throws SysException {
        Stat s = fstat(fd);
        if (s.isRegular()) {
            return s.size();
        }
        if (s.isBlockDevice()) {
            return lseek(fd, 0, SEEK_END);
        }
        throw new SysException("fstat: neither a regular file nor a block device (mode 0"
                + Integer.toOctalString(s.mode()) + ")", Errno.EINVAL);
    }

}
