package org.jvmd.sys.kvm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import org.jvmd.sys.Errno;
import org.jvmd.sys.LibC;
import org.jvmd.sys.Native;
import org.jvmd.sys.SysException;

/**
 * The signal that knocks a vCPU thread out of KVM_RUN (api.rst, "immediate_exit": "the
 * recommended way to do this is to set immediate_exit and then send a signal").
 *
 * <p>The signal is {@code SIGRTMIN+3}, which the JVM does not use. Its handler must exist
 * (an ignored signal would not interrupt the ioctl) and must do nothing; it is glibc's
 * {@code getpid}, a plain system call that is async-signal-safe and ignores its argument.
 * No Java code ever runs in signal context. Installed without SA_RESTART so that KVM_RUN
 * returns EINTR.
 */
public final class VcpuKick {
    /** SYS_tgkill on x86-64 (arch/x86/entry/syscalls/syscall_64.tbl). */
    private static final long SYS_TGKILL = 234;
    // glibc's struct sigaction on x86-64: handler at 0, sa_mask (128 bytes) at 8, sa_flags at 136, sa_restorer at 144.
    private static final int SIGACTION_BYTES = 152;
    private static final int OFF_FLAGS = 136;

    private static final MethodHandle SIGACTION = Native.downcall("sigaction",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SIGRTMIN = Native.plainDowncall("__libc_current_sigrtmin",
            FunctionDescriptor.of(JAVA_INT));

    /** The kick signal number. */
    public static final int SIGNAL = sigrtmin() + 3;

    private static volatile boolean installed;

    private VcpuKick() {
    }

    private static int sigrtmin() {
        try {
            return (int) SIGRTMIN.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Installs the no-op handler for {@link #SIGNAL} (once per process; later calls return at once). */
    public static synchronized void install() throws SysException {
        if (installed) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment act = a.allocate(SIGACTION_BYTES, 8);
            act.set(JAVA_LONG, 0, Native.symbol("getpid").address());
            act.set(JAVA_INT, OFF_FLAGS, 0); // no SA_RESTART, empty mask
            MemorySegment st = Native.state();
            int r;
            try {
                r = (int) SIGACTION.invokeExact(st, SIGNAL, act, MemorySegment.NULL);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            Native.check(r, st, "sigaction(SIGRTMIN+3)");
        }
        installed = true;
    }

    /** Sends the kick signal to thread {@code tid} of this process; false if that thread is gone. */
    public static boolean signal(int tid) throws SysException {
        try {
            LibC.syscall(SYS_TGKILL, LibC.getpid(), tid, SIGNAL, "tgkill");
            return true;
        } catch (SysException e) {
            if (e.errno() == Errno.ESRCH) {
                return false;
            }
            throw e;
        }
    }
}
