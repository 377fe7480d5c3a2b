package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/**
 * A process spawned at SCHED_IDLE (vmd's warm pool) runs every thread and every child at it,
 * and {@link Sched#normal} gives the whole tree the ordinary policy back, on real processes.
 */
class SchedTest {
    private static Map<Integer, Integer> policies(int pid) throws SysException {
        Map<Integer, Integer> m = new TreeMap<>();
        for (int tid : Sched.threadsOfTree(pid)) {
            m.put(tid, Sched.policy(tid));
        }
        return m;
    }

    private static void awaitThreads(int pid, int n) throws InterruptedException {
        for (long end = System.nanoTime() + 30_000_000_000L; Sched.threadsOfTree(pid).size() < n; Thread.sleep(20)) {
            assertTrue(System.nanoTime() < end, "process " + pid + " has " + Sched.threadsOfTree(pid) + ", not " + n + " threads");
        }
    }

    private static void killTree(int pid) throws SysException {
        List<Integer> all = new ArrayList<>(Sched.threadsOfTree(pid));
        for (int p : all) {
            try {
                LibC.kill(p, 9);
            } catch (SysException gone) {
                // a thread id, or ended
            }
        }
        LibC.waitpid(pid, 0);
    }

    @Test
    void aShellSpawnedIdleRunsItsChildrenIdleUntilTheTreeIsMadeOrdinary() throws Exception {
        int pid = PosixSpawn.spawn("/bin/sh", List.of("sh", "-c", "sleep 60 & sleep 60 & wait"), List.of("PATH=/usr/bin:/bin"),
                new int[0][], 3, true);
        try {
            awaitThreads(pid, 3);
            Map<Integer, Integer> before = policies(pid);
            assertEquals(3, before.size(), before.toString());
            assertTrue(before.values().stream().allMatch(p -> p == Sched.SCHED_IDLE), "all idle: " + before);
            assertEquals(3, Sched.normal(pid));
            Map<Integer, Integer> after = policies(pid);
            assertEquals(before.keySet(), after.keySet());
            assertTrue(after.values().stream().allMatch(p -> p == Sched.SCHED_OTHER), "all ordinary: " + after);
            assertEquals(0, Sched.normal(pid), "nothing left to change");
        } finally {
            killTree(pid);
        }
    }

    @Test
    void aJvmSpawnedIdleRunsEveryThreadIdleUntilItIsMadeOrdinary() throws Exception {
        Child c = Spawner.java("testchild", SysTestChild.class.getName()).jvmOptions("-XX:TieredStopAtLevel=1")
                .args("pass").output(java.nio.file.Path.of("target", "sched-idle.log")).idle().spawn();
        try {
            awaitThreads(c.pid(), 8);   // the JVM's own threads: GC, compiler, signal, reference handler...
            Map<Integer, Integer> before = policies(c.pid());
            assertTrue(before.values().stream().allMatch(p -> p == Sched.SCHED_IDLE), "all idle: " + before);
            assertTrue(Sched.normal(c.pid()) > 0, "idle threads were made ordinary");
            Map<Integer, Integer> after = policies(c.pid());
            assertTrue(after.values().stream().allMatch(p -> p == Sched.SCHED_OTHER), "all ordinary: " + after);
        } finally {
            c.kill();
        }
    }

    @Test
    void aChildSpawnedAsUsualIsOrdinaryAndAGoneProcessHasNothingToChange() throws Exception {
        int pid = PosixSpawn.spawn("/bin/sleep", List.of("sleep", "60"), List.of(), new int[0][], 3);
        try {
            awaitThreads(pid, 1);
            assertEquals(Map.of(pid, Sched.SCHED_OTHER), policies(pid));
            assertEquals(0, Sched.normal(pid));
        } finally {
            killTree(pid);
        }
        assertEquals(List.of(), Sched.threadsOfTree(pid));
        assertEquals(0, Sched.normal(pid));
    }
}
