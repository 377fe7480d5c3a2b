package org.jvmd.sys;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A file descriptor with one owner. {@link #close()} is idempotent and closes the number
 * exactly once; {@link #release()} hands the number over (e.g. to the kernel in a
 * SCM_RIGHTS message, or to another {@code Fd}) without closing it.
 *
 * <p>An {@code Fd} is not a lock: the owner must not close it while another thread is in
 * a call on its number.
 */
public final class Fd implements AutoCloseable {
    private static final int CLOSED = -1;
    private static final VarHandle NUM;

    static {
        try {
            NUM = MethodHandles.lookup().findVarHandle(Fd.class, "num", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // accessed through NUM
    private volatile int num;

    private Fd(int num) {
        this.num = num;
    }

    /** Takes ownership of an open descriptor number. */
    public static Fd adopt(int num) {
        if (num < 0) {
            throw new IllegalArgumentException("not a descriptor: " + num);
        }
        return new Fd(num);
    }

    /** The descriptor number; fails if this {@code Fd} was closed or released. */
    public int num() {
        int n = num;
        if (n == CLOSED) {
            throw new IllegalStateException("fd is closed");
        }
        return n;
    }

    /**
     * {@code /proc/self/fd/N}: opens or reads the open file through this descriptor, and
     * {@link java.nio.file.Files#readSymbolicLink} names it; valid while this {@code Fd} is open.
     */
    public java.nio.file.Path procPath() {
        return java.nio.file.Path.of("/proc/self/fd/" + num());
    }

    public boolean isOpen() {
        return num != CLOSED;
    }

    /** Gives up ownership: returns the number, which this object will no longer close. */
    public int release() {
        int n = (int) NUM.getAndSet(this, CLOSED);
        if (n == CLOSED) {
            throw new IllegalStateException("fd is closed");
        }
        return n;
    }

    /** A new descriptor for the same open file, close-on-exec. */
    public Fd dup() throws SysException {
        return adopt(LibC.fcntl(num(), LibC.F_DUPFD_CLOEXEC, 0, "fcntl(F_DUPFD_CLOEXEC)"));
    }

    /** Closes the descriptor once; later calls do nothing. */
    @Override
    public void close() {
        int n = (int) NUM.getAndSet(this, CLOSED);
        if (n != CLOSED) {
            // Linux releases the number even when close reports an error (EINTR, EIO):
            // retrying could close a number another thread just got.
            LibC.closeQuietly(n);
        }
    }

    /** Closes every open fd in {@code fds} (null entries allowed). */
    public static void closeAll(Iterable<Fd> fds) {
        for (Fd fd : fds) {
            if (fd != null) {
                fd.close();
            }
        }
    }

    @Override
    public String toString() {
        int n = num;
        return n == CLOSED ? "Fd(closed)" : "Fd(" + n + ")";
    }
}
