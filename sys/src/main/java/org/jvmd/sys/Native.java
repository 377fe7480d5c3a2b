package org.jvmd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.function.LongFunction;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;

/**
 * The FFM plumbing under every binding of this module: libc lookup, downcall handles that
 * capture errno, and a per-thread capture buffer so that a call allocates nothing.
 *
 * <p>Every handle made by {@link #downcall} takes the capture segment as its first
 * argument: {@code r = (int) H.invokeExact(st = Native.state(), fd, ...)}, then
 * {@link #check} (a {@link SysException} naming the call) or {@link #result} ({@code -errno},
 * for the {@code try*} calls). Handles are created once, in static finals.
 */
@SuppressWarnings("restricted")
public final class Native {
    public static final Linker LINKER = Linker.nativeLinker();
    /** glibc, as linked into the JVM. */
    public static final SymbolLookup LIBC = LINKER.defaultLookup();

    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** Per-thread errno capture buffer and a small scratch area for by-reference arguments. */
    private static final ThreadLocal<PerThread> PER_THREAD = ThreadLocal.withInitial(PerThread::new);

    private Native() {}

    private static final class PerThread {
        final MemorySegment state;
        final MemorySegment scratch;

        PerThread() {
            Arena arena = Arena.ofAuto();
            state = arena.allocate(CAPTURE);
            scratch = arena.allocate(SCRATCH_BYTES, 16);
        }
    }

    /** Size of {@link #scratch()}. */
    public static final int SCRATCH_BYTES = 256;

    /** Finds a libc symbol; a missing one is a broken platform, not a runtime condition. */
    public static MemorySegment symbol(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
    }

    /** A downcall to libc's {@code name} that captures errno (first argument: {@link #state()}). */
    public static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... options) {
        Linker.Option[] all = new Linker.Option[options.length + 1];
        all[0] = CAPTURE_ERRNO;
        System.arraycopy(options, 0, all, 1, options.length);
        return LINKER.downcallHandle(symbol(name), fd, all);
    }

    /** A downcall to libc's {@code name} without errno capture (calls that cannot fail). */
    public static MethodHandle plainDowncall(String name, FunctionDescriptor fd, Linker.Option... options) {
        return LINKER.downcallHandle(symbol(name), fd, options);
    }

    /** This thread's errno capture buffer. */
    public static MemorySegment state() {
        return PER_THREAD.get().state;
    }

    /** This thread's {@value #SCRATCH_BYTES}-byte scratch buffer, for out-parameters of one call. */
    public static MemorySegment scratch() {
        return PER_THREAD.get().scratch;
    }

    /** The errno captured into {@code state} by the last call. */
    public static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /**
     * The one result check of a downcall that returns -1 and sets errno: {@code r}, or a
     * {@link SysException} naming {@code call} with the errno captured in {@code state}.
     */
    public static int check(int r, MemorySegment state, String call) throws SysException {
        if (r < 0) {
            throw new SysException(call, errno(state));
        }
        return r;
    }

    /** {@link #check(int, MemorySegment, String)} for calls returning {@code ssize_t}/{@code long}. */
    public static long check(long r, MemorySegment state, String call) throws SysException {
        if (r < 0) {
            throw new SysException(call, errno(state));
        }
        return r;
    }

    /** {@link #check(int, MemorySegment, String)} naming the call {@code call(arg)}, a name built only on failure. */
    public static int check(int r, MemorySegment state, String call, Object arg) throws SysException {
        if (r < 0) {
            throw new SysException(call + "(" + arg + ")", errno(state));
        }
        return r;
    }

    /**
     * {@link #check(int, MemorySegment, String)} naming the call {@code name.apply(arg)}, built
     * only on failure (an ioctl's request name is a reflective lookup; hot calls allocate nothing).
     */
    public static int check(int r, MemorySegment state, LongFunction<String> name, long arg) throws SysException {
        if (r < 0) {
            throw new SysException(name.apply(arg), errno(state));
        }
        return r;
    }

    /** The result of the {@code try*} calls: {@code r}, or {@code -errno} (EAGAIN and EINTR cost no exception). */
    public static int result(int r, MemorySegment state) {
        return r < 0 ? -errno(state) : r;
    }

    /** {@link #result(int, MemorySegment)} for calls returning {@code ssize_t}/{@code long}. */
    public static long result(long r, MemorySegment state) {
        return r < 0 ? -errno(state) : r;
    }

    /** The check of a {@code try*} call's result: {@code r}, or the {@link SysException} of errno {@code -r}. */
    public static long check(long r, String call) throws SysException {
        if (r < 0) {
            throw new SysException(call, (int) -r);
        }
        return r;
    }

    /** Wraps what a downcall handle threw (only linkage bugs can get here). */
    public static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed", t);
    }

    private static volatile POSIX posix;

    /** jnr-posix, for vmd's file calls (chmod, chown of the control socket). */
    public static POSIX posix() {
        POSIX p = posix;
        if (p == null) {
            p = POSIXFactory.getNativePOSIX();
            posix = p;
        }
        return p;
    }

    /** Forces this class's handles and this thread's buffers into existence (before a privilege drop). */
    public static void preload() {
        state();
    }
}
