package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.testkit.Dropped;
import org.jvmd.testkit.RequiresRoot;

/**
 * vmd's warm pool ({@code vmd --warm-pool K}) with real processes on this host: K vmm-procs
 * waiting as vmd's children, holding nothing but their channel and their spare vionet-proc's
 * (which holds nothing either), none of them dropped yet, every thread of both at SCHED_IDLE; a killed
 * one replaced; the same ones kept over a reload; none left when vmd stops; a start taking one and failing exactly as a start
 * with a vmm-proc of its own fails (the host has no KVM: vmd opens /dev/null in its place,
 * -Djvmd.kvmDevice, and vmm-proc refuses the kernel); and vmd with the pool off spawning none.
 * That a pool child given a real guest drops like every child is {@link VmdLabTest}'s check.
 */
@RequiresRoot
class VmdWarmPoolTest {
    static final List<String> NO_KVM = List.of("-Djvmd.kvmDevice=/dev/null");
    static final String JAVA_HOME = Path.of(System.getProperty("java.home")).toString() + "/";

    @TempDir
    Path dir;

    /** vm.conf with one VM, "web", whose kernel (in {@code d}) vmm-proc refuses. */
    static String conf(Path d) throws IOException {
        Files.writeString(d.resolve("bzImage"), "not a kernel");
        return "vm \"web\" {\n  boot \"bzImage\"\n  disable\n}\n";
    }

    /**
     * vmd's {@code n} waiting vmm-procs, once there are {@code n} and vmd has each in its pool
     * (its log says so once the spawn returned; the process shows a little earlier).
     */
    static List<Long> awaitPool(VmdProcess vmd, int n, String what) {
        List<Long> found = new ArrayList<>();
        vmd.awaitUntil(() -> {
            List<Long> c = vmd.vmmChildren();
            String log = vmd.logText();
            found.clear();
            found.addAll(c);
            return c.size() == n && c.stream().allMatch(p -> log.contains("warm pool: vmm-proc " + p + " spawned"));
        }, 120_000 * VmdProcess.SLOW, what, () -> "\nvmm children: " + vmd.vmmChildren());
        return List.copyOf(found);
    }

