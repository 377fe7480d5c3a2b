package org.jvmd.sys.proc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Native;
import org.jvmd.sys.SysException;

/**
 * Scheduling policies of whole processes (sched(7)). Linux sets a policy per thread, and a new
 * thread or child takes its creator's: a process spawned at {@link #SCHED_IDLE} ({@link
 * Spawner#idle}) runs every thread it ever makes, and every child, at that policy until
 * {@link #normal} gives the tree its ordinary policy back.
 */
public final class Sched {
    private Sched() {}

    /** The default time-sharing policy (sched.h). */
    public static final int SCHED_OTHER = 0;
    /** Runs only when no other thread of the CPU wants it (sched.h). */
    public static final int SCHED_IDLE = 5;

    private static final MethodHandle GET = Native.downcall("sched_getscheduler",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle SET = Native.downcall("sched_setscheduler",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));

    /** Thread {@code tid}'s policy ({@link #SCHED_OTHER}, {@link #SCHED_IDLE}, ...). */
    public static int policy(int tid) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) GET.invokeExact(st, tid);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return Native.check(r, st, "sched_getscheduler", tid);
    }

    /** Sets thread {@code tid}'s policy (0: the calling thread's), priority 0 (the only one of OTHER and IDLE). */
    public static void setPolicy(int tid, int policy) throws SysException {
        MemorySegment st = Native.state();
        MemorySegment param = Native.scratch();
        param.set(JAVA_INT, 0, 0);   // struct sched_param { int sched_priority; }
        int r;
        try {
            r = (int) SET.invokeExact(st, tid, policy, param);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Native.check(r, st, "sched_setscheduler", tid);
    }

    /**
     * Gives every thread of process {@code pid} and of all its descendants that runs at
     * {@link #SCHED_IDLE} the ordinary policy ({@link #SCHED_OTHER}). A thread an idle one
     * creates meanwhile is idle too: the tree is walked again until a walk finds none left (a
     * thread or process that ends meanwhile is skipped). Returns the threads changed. Needs
     * CAP_SYS_NICE, or the threads' own user within RLIMIT_NICE.
     */
    public static int normal(int pid) throws SysException {
        int total = 0;
        for (int walk = 0; ; walk++) {
            int changed = 0;
            for (int tid : threadsOfTree(pid)) {
                try {
                    if (policy(tid) == SCHED_IDLE) {
                        setPolicy(tid, SCHED_OTHER);
                        changed++;
                    }
                } catch (SysException e) {
                    if (e.errno() != Errno.ESRCH) {
                        throw e;
                    }
                }
            }
            total += changed;
            if (changed == 0) {
                return total;
            }
            if (walk == 100) {
                throw new SysException("sched_setscheduler: process " + pid + " keeps making idle threads", Errno.EAGAIN);
            }
        }
    }

    /** The thread ids of {@code pid} and of its descendants (none once it has ended). */
    static List<Integer> threadsOfTree(int pid) {
        List<Integer> out = new ArrayList<>();
        List<Integer> procs = new ArrayList<>(List.of(pid));
        for (int i = 0; i < procs.size(); i++) {
            for (int tid : threads(procs.get(i))) {
                out.add(tid);
                for (String c : read(Path.of("/proc", Integer.toString(procs.get(i)), "task", Integer.toString(tid), "children")).split(" ")) {
                    if (!c.isBlank()) {
                        procs.add(Integer.parseInt(c.strip()));
                    }
                }
            }
        }
        return out;
    }

    private static List<Integer> threads(int pid) {
        try (Stream<Path> s = Files.list(Path.of("/proc", Integer.toString(pid), "task"))) {
            return s.map(p -> Integer.parseInt(p.getFileName().toString())).toList();
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A thread's children, or "" once the thread has ended (its /proc files vanish or fail with ESRCH). */
    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }
}
