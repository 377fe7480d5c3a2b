package org.jvmd.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * What a process that shed its privileges looks like from outside, read from
 * {@code /proc/PID/task/TID/status} and {@code /proc/PID/root}: every thread runs as the
 * unprivileged user (real, effective, saved and fs uid and gid), with no_new_privs and a
 * seccomp filter (mode 2), at the ordinary scheduling policy, chrooted in an empty directory.
 */
public final class Dropped {
    private Dropped() {}

    /** The uid and gid of {@code user} from /etc/passwd, or null when there is no such user. */
    public static int[] ids(String user) throws IOException {
        for (String l : Files.readAllLines(Path.of("/etc/passwd"))) {
            String[] f = l.split(":");
            if (f.length > 3 && f[0].equals(user)) {
                return new int[] {Integer.parseInt(f[2]), Integer.parseInt(f[3])};
            }
        }
        return null;
    }

    /** sched.h: the ordinary policy, and the one of vmd's warm pool before a member is given its VM. */
    public static final int SCHED_OTHER = 0;
    public static final int SCHED_IDLE = 5;

    /**
     * The scheduling policy of each thread of {@code pid} (field 41 of
     * {@code /proc/PID/task/TID/stat}), by thread id; threads that end meanwhile are left out.
     */
    public static java.util.Map<Integer, Integer> policies(long pid) throws IOException {
        java.util.Map<Integer, Integer> m = new java.util.TreeMap<>();
        List<Path> tasks;
        try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/task"))) {
            tasks = s.toList();
        }
        for (Path t : tasks) {
            String stat;
            try {
                stat = Files.readString(t.resolve("stat"));
            } catch (IOException e) {
                continue; // a thread that ended meanwhile
            }
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            m.put(Integer.parseInt(t.getFileName().toString()), Integer.parseInt(f[41 - 3]));
        }
        return m;
    }

    /**
     * Asserts that every thread of {@code pid} runs as {@code user}, non-root, with
     * NoNewPrivs 1 and Seccomp 2, at the ordinary scheduling policy (SCHED_OTHER: a vmm-proc
     * from vmd's warm pool, spawned at SCHED_IDLE, is given it with its VM), and that the process's root directory is {@code root}, an
     * empty directory.
     */
    public static void assertDropped(long pid, String user, Path root) throws IOException {
        int[] ids = ids(user);
        assertTrue(ids != null, "no user " + user);
        assertNotEquals(0, ids[0], user + " is root");
        assertNotEquals(0, ids[1], user + "'s group is root");
        String uid = "Uid:\t" + ids[0] + "\t" + ids[0] + "\t" + ids[0] + "\t" + ids[0];
        String gid = "Gid:\t" + ids[1] + "\t" + ids[1] + "\t" + ids[1] + "\t" + ids[1];
        List<Path> tasks = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/task"))) {
            s.forEach(tasks::add);
        }
        assertFalse(tasks.isEmpty(), "process " + pid + " has no threads");
        int seen = 0;
        for (Path t : tasks) {
            List<String> status;
            try {
                status = Files.readAllLines(t.resolve("status"));
            } catch (NoSuchFileException e) {
                continue; // a thread that ended meanwhile
            }
            String what = "thread " + t.getFileName() + " of " + pid + ": " + status;
            assertTrue(status.contains(uid), what);
            assertTrue(status.contains(gid), what);
            assertTrue(status.contains("NoNewPrivs:\t1"), what);
            assertTrue(status.contains("Seccomp:\t2"), what);
            assertTrue(status.contains("CapEff:\t0000000000000000"), what);
            assertTrue(status.contains("CapPrm:\t0000000000000000"), what);
            seen++;
        }
        assertTrue(seen > 0, "process " + pid + ": no thread's status could be read");
        java.util.Map<Integer, Integer> policies = policies(pid);
        assertTrue(policies.values().stream().allMatch(p -> p == SCHED_OTHER),
                "every thread of " + pid + " at SCHED_OTHER (0): " + policies);
        assertEquals(root, Files.readSymbolicLink(Path.of("/proc/" + pid + "/root")), "root directory of " + pid);
        try (Stream<Path> s = Files.list(root)) {
            assertEquals(List.of(), s.toList(), "the chroot " + root + " is empty");
        }
    }
}