    static Map<String, String> status(long pid) throws IOException {
        Map<String, String> m = new java.util.HashMap<>();
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            int c = l.indexOf(':');
            m.put(l.substring(0, c), l.substring(c + 1).strip());
        }
        return m;
    }

    /**
     * A waiting vmm-proc holds nothing but its channel: fd 0 to 2 (vmd's), its channel on fd 3,
     * the JVM's own files (its class path, and while it starts the JDK's modules and CDS
     * archive), and once it has started it, the channel of its one child, the spare vionet-proc
     * for its VM's first NIC (VmmChild.startSpareNic), which holds nothing but its own channel
     * either and is not dropped yet; no device, no tap, no image. A file a JVM opens for a
     * moment while it starts (cgroup or /proc files under kvm-lab's slow start) is not held:
     * looked at again until nothing else shows, for a while.
     */
    static void assertHoldsNothing(long pid) throws IOException, InterruptedException {
        long end = System.nanoTime() + 30_000_000_000L * VmdProcess.SLOW;
        while (true) {
            List<String> other = new ArrayList<>();
            List<ProcessHandle> kids = ProcessHandle.of(pid).map(h -> h.children().toList()).orElse(List.of());
            for (ProcessHandle k : kids) {
                String cmd = k.info().commandLine().orElse("");
                if (!cmd.contains("org.jvmd.vionet.VionetMain")) {
                    other.add("child " + k.pid() + " is not a vionet-proc: " + cmd);
                } else {
                    Map<String, String> st = status(k.pid());
                    if (!st.get("Uid").startsWith("0	") || !"0".equals(st.get("Seccomp"))) {
                        other.add("spare vionet-proc " + k.pid() + " dropped before it has a NIC: " + st);
                    }
                    heldBeyond(k.pid(), 1, "spare vionet-proc " + k.pid() + ": ", other);
                }
            }
            if (kids.size() > 1) {
                other.add(kids.size() + " children (at most one: its spare vionet-proc)");
            }
            heldBeyond(pid, 1 + kids.size(), "", other);
            if (other.isEmpty() || System.nanoTime() > end) {
                assertEquals(List.of(), other, "no descriptor but its channel(s) and class path");
                return;
            }
            Thread.sleep(100);
        }
    }

    /**
     * Adds to {@code other} what process {@code pid} holds beyond fd 0 to 2, its channel on fd 3,
     * {@code sockets - 1} more sockets (its children's channels) and the JVM's own files.
     */
    private static void heldBeyond(long pid, int sockets, String who, List<String> other) throws IOException {
        int found = 0;
        boolean channel = false;
        List<Path> fds;
        try (Stream<Path> list = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            fds = list.toList();
        } catch (java.nio.file.NoSuchFileException e) {
            other.add(who + "process " + pid + " is gone");
            return;
        }
        for (Path fd : fds) {
            int n = Integer.parseInt(fd.getFileName().toString());
            String target;
            try {
                target = Files.readSymbolicLink(fd).toString();
            } catch (IOException e) {
                continue; // the JVM closed it meanwhile
            }
            if (target.startsWith("socket:")) {
                found++;
                channel |= n == 3;
            } else if (n > 2 && !(target.endsWith(".jar") || target.startsWith(JAVA_HOME))) {
                other.add(who + n + " -> " + target);
            }
        }
        if (found != sockets || !channel) {
            other.add(who + found + " sockets, " + (channel ? "" : "none on fd 3, ") + "expected " + sockets
                    + " (its channel on fd 3" + (sockets > 1 ? ", its spare vionet-proc's" : "") + ")");
        }
    }

    static boolean gone(long pid) {
        return !Files.exists(Path.of("/proc/" + pid)); // reaped: not even a zombie
    }

    @Test
    void poolChildrenWaitAtStartAreReplacedWhenKilledAndAreGoneWhenVmdStops() throws Exception {
        try (VmdProcess vmd = VmdProcess.start(dir, conf(dir), null, NO_KVM, "--warm-pool", "2")) {
            List<Long> pool = awaitPool(vmd, 2, "two waiting vmm-procs");
            for (long p : pool) {
                Map<String, String> s = status(p);
                assertTrue(s.get("Uid").startsWith("0\t"), "not dropped before it is given a VM: " + s);
                assertEquals("0", s.get("Seccomp"), "no filter yet: it drops after StartVm");
                // the vionet-proc for its VM's first NIC, started while it waits (VmmChild.startSpareNic)
                vmd.awaitUntil(() -> ProcessHandle.of(p).map(h -> h.children().count() == 1).orElse(false),
                        60_000 * VmdProcess.SLOW, "vmm-proc " + p + "'s spare vionet-proc");
                assertHoldsNothing(p);
                // spawned at SCHED_IDLE: it and its spare start on CPU time nothing else wants,
                // every thread of either (the spare and the JVMs' own threads take it from their creator)
                long spare = ProcessHandle.of(p).orElseThrow().children().findFirst().orElseThrow().pid();
                for (long q : List.of(p, spare)) {
                    Map<Integer, Integer> policies = Dropped.policies(q);
                    assertTrue(!policies.isEmpty() && policies.values().stream().allMatch(x -> x == Dropped.SCHED_IDLE),
                            "every thread of " + q + " at SCHED_IDLE (5): " + policies);
                }
            }
            assertTrue(vmd.logText().contains("startup: 1 vms, socket " + vmd.socket + ", warm pool 2"),
                    vmd.logText());

            long killed = pool.get(0);
            TestUser.sh("kill", "-KILL", Long.toString(killed));
            vmd.awaitUntil(() -> gone(killed), 10_000, "the killed one reaped");
            List<Long> after = awaitPool(vmd, 2, "a replacement");
            assertTrue(after.contains(pool.get(1)), "the other one still waits: " + after);
            assertTrue(vmd.logText().contains("warm pool: a waiting vmm-proc died"), vmd.logText());

            // a reload keeps them: they hold nothing from the configuration
            vmd.signal("HUP");
            vmd.awaitUntil(() -> vmd.logText().contains("config reloaded"), 30_000, "the reload");
            Thread.sleep(1_500); // a check of the pool's (every second) has passed
            assertEquals(after, vmd.vmmChildren(), "the same two wait after the reload");

            assertEquals(0, vmd.terminate(), vmd.logText());
            for (long p : after) {
                vmd.awaitUntil(() -> gone(p), 10_000, "pool child " + p + " gone with vmd");
            }
            // closed channels end them quietly: no warning or error from a vmm-proc
            assertFalse(vmd.logText().lines().anyMatch(l -> (l.startsWith("vm: ") || l.startsWith("vm/"))
                    && (l.contains(": warning:") || l.contains(": error:"))), vmd.logText());
        }
    }

    /**
     * vmm-procs that cannot start (a class path without vmm-proc: each JVM exits at once) are
     * retried less and less often, with one warning, and vmd serves on; a start then spawns its
     * own (and fails the same way).
     */
    @Test
    void poolChildrenThatKeepDyingAreRetriedLessOftenWithOneWarning() throws Exception {
        List<String> props = new ArrayList<>(NO_KVM);
        props.add("-Djvmd.vmmClasspath=" + dir.resolve("no-such.jar"));
        try (VmdProcess vmd = VmdProcess.start(dir, conf(dir), null, props, "--warm-pool", "1")) {
            Thread.sleep(9_000);
            long spawned = vmd.logText().lines().filter(l -> l.contains("warm pool: vmm-proc ") && l.endsWith(" spawned"))
                    .count();
            // every second without the backoff; with it at 0, ~2, ~5 s (then 10, 19 s)
            assertTrue(spawned >= 2 && spawned <= 4, spawned + " spawns in 9 s:\n" + vmd.logText());
            assertEquals(1, vmd.logText().lines().filter(l -> l.startsWith("vmd: warning: warm pool: ")).count(),
                    vmd.logText());
            Vmctl.Result r = vmd.vmctl("status");
            assertEquals(0, r.status(), r.err());
            vmd.awaitUntil(() -> vmd.vmmChildren().isEmpty(), 10_000, "no vmm-proc left running");
        }
    }

    @Test
    void aStartTakesAPoolChildAndFailsExactlyAsWithAFreshOneLeavingNothing() throws Exception {
        String pooled;
        String pooledLog;
        Path a = Files.createDirectory(dir.resolve("pool"));
        try (VmdProcess vmd = VmdProcess.start(a, conf(a), null, NO_KVM, "--warm-pool", "1")) {
            long child = awaitPool(vmd, 1, "a waiting vmm-proc").get(0);
            long fds = vmd.fdCount();
            Vmctl.Result r = vmd.vmctl("start", "web");
            assertEquals(1, r.status(), r.err() + vmd.logText());
            pooled = r.err();
            assertTrue(vmd.logText().contains("vm web: vmm-proc " + child + " from the warm pool"), vmd.logText());
            vmd.awaitUntil(() -> gone(child), 10_000, "the pool child that took the VM ended with its failure");
            long next = awaitPool(vmd, 1, "the pool refilled").get(0);
            assertNotEquals(child, next);
            vmd.awaitFdsBack(fds, 10_000); // the new one's channel for the old one's: nothing else kept
            assertTrue(vmd.vmctl("status", "web").out().contains(" stopped web"));
            pooledLog = vmd.logText();
        }
        String fresh;
        String freshLog;
        Path b = Files.createDirectory(dir.resolve("fresh"));
        try (VmdProcess vmd = VmdProcess.start(b, conf(b), null, NO_KVM, "--warm-pool", "0")) {
            assertTrue(vmd.logText().contains("warm pool 0"), vmd.logText());
            Thread.sleep(1_000); // a pool would have spawned by now
            assertEquals(List.of(), vmd.vmmChildren(), "no pool");
            long fds = vmd.fdCount();
            Vmctl.Result r = vmd.vmctl("start", "web");
            assertEquals(1, r.status(), r.err() + vmd.logText());
            fresh = r.err();
            vmd.awaitUntil(() -> vmd.vmmChildren().isEmpty(), 10_000, "no vmm-proc left");
            vmd.awaitFdsBack(fds, 10_000);
            freshLog = vmd.logText();
        }
        assertEquals(fresh.replace(b.toString(), "DIR"), pooled.replace(a.toString(), "DIR"),
                "the same failure from a pool child as from a fresh one");
        // vmd's reason, with vmm-proc's title (the pool child renamed after its VM) and vmm-proc's own line
        for (String prefix : List.of("vmd: warning: vm web: start failed: vm/web failed: vm/web: ", "vm/web: warning: ")) {
            String line = freshLog.lines().filter(l -> l.startsWith(prefix)).findFirst()
                    .orElseThrow(() -> new AssertionError(prefix + " in\n" + freshLog));
            assertTrue(pooledLog.lines().anyMatch(l -> l.equals(line.replace(b.toString(), a.toString()))),
                    line + " in\n" + pooledLog);
        }
    }
}
