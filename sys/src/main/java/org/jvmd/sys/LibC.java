package org.jvmd.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.net.InetSocketAddress;
import org.jvmd.sys.proc.WaitStatus;

/**
 * libc bindings, each named after its call. Every failure becomes a {@link SysException}
 * naming the call; the {@code try*} variants of hot-path calls instead return
 * {@code -errno}, so that EAGAIN on a non-blocking fd costs no exception.
 *
 * <p>Descriptors are raw {@code int}s here, for the classes of this module; a call that other
 * modules make also takes the owning {@link Fd}, so no raw number crosses the module's API.
 *
 * <p>Constants are Linux x86_64 values from the uapi and glibc headers named beside them.
 */
public final class LibC {
    private LibC() {}

    // fcntl.h / asm-generic/fcntl.h
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_NOCTTY = 0400;
    public static final int O_TRUNC = 01000;
    public static final int O_APPEND = 02000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_NOFOLLOW = 0400000;
    public static final int O_CLOEXEC = 02000000;
    public static final int O_PATH = 010000000;
    public static final int F_GETFD = 1;
    public static final int F_SETFD = 2;
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int F_DUPFD_CLOEXEC = 1030;
    public static final int FD_CLOEXEC = 1;
    // sys/mman.h
    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MFD_CLOEXEC = 0x1;
    public static final int MFD_ALLOW_SEALING = 0x2;
    // sys/eventfd.h
    public static final int EFD_SEMAPHORE = 1;
    public static final int EFD_NONBLOCK = 04000;
    public static final int EFD_CLOEXEC = 02000000;
    // sys/epoll.h
    public static final int EPOLL_CLOEXEC = 02000000;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLPRI = 0x002;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLLRDHUP = 0x2000;
    /**
     * Edge-triggered. Every write to an eventfd wakes its waiters, so an eventfd watched with
     * EPOLLET reports each kick or interrupt once without a read(2) to reset the counter (a
     * 64-bit counter that one write at a time never fills).
     */
    public static final int EPOLLET = 1 << 31;
    // poll.h
    public static final short POLLIN = 0x001;
    public static final short POLLOUT = 0x004;
    public static final short POLLERR = 0x008;
    public static final short POLLHUP = 0x010;
    public static final short POLLNVAL = 0x020;
    // sys/socket.h
    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_SEQPACKET = 5;
    public static final int SOCK_NONBLOCK = 04000;
    public static final int SOCK_CLOEXEC = 02000000;
    public static final int SOL_SOCKET = 1;
    public static final int SCM_RIGHTS = 1;
    public static final int MSG_CTRUNC = 0x08;
    public static final int MSG_TRUNC = 0x20;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_EOR = 0x80;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int MSG_CMSG_CLOEXEC = 0x40000000;
    // linux/prctl.h
    public static final int PR_SET_PDEATHSIG = 1;
    public static final int PR_GET_DUMPABLE = 3;
    public static final int PR_SET_DUMPABLE = 4;
    public static final int PR_SET_NAME = 15;
    public static final int PR_GET_SECCOMP = 21;
    public static final int PR_SET_SECCOMP = 22;
    public static final int PR_SET_NO_NEW_PRIVS = 38;
    public static final int PR_GET_NO_NEW_PRIVS = 39;
    // signal.h, sys/wait.h
    public static final int SIGHUP = 1;
    public static final int SIGINT = 2;
    public static final int SIGKILL = 9;
    public static final int SIGTERM = 15;
    public static final int WNOHANG = 1;
    // sched.h
    public static final int CLONE_NEWNS = 0x00020000;
    public static final int CLONE_NEWNET = 0x40000000;

    private static final Linker.Option VARIADIC_AFTER_2 = Linker.Option.firstVariadicArg(2);

