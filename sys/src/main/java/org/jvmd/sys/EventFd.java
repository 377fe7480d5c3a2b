package org.jvmd.sys;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;

/**
 * eventfd(2): a 64-bit counter that {@link #signal} adds to and {@link #read} takes.
 * Used for KVM ioeventfds (guest kicks) and irqfds (interrupts).
 */
public final class EventFd implements AutoCloseable {
    private final Fd fd;

    public EventFd(Fd fd) {
        this.fd = fd;
    }

    /** A new close-on-exec eventfd, non-blocking if asked. */
    public static EventFd create(boolean nonBlocking) throws SysException {
        return new EventFd(LibC.eventfd(0, LibC.EFD_CLOEXEC | (nonBlocking ? LibC.EFD_NONBLOCK : 0)));
    }

    public Fd fd() {
        return fd;
    }

    /** Adds {@code n} to the counter (wakes a reader). */
    public void signal(long n) throws SysException {
        signal(fd, n);
    }

    public void signal() throws SysException {
        signal(1);
    }

    /**
     * Takes the counter: its value, or 0 if it was zero and the fd is non-blocking.
     * Blocks on a blocking fd until the counter is non-zero.
     */
    public long read() throws SysException {
        return read(fd);
    }

    /** {@link #signal(long)} on an eventfd received as a plain {@link Fd}. */
    public static void signal(Fd fd, long n) throws SysException {
        MemorySegment b = Native.scratch();
        b.set(JAVA_LONG, 0, n);
        long r = LibC.write(fd.num(), b, 8);
        if (r != 8) {
            throw new IllegalStateException("eventfd write of " + r + " bytes");
        }
    }

    /** {@link #read()} on an eventfd received as a plain {@link Fd}. */
    public static long read(Fd fd) throws SysException {
        int num = fd.num();
        MemorySegment b = Native.scratch();
        long r;
        while ((r = LibC.tryRead(num, b, 8)) == -Errno.EINTR) {
            // retry
        }
        if (r == -Errno.EAGAIN) {
            return 0;
        }
        if (r < 0) {
            throw new SysException("read(eventfd)", (int) -r);
        }
        return b.get(JAVA_LONG, 0);
    }

    @Override
    public void close() {
        fd.close();
    }
}
