package org.jvmd.sys.proc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import org.jvmd.sys.Native;
import org.jvmd.sys.SysException;

/**
 * posix_spawn(3) with file actions: the only way jvmd starts a process, because it must
 * place a descriptor at a fixed number in the child (Java's ProcessBuilder cannot).
 * The posix_spawn* calls return an error number instead of setting errno.
 */
final class PosixSpawn {
    private PosixSpawn() {}

    /** glibc x86_64: sizeof(posix_spawn_file_actions_t) = 80, sizeof(posix_spawnattr_t) = 336; rounded up. */
    private static final long FILE_ACTIONS_BYTES = 128;
    private static final long ATTR_BYTES = 512;
    private static final long SIGSET_BYTES = 128;
    /** spawn.h */
    private static final short POSIX_SPAWN_SETSIGDEF = 0x04;
    private static final short POSIX_SPAWN_SETSIGMASK = 0x08;

    private static final MethodHandle FA_INIT = fn("posix_spawn_file_actions_init", ADDRESS);
    private static final MethodHandle FA_DESTROY = fn("posix_spawn_file_actions_destroy", ADDRESS);
    private static final MethodHandle FA_ADDDUP2 = fn("posix_spawn_file_actions_adddup2", ADDRESS, JAVA_INT, JAVA_INT);
    private static final MethodHandle FA_ADDCLOSEFROM = fn("posix_spawn_file_actions_addclosefrom_np", ADDRESS, JAVA_INT);
    private static final MethodHandle ATTR_INIT = fn("posix_spawnattr_init", ADDRESS);
    private static final MethodHandle ATTR_DESTROY = fn("posix_spawnattr_destroy", ADDRESS);
    private static final MethodHandle ATTR_SETFLAGS = fn("posix_spawnattr_setflags", ADDRESS, JAVA_SHORT);
    private static final MethodHandle ATTR_SETSIGMASK = fn("posix_spawnattr_setsigmask", ADDRESS, ADDRESS);
    private static final MethodHandle ATTR_SETSIGDEFAULT = fn("posix_spawnattr_setsigdefault", ADDRESS, ADDRESS);
    private static final MethodHandle SIGEMPTYSET = fn("sigemptyset", ADDRESS);
    private static final MethodHandle SIGFILLSET = fn("sigfillset", ADDRESS);
    private static final MethodHandle SPAWN = fn("posix_spawn", ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);

    private static MethodHandle fn(String name, java.lang.foreign.MemoryLayout... args) {
        return Native.plainDowncall(name, FunctionDescriptor.of(JAVA_INT, args));
    }

    /**
     * Starts {@code path} with {@code argv} and {@code envp}. Each {@code dup2[i] = {from, to}}
     * is applied in the child, then every descriptor from {@code closeFrom} up is closed
     * (so nothing the parent forgot to mark close-on-exec leaks), and all signal
     * dispositions and the signal mask are reset. Returns the child's pid.
     */
    static int spawn(String path, List<String> argv, List<String> envp, int[][] dup2, int closeFrom)
            throws SysException {
        return spawn(path, argv, envp, dup2, closeFrom, false);
    }

    /**
     * As above; {@code idle}: the child starts at {@link Sched#SCHED_IDLE}, so that each thread
     * and child it makes is idle too. glibc's posix_spawnattr_setschedpolicy takes only the
     * POSIX policies, not SCHED_IDLE; a child takes its policy from the thread that spawns it,
     * so a thread of its own, made idle first, spawns it (and ends: no thread of the caller's
     * changes policy, and none needs the privilege to change back).
     */
    static int spawn(String path, List<String> argv, List<String> envp, int[][] dup2, int closeFrom, boolean idle)
            throws SysException {
        if (!idle) {
            return spawnHere(path, argv, envp, dup2, closeFrom);
        }
        FutureTask<Integer> task = new FutureTask<>(() -> {
            Sched.setPolicy(0, Sched.SCHED_IDLE);
            return spawnHere(path, argv, envp, dup2, closeFrom);
        });
        Thread.ofPlatform().name("spawn-idle").start(task);
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return task.get();   // not given up on an interrupt: the pid would be lost
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof SysException se) {
                        throw se;
                    }
                    if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    }
                    throw new IllegalStateException(e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static int spawnHere(String path, List<String> argv, List<String> envp, int[][] dup2, int closeFrom)
            throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fa = a.allocate(FILE_ACTIONS_BYTES, 16);
            MemorySegment attr = a.allocate(ATTR_BYTES, 16);
            MemorySegment sigs = a.allocate(SIGSET_BYTES, 16);
            check((int) FA_INIT.invokeExact(fa), "posix_spawn_file_actions_init");
            try {
                check((int) ATTR_INIT.invokeExact(attr), "posix_spawnattr_init");
                try {
                    for (int[] d : dup2) {
                        check((int) FA_ADDDUP2.invokeExact(fa, d[0], d[1]), "posix_spawn_file_actions_adddup2");
                    }
                    check((int) FA_ADDCLOSEFROM.invokeExact(fa, closeFrom), "posix_spawn_file_actions_addclosefrom_np");
                    check((int) SIGEMPTYSET.invokeExact(sigs), "sigemptyset");
                    check((int) ATTR_SETSIGMASK.invokeExact(attr, sigs), "posix_spawnattr_setsigmask");
                    check((int) SIGFILLSET.invokeExact(sigs), "sigfillset");
                    check((int) ATTR_SETSIGDEFAULT.invokeExact(attr, sigs), "posix_spawnattr_setsigdefault");
                    check((int) ATTR_SETFLAGS.invokeExact(attr, (short) (POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)),
                            "posix_spawnattr_setflags");
                    MemorySegment pid = a.allocate(JAVA_INT);
                    int r = (int) SPAWN.invokeExact(pid, a.allocateFrom(path), fa, attr,
                            strings(a, argv), strings(a, envp));
                    if (r != 0) {
                        throw new SysException("posix_spawn(" + path + ")", r);
                    }
                    return pid.get(JAVA_INT, 0);
                } finally {
                    int unused = (int) ATTR_DESTROY.invokeExact(attr);
                }
            } finally {
                int unused = (int) FA_DESTROY.invokeExact(fa);
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** A NULL-terminated {@code char *[]}. */
    private static MemorySegment strings(Arena a, List<String> list) {
        MemorySegment arr = a.allocate(ADDRESS, list.size() + 1);
        for (int i = 0; i < list.size(); i++) {
            arr.setAtIndex(ADDRESS, i, a.allocateFrom(list.get(i)));
        }
        arr.setAtIndex(ADDRESS, list.size(), MemorySegment.NULL);
        return arr;
    }

    private static void check(int r, String call) throws SysException {
        if (r != 0) {
            throw new SysException(call, r);
        }
    }
}
