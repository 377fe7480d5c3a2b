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

/**
 * libc bindings, each named after its call. Every failure becomes a {@link SysException}
 * naming the call; the {@code try*} variants of hot-path calls instead return
 * {@code -errno}, so that EAGAIN on a non-blocking fd costs no exception.
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

    private static final MethodHandle OPEN = Native.downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), VARIADIC_AFTER_2);
    private static final MethodHandle CLOSE = Native.downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = Native.downcall("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = Native.downcall("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle READV = Native.downcall("readv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle WRITEV = Native.downcall("writev",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle IOCTL_LONG = Native.downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), VARIADIC_AFTER_2);
    private static final MethodHandle IOCTL_PTR = Native.downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), VARIADIC_AFTER_2);
    private static final MethodHandle MMAP = Native.downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = Native.downcall("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MEMFD_CREATE = Native.downcall("memfd_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = Native.downcall("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle EVENTFD = Native.downcall("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CREATE1 = Native.downcall("epoll_create1",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL = Native.downcall("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT = Native.downcall("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle POLL = Native.downcall("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle FCNTL = Native.downcall("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), VARIADIC_AFTER_2);
    private static final MethodHandle SOCKETPAIR = Native.downcall("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle SOCKET = Native.downcall("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SETSOCKOPT = Native.downcall("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CONNECT = Native.downcall("connect",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SHUTDOWN = Native.downcall("shutdown",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SENDMSG = Native.downcall("sendmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECVMSG = Native.downcall("recvmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle PRCTL = Native.downcall("prctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle SYSCALL = Native.downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle GETPID = Native.plainDowncall("getpid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETTID = Native.plainDowncall("gettid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle KILL = Native.downcall("kill",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle WAITPID = Native.downcall("waitpid",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SETGROUPS = Native.downcall("setgroups",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SETRESGID = Native.downcall("setresgid",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SETRESUID = Native.downcall("setresuid",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle CHROOT = Native.downcall("chroot", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle CHDIR = Native.downcall("chdir", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SETNS = Native.downcall("setns",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    // ---- files ----

    /** {@code open(path, flags, mode)}; add {@link #O_CLOEXEC} yourself (every jvmd fd is close-on-exec). */
    public static Fd open(String path, int flags, int mode) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try (Arena a = Arena.ofConfined()) {
            r = (int) OPEN.invokeExact(st, a.allocateFrom(path), flags, mode);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("open(" + path + ")", Native.errno(st));
        }
        return Fd.adopt(r);
    }

    public static Fd open(String path, int flags) throws SysException {
        return open(path, flags | O_CLOEXEC, 0);
    }

    /** {@code close(fd)}; prefer {@link Fd#close()}. */
    public static void close(int fd) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) CLOSE.invokeExact(st, fd);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("close(" + fd + ")", Native.errno(st));
        }
    }

    static void closeQuietly(int fd) {
        try {
            int unused = (int) CLOSE.invokeExact(Native.state(), fd);
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
            r = (long) READ.invokeExact(st, fd, buf, len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r < 0 ? -Native.errno(st) : r;
    }

    /** {@code write}: bytes written or {@code -errno}. */
    public static long tryWrite(int fd, MemorySegment buf, long len) {
        checkLen(buf, len);
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) WRITE.invokeExact(st, fd, buf, len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r < 0 ? -Native.errno(st) : r;
    }

    /** {@code read}, retried on EINTR. */
    public static long read(int fd, MemorySegment buf, long len) throws SysException {
        long r;
        while ((r = tryRead(fd, buf, len)) == -Errno.EINTR) {
            // interrupted before any data: try again
        }
        return check(r, "read");
    }

    /** {@code write}, retried on EINTR. */
    public static long write(int fd, MemorySegment buf, long len) throws SysException {
        long r;
        while ((r = tryWrite(fd, buf, len)) == -Errno.EINTR) {
            // interrupted before any data: try again
        }
        return check(r, "write");
    }

    /** {@code readv} over the first {@link IoVec#count()} entries: bytes or {@code -errno}. */
    public static long tryReadv(int fd, IoVec iov) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) READV.invokeExact(st, fd, iov.segment(), iov.count());
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r < 0 ? -Native.errno(st) : r;
    }

    /** {@code writev} over the first {@link IoVec#count()} entries: bytes or {@code -errno}. */
    public static long tryWritev(int fd, IoVec iov) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) WRITEV.invokeExact(st, fd, iov.segment(), iov.count());
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r < 0 ? -Native.errno(st) : r;
    }

    public static long readv(int fd, IoVec iov) throws SysException {
        long r;
        while ((r = tryReadv(fd, iov)) == -Errno.EINTR) {
            // interrupted before any data: try again
        }
        return check(r, "readv");
    }

    public static long writev(int fd, IoVec iov) throws SysException {
        long r;
        while ((r = tryWritev(fd, iov)) == -Errno.EINTR) {
            // interrupted before any data: try again
        }
        return check(r, "writev");
    }

    // ---- ioctl ----

    /** {@code ioctl(fd, request, arg)} with an integer argument; the error names the request. */
    public static int ioctl(int fd, long request, long arg) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) IOCTL_LONG.invokeExact(st, fd, request, arg);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("ioctl(" + Ioctls.name(request) + ")", Native.errno(st));
        }
        return r;
    }

    /** {@code ioctl(fd, request, ptr)} with a pointer argument; the error names the request. */
    public static int ioctl(int fd, long request, MemorySegment arg) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) IOCTL_PTR.invokeExact(st, fd, request, arg);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("ioctl(" + Ioctls.name(request) + ")", Native.errno(st));
        }
        return r;
    }

    /** {@code ioctl} with a pointer argument returning {@code -errno} instead of throwing (KVM_RUN's EINTR). */
    public static int tryIoctl(int fd, long request, MemorySegment arg) {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) IOCTL_PTR.invokeExact(st, fd, request, arg);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r < 0 ? -Native.errno(st) : r;
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
            r = (MemorySegment) MMAP.invokeExact(st, MemorySegment.NULL, len, prot, flags, fd, offset);
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
            r = (int) MUNMAP.invokeExact(st, addr, len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("munmap", Native.errno(st));
        }
    }

    /** {@code memfd_create(name, flags)}; pass {@link #MFD_CLOEXEC}. */
    public static Fd memfdCreate(String name, int flags) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try (Arena a = Arena.ofConfined()) {
            r = (int) MEMFD_CREATE.invokeExact(st, a.allocateFrom(name), flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("memfd_create(" + name + ")", Native.errno(st));
        }
        return Fd.adopt(r);
    }

    public static void ftruncate(int fd, long len) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) FTRUNCATE.invokeExact(st, fd, len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("ftruncate", Native.errno(st));
        }
    }

    // ---- events ----

    /** {@code eventfd(initval, flags)}; see {@link EventFd} for the counter. */
    public static Fd eventfd(int initval, int flags) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) EVENTFD.invokeExact(st, initval, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("eventfd", Native.errno(st));
        }
        return Fd.adopt(r);
    }

    public static Fd epollCreate1(int flags) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) EPOLL_CREATE1.invokeExact(st, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("epoll_create1", Native.errno(st));
        }
        return Fd.adopt(r);
    }

    /** {@code epoll_ctl}; {@code event} is a packed {@code struct epoll_event} (12 bytes) or NULL for DEL. */
    public static void epollCtl(int epfd, int op, int fd, MemorySegment event) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) EPOLL_CTL.invokeExact(st, epfd, op, fd, event);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("epoll_ctl(" + (op == EPOLL_CTL_ADD ? "ADD" : op == EPOLL_CTL_DEL ? "DEL" : "MOD")
                    + ", " + fd + ")", Native.errno(st));
        }
    }

    /** {@code epoll_wait}: number of ready events, or {@code -errno} (EINTR included). */
    public static int tryEpollWait(int epfd, MemorySegment events, int max, int timeoutMillis) {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) EPOLL_WAIT.invokeExact(st, epfd, events, max, timeoutMillis);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r < 0 ? -Native.errno(st) : r;
    }

    /** {@code poll}: number of ready entries or {@code -errno}. */
    public static int tryPoll(MemorySegment fds, long nfds, int timeoutMillis) {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) POLL.invokeExact(st, fds, nfds, timeoutMillis);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r < 0 ? -Native.errno(st) : r;
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

    // ---- descriptors ----

    /** {@code fcntl(fd, cmd, arg)}; {@code call} names it in an error, e.g. "fcntl(F_SETFL)". */
    public static int fcntl(int fd, int cmd, int arg, String call) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) FCNTL.invokeExact(st, fd, cmd, arg);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException(call, Native.errno(st));
        }
        return r;
    }

    /** Sets or clears O_NONBLOCK. */
    public static void setNonBlocking(int fd, boolean on) throws SysException {
        int fl = fcntl(fd, F_GETFL, 0, "fcntl(F_GETFL)");
        int want = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
        if (want != fl) {
            fcntl(fd, F_SETFL, want, "fcntl(F_SETFL)");
        }
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
            r = (int) SOCKETPAIR.invokeExact(st, domain, type, protocol, sv);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("socketpair", Native.errno(st));
        }
        return new Fd[] {Fd.adopt(sv.get(JAVA_INT, 0)), Fd.adopt(sv.get(JAVA_INT, 4))};
    }

    /** {@code socket(domain, type, protocol)}. */
    public static Fd socket(int domain, int type, int protocol) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) SOCKET.invokeExact(st, domain, type, protocol);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("socket", Native.errno(st));
        }
        return Fd.adopt(r);
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
            r = (int) SETSOCKOPT.invokeExact(st, fd, level, name, v, 4);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("setsockopt", Native.errno(st));
        }
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
            r = (int) CONNECT.invokeExact(st, fd, sa.asSlice(0, len), len);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("connect", Native.errno(st));
        }
    }

    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;

    /** {@code shutdown(fd, how)}; on a listening socket it also wakes a thread blocked in accept. */
    public static void shutdown(int fd, int how) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) SHUTDOWN.invokeExact(st, fd, how);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("shutdown", Native.errno(st));
        }
    }

    /** {@code sendmsg}: bytes sent or {@code -errno}. */
    public static long trySendmsg(int fd, MemorySegment msghdr, int flags) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) SENDMSG.invokeExact(st, fd, msghdr, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r < 0 ? -Native.errno(st) : r;
    }

    /** {@code recvmsg}: bytes received or {@code -errno}. */
    public static long tryRecvmsg(int fd, MemorySegment msghdr, int flags) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) RECVMSG.invokeExact(st, fd, msghdr, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r < 0 ? -Native.errno(st) : r;
    }

    // ---- processes and credentials ----

    /** {@code prctl(option, a2, a3, a4, a5)}; {@code call} names it in an error. */
    public static int prctl(int option, long a2, long a3, long a4, long a5, String call) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) PRCTL.invokeExact(st, option, a2, a3, a4, a5);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException(call, Native.errno(st));
        }
        return r;
    }

    /** The raw {@code syscall(nr, a1, a2, a3)}; {@code call} names it in an error. */
    public static long syscall(long nr, long a1, long a2, long a3, String call) throws SysException {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) SYSCALL.invokeExact(st, nr, a1, a2, a3);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException(call, Native.errno(st));
        }
        return r;
    }

    public static int getpid() {
        try {
            return (int) GETPID.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int gettid() {
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void kill(int pid, int sig) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) KILL.invokeExact(st, pid, sig);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("kill(" + pid + ", " + sig + ")", Native.errno(st));
        }
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
                r = (int) WAITPID.invokeExact(st, pid, status, flags);
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
            r = (int) SETGROUPS.invokeExact(st, (long) gids.length, list);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("setgroups", Native.errno(st));
        }
    }

    /** {@code setresgid}: glibc applies it to every thread of the process. */
    public static void setresgid(int rgid, int egid, int sgid) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) SETRESGID.invokeExact(st, rgid, egid, sgid);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("setresgid(" + rgid + ")", Native.errno(st));
        }
    }

    /** {@code setresuid}: glibc applies it to every thread of the process. */
    public static void setresuid(int ruid, int euid, int suid) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) SETRESUID.invokeExact(st, ruid, euid, suid);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("setresuid(" + ruid + ")", Native.errno(st));
        }
    }

    public static void chroot(String path) throws SysException {
        pathCall(CHROOT, "chroot", path);
    }

    public static void chdir(String path) throws SysException {
        pathCall(CHDIR, "chdir", path);
    }

    /** {@code setns(fd, nstype)}: moves the calling thread only (for a network namespace). */
    public static void setns(int fd, int nstype) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) SETNS.invokeExact(st, fd, nstype);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException("setns", Native.errno(st));
        }
    }

    private static void pathCall(MethodHandle h, String name, String path) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try (Arena a = Arena.ofConfined()) {
            r = (int) h.invokeExact(st, a.allocateFrom(path));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r < 0) {
            throw new SysException(name + "(" + path + ")", Native.errno(st));
        }
    }

    private static long check(long r, String call) throws SysException {
        if (r < 0) {
            throw new SysException(call, (int) -r);
        }
        return r;
    }

    private static void checkLen(MemorySegment buf, long len) {
        if (len < 0 || len > buf.byteSize()) {
            throw new IndexOutOfBoundsException("length " + len + " outside a " + buf.byteSize() + "-byte buffer");
        }
    }
}