    // One holder class per downcall handle: a handle is linked on the first call that uses
    // it, not when LibC is loaded. Linking a handle spins classes and a native stub (tens of
    // ms on a real CPU, around a second under kvm-lab's emulator), and a process uses only
    // some of these calls. The handles stay static finals, constant to the JIT. A first use
    // after a privilege drop also works: linking opens no file and makes no call that
    // Seccomp.device denies (SpawnTest's drop child links setns after its drop).

    private static final class Open {
        static final MethodHandle H = Native.downcall("open",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), VARIADIC_AFTER_2);
    }
    private static final class Close {
        static final MethodHandle H = Native.downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class Read {
        static final MethodHandle H = Native.downcall("read",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Write {
        static final MethodHandle H = Native.downcall("write",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Readv {
        static final MethodHandle H = Native.downcall("readv",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Writev {
        static final MethodHandle H = Native.downcall("writev",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class IoctlLong {
        static final MethodHandle H = Native.downcall("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), VARIADIC_AFTER_2);
    }
    private static final class IoctlPtr {
        static final MethodHandle H = Native.downcall("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), VARIADIC_AFTER_2);
    }
    private static final class Mmap {
        static final MethodHandle H = Native.downcall("mmap",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    }
    private static final class Munmap {
        static final MethodHandle H = Native.downcall("munmap",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class MemfdCreate {
        static final MethodHandle H = Native.downcall("memfd_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Ftruncate {
        static final MethodHandle H = Native.downcall("ftruncate",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    }
    private static final class Flock {
        static final MethodHandle H = Native.downcall("flock",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Eventfd {
        static final MethodHandle H = Native.downcall("eventfd",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class EpollCreate1 {
        static final MethodHandle H = Native.downcall("epoll_create1",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class EpollCtl {
        static final MethodHandle H = Native.downcall("epoll_ctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class EpollWait {
        static final MethodHandle H = Native.downcall("epoll_wait",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    }
    private static final class Poll {
        static final MethodHandle H = Native.downcall("poll",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
    private static final class Fcntl {
        static final MethodHandle H = Native.downcall("fcntl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), VARIADIC_AFTER_2);
    }
    private static final class Socketpair {
        static final MethodHandle H = Native.downcall("socketpair",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class Socket {
        static final MethodHandle H = Native.downcall("socket",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Setsockopt {
        static final MethodHandle H = Native.downcall("setsockopt",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class SignalFn {
        static final MethodHandle H = Native.downcall("signal", FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS));
    }
    private static final class Accept4 {
        static final MethodHandle H = Native.downcall("accept4",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    }
    private static final class Connect {
        static final MethodHandle H = Native.downcall("connect",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Shutdown {
        static final MethodHandle H = Native.downcall("shutdown",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Sendmsg {
        static final MethodHandle H = Native.downcall("sendmsg",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Recvmsg {
        static final MethodHandle H = Native.downcall("recvmsg",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Prctl {
        static final MethodHandle H = Native.downcall("prctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
    }
    private static final class Syscall {
        static final MethodHandle H = Native.downcall("syscall",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
    }
    private static final class Getpid {
        static final MethodHandle H = Native.plainDowncall("getpid", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class Gettid {
        static final MethodHandle H = Native.plainDowncall("gettid", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class Kill {
        static final MethodHandle H = Native.downcall("kill",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Waitpid {
        static final MethodHandle H = Native.downcall("waitpid",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Setgroups {
        static final MethodHandle H = Native.downcall("setgroups",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
    }
    private static final class Setresgid {
        static final MethodHandle H = Native.downcall("setresgid",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Setresuid {
        static final MethodHandle H = Native.downcall("setresuid",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Chroot {
        static final MethodHandle H = Native.downcall("chroot", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }
    private static final class Chdir {
        static final MethodHandle H = Native.downcall("chdir", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }
    private static final class Setns {
        static final MethodHandle H = Native.downcall("setns",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }

    // ---- files ----

    /** {@code open(path, flags, mode)}; add {@link #O_CLOEXEC} yourself (every jvmd fd is close-on-exec). */
    public static Fd open(String path, int flags, int mode) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try (Arena a = Arena.ofConfined()) {
            r = (int) Open.H.invokeExact(st, a.allocateFrom(path), flags, mode);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Fd.adopt(Native.check(r, st, "open", path));
    }

    public static Fd open(String path, int flags) throws SysException {
        return open(path, flags | O_CLOEXEC, 0);
    }

    /** {@code close(fd)}; prefer {@link Fd#close()}. */
    public static void close(int fd) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Close.H.invokeExact(st, fd);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "close", fd);
    }

    static void closeQuietly(int fd) {
        try {
            int unused = (int) Close.H.invokeExact(Native.state(), fd);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code read}: bytes read, 0 at end of file, or {@code -errno}. */
    public static long tryRead(int fd, MemorySegment buf, long len) {
        checkLen(buf, len);
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Read.H.invokeExact(st, fd, buf, len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    /** {@code write}: bytes written or {@code -errno}. */
    public static long tryWrite(int fd, MemorySegment buf, long len) {
        checkLen(buf, len);
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Write.H.invokeExact(st, fd, buf, len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    /** {@code read}, retried on EINTR. */
    public static long read(int fd, MemorySegment buf, long len) throws SysException {
        long r;
        while ((r = tryRead(fd, buf, len)) == -Errno.EINTR) {
            // interrupted before any data: try again
        }
        return Native.check(r, "read");
    }

    /** {@code write}, retried on EINTR. */
    public static long write(int fd, MemorySegment buf, long len) throws SysException {
        long r;
        while ((r = tryWrite(fd, buf, len)) == -Errno.EINTR) {
            // interrupted before any data: try again
        }
        return Native.check(r, "write");
    }

    /** {@code readv} over the first {@link IoVec#count()} entries: bytes or {@code -errno}. */
    public static long tryReadv(int fd, IoVec iov) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Readv.H.invokeExact(st, fd, iov.segment(), iov.count());
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    /** {@code writev} over the first {@link IoVec#count()} entries: bytes or {@code -errno}. */
    public static long tryWritev(int fd, IoVec iov) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Writev.H.invokeExact(st, fd, iov.segment(), iov.count());
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    public static long readv(int fd, IoVec iov) throws SysException {
        long r;
        while ((r = tryReadv(fd, iov)) == -Errno.EINTR) {
            // interrupted before any data: try again
        }
        return Native.check(r, "readv");
    }

    public static long writev(int fd, IoVec iov) throws SysException {
        long r;
        while ((r = tryWritev(fd, iov)) == -Errno.EINTR) {
            // interrupted before any data: try again
        }
        return Native.check(r, "writev");
    }

    public static long writev(Fd fd, IoVec iov) throws SysException {
        return writev(fd.num(), iov);
    }

    // ---- ioctl ----

    /** {@code ioctl(fd, request, arg)} with an integer argument; the error names the request. */
    public static int ioctl(int fd, long request, long arg) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) IoctlLong.H.invokeExact(st, fd, request, arg);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.check(r, st, LibC::ioctlName, request);
    }

    /** {@code ioctl(fd, request, ptr)} with a pointer argument; the error names the request. */
    public static int ioctl(int fd, long request, MemorySegment arg) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) IoctlPtr.H.invokeExact(st, fd, request, arg);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.check(r, st, LibC::ioctlName, request);
    }

    /** {@code ioctl} with a pointer argument returning {@code -errno} instead of throwing (KVM_RUN's EINTR). */
    public static int tryIoctl(int fd, long request, MemorySegment arg) {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) IoctlPtr.H.invokeExact(st, fd, request, arg);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    // ---- memory ----

    /**
     * {@code mmap}; the result is a segment of {@code len} bytes with no lifetime of its own
     * (the caller unmaps it with {@link #munmap}, or reinterprets it into an arena).
     */
    @SuppressWarnings("restricted")
    public static MemorySegment mmap(long len, int prot, int flags, int fd, long offset) throws SysException {
        MemorySegment st = Native.state();
        MemorySegment r;
        try {
            r = (MemorySegment) Mmap.H.invokeExact(st, MemorySegment.NULL, len, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r.address() == -1L) { // MAP_FAILED
            throw new SysException("mmap", Native.errno(st));
        }
        return r.reinterpret(len);
    }

    public static void munmap(MemorySegment addr, long len) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Munmap.H.invokeExact(st, addr, len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "munmap");
    }

    /** {@code memfd_create(name, flags)}; pass {@link #MFD_CLOEXEC}. */
    public static Fd memfdCreate(String name, int flags) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try (Arena a = Arena.ofConfined()) {
            r = (int) MemfdCreate.H.invokeExact(st, a.allocateFrom(name), flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Fd.adopt(Native.check(r, st, "memfd_create", name));
    }

    public static void ftruncate(int fd, long len) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Ftruncate.H.invokeExact(st, fd, len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "ftruncate");
    }

    /** flock(2) operations (sys/file.h). */
    public static final int LOCK_SH = 1;
    public static final int LOCK_EX = 2;
    public static final int LOCK_NB = 4;
    public static final int LOCK_UN = 8;

    /**
     * flock(2): a whole-file lock on the open file description behind {@code fd} (shared by
     * its duplicates, also in other processes; released when the last of them closes).
     * With LOCK_NB a held conflicting lock fails with EWOULDBLOCK (EAGAIN).
     */
    public static void flock(int fd, int operation) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Flock.H.invokeExact(st, fd, operation);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "flock");
    }

    public static void flock(Fd fd, int operation) throws SysException {
        flock(fd.num(), operation);
    }

    // ---- events ----

    /** {@code eventfd(initval, flags)}; see {@link EventFd} for the counter. */
    public static Fd eventfd(int initval, int flags) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Eventfd.H.invokeExact(st, initval, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Fd.adopt(Native.check(r, st, "eventfd"));
    }

    public static Fd epollCreate1(int flags) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) EpollCreate1.H.invokeExact(st, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Fd.adopt(Native.check(r, st, "epoll_create1"));
    }

    /** {@code epoll_ctl}; {@code event} is a packed {@code struct epoll_event} (12 bytes) or NULL for DEL. */
    public static void epollCtl(int epfd, int op, int fd, MemorySegment event) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) EpollCtl.H.invokeExact(st, epfd, op, fd, event);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, LibC::epollCtlName, (long) op << 32 | fd & 0xffffffffL);
    }

    /** {@code epoll_wait}: number of ready events, or {@code -errno} (EINTR included). */
    public static int tryEpollWait(int epfd, MemorySegment events, int max, int timeoutMillis) {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) EpollWait.H.invokeExact(st, epfd, events, max, timeoutMillis);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    /** {@code poll}: number of ready entries or {@code -errno}. */
    public static int tryPoll(MemorySegment fds, long nfds, int timeoutMillis) {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Poll.H.invokeExact(st, fds, nfds, timeoutMillis);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    /**
     * Polls one descriptor: returns its {@code revents} (0 on timeout). EINTR is retried
     * with the full timeout again, which only lengthens a wait that was already bounded.
     */
    public static short poll(int fd, short events, int timeoutMillis) throws SysException {
        MemorySegment p = Native.scratch();
        while (true) {
            p.set(JAVA_INT, 0, fd);
            p.set(JAVA_SHORT, 4, events);
            p.set(JAVA_SHORT, 6, (short) 0);
            int r = tryPoll(p, 1, timeoutMillis);
            if (r == -Errno.EINTR) {
                continue;
            }
            if (r < 0) {
                throw new SysException("poll", -r);
            }
            return r == 0 ? 0 : p.get(JAVA_SHORT, 6);
        }
    }

    public static short poll(Fd fd, short events, int timeoutMillis) throws SysException {
        return poll(fd.num(), events, timeoutMillis);
    }

    // ---- descriptors ----

    /** {@code fcntl(fd, cmd, arg)}; {@code call} names it in an error, e.g. "fcntl(F_SETFL)". */
    public static int fcntl(int fd, int cmd, int arg, String call) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Fcntl.H.invokeExact(st, fd, cmd, arg);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.check(r, st, call);
    }

    public static int fcntl(Fd fd, int cmd, int arg, String call) throws SysException {
        return fcntl(fd.num(), cmd, arg, call);
    }

    /** Sets or clears O_NONBLOCK. */
    public static void setNonBlocking(int fd, boolean on) throws SysException {
        int fl = fcntl(fd, F_GETFL, 0, "fcntl(F_GETFL)");
        int want = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
        if (want != fl) {
            fcntl(fd, F_SETFL, want, "fcntl(F_SETFL)");
        }
    }

    public static void setNonBlocking(Fd fd, boolean on) throws SysException {
        setNonBlocking(fd.num(), on);
    }

    /** Sets or clears FD_CLOEXEC. */
    public static void setCloseOnExec(int fd, boolean on) throws SysException {
        int fl = fcntl(fd, F_GETFD, 0, "fcntl(F_GETFD)");
        int want = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
        if (want != fl) {
            fcntl(fd, F_SETFD, want, "fcntl(F_SETFD)");
        }
    }

    public static boolean isCloseOnExec(int fd) throws SysException {
        return (fcntl(fd, F_GETFD, 0, "fcntl(F_GETFD)") & FD_CLOEXEC) != 0;
    }

    // ---- sockets ----

    /** {@code socketpair(domain, type, protocol)}: two connected, owned descriptors. */
    public static Fd[] socketpair(int domain, int type, int protocol) throws SysException {
        MemorySegment st = Native.state();
        MemorySegment sv = Native.scratch();
        int r;
        try {
            r = (int) Socketpair.H.invokeExact(st, domain, type, protocol, sv);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "socketpair");
        return new Fd[] {Fd.adopt(sv.get(JAVA_INT, 0)), Fd.adopt(sv.get(JAVA_INT, 4))};
    }

    /** {@code socket(domain, type, protocol)}. */
    public static Fd socket(int domain, int type, int protocol) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Socket.H.invokeExact(st, domain, type, protocol);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Fd.adopt(Native.check(r, st, "socket"));
    }

    /** AF_INET / AF_INET6 (include/linux/socket.h). */
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    /** SOL_UDP = IPPROTO_UDP (include/uapi/linux/in.h). */
    public static final int SOL_UDP = 17;
    /** UDP_SEGMENT (include/uapi/linux/udp.h, Linux 4.18): the gso_size of UDP GSO sends. */
    public static final int UDP_SEGMENT = 103;

    /** {@code setsockopt(fd, level, name, &value, sizeof(int))} for an int-valued option. */
    public static void setsockopt(int fd, int level, int name, int value) throws SysException {
        MemorySegment v = Native.scratch();
        v.set(JAVA_INT, 0, value);
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Setsockopt.H.invokeExact(st, fd, level, name, v, 4);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "setsockopt");
    }

    public static void setsockopt(Fd fd, int level, int name, int value) throws SysException {
        setsockopt(fd.num(), level, name, value);
    }

    /**
     * {@code connect(fd, addr)} for an AF_INET or AF_INET6 socket: {@code struct sockaddr_in}
     * / {@code sockaddr_in6} (include/uapi/linux/in.h, in6.h; port and address in network order).
     */
    public static void connect(int fd, InetSocketAddress addr) throws SysException {
        byte[] ip = addr.getAddress().getAddress();
        MemorySegment sa = Native.scratch();
        sa.fill((byte) 0);
        int len;
        if (ip.length == 4) {
            sa.set(JAVA_SHORT, 0, (short) AF_INET);
            MemorySegment.copy(ip, 0, sa, JAVA_BYTE, 4, 4);
            len = 16;
        } else {
            sa.set(JAVA_SHORT, 0, (short) AF_INET6);
            MemorySegment.copy(ip, 0, sa, JAVA_BYTE, 8, 16);
            len = 28;
        }
        sa.set(JAVA_BYTE, 2, (byte) (addr.getPort() >>> 8));
        sa.set(JAVA_BYTE, 3, (byte) addr.getPort());
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Connect.H.invokeExact(st, fd, sa.asSlice(0, len), len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "connect");
    }

    public static void connect(Fd fd, InetSocketAddress addr) throws SysException {
        connect(fd.num(), addr);
    }

    /** sun_path's size in {@code struct sockaddr_un} (include/uapi/linux/un.h: UNIX_PATH_MAX). */
    public static final int UNIX_PATH_MAX = 108;

    /**
     * {@code connect(fd, addr)} for an AF_UNIX socket at {@code path}: {@code struct sockaddr_un}
     * (include/uapi/linux/un.h: sa_family_t sun_family, char sun_path[108], the path
     * NUL-terminated). A path of 108 bytes or more is ENAMETOOLONG.
     */
    public static void connect(Fd fd, java.nio.file.Path path) throws SysException {
        byte[] p = path.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (p.length >= UNIX_PATH_MAX) {
            throw new SysException("connect(" + path + ")", Errno.ENAMETOOLONG);
        }
        MemorySegment sa = Native.scratch();
        sa.fill((byte) 0);
        sa.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(p, 0, sa, JAVA_BYTE, 2, p.length);
        int len = 2 + p.length + 1;
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Connect.H.invokeExact(st, fd.num(), sa.asSlice(0, len), len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "connect(" + path + ")");
    }

    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;

    /** {@code shutdown(fd, how)}; on a listening socket it also wakes a thread blocked in accept. */
    public static void shutdown(int fd, int how) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Shutdown.H.invokeExact(st, fd, how);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "shutdown");
    }

    /**
     * Gives {@code sig} its default disposition ({@code signal(sig, SIG_DFL)}) and says whether
     * it was ignored before. A process started with a signal ignored (under nohup, or in the
     * background of a non-interactive shell: SIGHUP, SIGINT) inherits that, and the JVM then
     * refuses to handle it (HotSpot does not install its handler for a shutdown signal that
     * is ignored): a daemon that reloads on SIGHUP resets it first.
     */
    public static boolean signalDefault(int sig) throws SysException {
        MemorySegment st = Native.state();
        MemorySegment old;
        try {
            old = (MemorySegment) SignalFn.H.invokeExact(st, sig, MemorySegment.NULL); // SIG_DFL is 0
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (old.address() == -1L) { // SIG_ERR
            throw new SysException("signal(" + sig + ")", Native.errno(st));
        }
        return old.address() == 1L; // SIG_IGN
    }

    /**
     * {@code accept4(fd, NULL, NULL, flags)}: the next connection of a listening socket, owned.
     * Blocks (a platform thread: the call stays in native code); {@link #shutdown} of the
     * listening socket from another thread wakes it with EINVAL.
     */
    public static Fd accept4(Fd listening, int flags) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Accept4.H.invokeExact(st, listening.num(), MemorySegment.NULL, MemorySegment.NULL, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "accept4");
        return Fd.adopt(r);
    }

    /** {@code sendmsg}: bytes sent or {@code -errno}. */
    public static long trySendmsg(int fd, MemorySegment msghdr, int flags) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Sendmsg.H.invokeExact(st, fd, msghdr, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    /** {@code recvmsg}: bytes received or {@code -errno}. */
    public static long tryRecvmsg(int fd, MemorySegment msghdr, int flags) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Recvmsg.H.invokeExact(st, fd, msghdr, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.result(r, st);
    }

    // ---- processes and credentials ----

    /** {@code prctl(option, a2, a3, a4, a5)}; {@code call} names it in an error. */
    public static int prctl(int option, long a2, long a3, long a4, long a5, String call) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Prctl.H.invokeExact(st, option, a2, a3, a4, a5);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.check(r, st, call);
    }

    /** The raw {@code syscall(nr, a1, a2, a3)}; {@code call} names it in an error. */
    public static long syscall(long nr, long a1, long a2, long a3, String call) throws SysException {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Syscall.H.invokeExact(st, nr, a1, a2, a3);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.check(r, st, call);
    }

    public static int getpid() {
        try {
            return (int) Getpid.H.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int gettid() {
        try {
            return (int) Gettid.H.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void kill(int pid, int sig) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Kill.H.invokeExact(st, pid, sig);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "kill(" + pid + ", " + sig + ")");
    }

    /**
     * {@code waitpid(pid, &status, flags)}, retried on EINTR. Returns null when
     * {@link #WNOHANG} is given and the child has not changed state.
     */
    public static WaitStatus waitpid(int pid, int flags) throws SysException {
        MemorySegment st = Native.state();
        MemorySegment status = Native.scratch();
        while (true) {
            int r;
            try {
                r = (int) Waitpid.H.invokeExact(st, pid, status, flags);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r > 0) {
                return new WaitStatus(r, status.get(JAVA_INT, 0));
            }
            if (r == 0) {
                return null;
            }
            int e = Native.errno(st);
            if (e != Errno.EINTR) {
                throw new SysException("waitpid(" + pid + ")", e);
            }
        }
    }

    /** {@code setgroups(gids)}: glibc applies it to every thread of the process. */
    public static void setgroups(int[] gids) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment list = gids.length == 0 ? MemorySegment.NULL : a.allocateFrom(JAVA_INT, gids);
            r = (int) Setgroups.H.invokeExact(st, (long) gids.length, list);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "setgroups");
    }

    /** {@code setresgid}: glibc applies it to every thread of the process. */
    public static void setresgid(int rgid, int egid, int sgid) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Setresgid.H.invokeExact(st, rgid, egid, sgid);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "setresgid", rgid);
    }

    /** {@code setresuid}: glibc applies it to every thread of the process. */
    public static void setresuid(int ruid, int euid, int suid) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Setresuid.H.invokeExact(st, ruid, euid, suid);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "setresuid", ruid);
    }

    public static void chroot(String path) throws SysException {
        pathCall(Chroot.H, "chroot", path);
    }

    public static void chdir(String path) throws SysException {
        pathCall(Chdir.H, "chdir", path);
    }

    /** {@code setns(fd, nstype)}: moves the calling thread only (for a network namespace). */
    public static void setns(int fd, int nstype) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) Setns.H.invokeExact(st, fd, nstype);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "setns");
    }

    private static void pathCall(MethodHandle h, String name, String path) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try (Arena a = Arena.ofConfined()) {
            r = (int) h.invokeExact(st, a.allocateFrom(path));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, name, path);
    }

    /** The name of a failed ioctl, e.g. {@code ioctl(KVM_RUN)}. */
    private static String ioctlName(long request) {
        return "ioctl(" + Ioctls.name(request) + ")";
    }

    /** The name of a failed epoll_ctl from {@code op << 32 | fd}, e.g. {@code epoll_ctl(ADD, 7)}. */
    private static String epollCtlName(long opFd) {
        int op = (int) (opFd >>> 32);
        return "epoll_ctl(" + (op == EPOLL_CTL_ADD ? "ADD" : op == EPOLL_CTL_DEL ? "DEL" : "MOD") + ", " + (int) opFd + ")";
    }


    private static void checkLen(MemorySegment buf, long len) {
        if (len < 0 || len > buf.byteSize()) {
            throw new IndexOutOfBoundsException("length " + len + " outside a " + buf.byteSize() + "-byte buffer");
        }
    }
}
