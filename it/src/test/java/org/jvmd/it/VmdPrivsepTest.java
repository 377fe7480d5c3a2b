package org.jvmd.it;

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
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.testkit.Dropped;
import org.jvmd.testkit.RequiresRoot;

/**
 * vmd split as OpenBSD's (issue 12): started exactly as bin/vmd starts it, the root parent
 * spawns an unprivileged control process that owns the control socket's connections. From
 * outside: the control process runs as _vmd in the empty /var/empty with no_new_privs,
 * a seccomp filter and no capability, while only the parent keeps root; vmctl is answered
 * through it; killed with SIGKILL, it is noticed and restarted by the parent (which keeps
 * running, with its configuration), and the new one is dropped alike.
 */
@RequiresRoot
class VmdPrivsepTest {
    @TempDir
    Path dir;

    @Test
    void theControlProcessIsUnprivilegedOnlyTheParentKeepsRootAndAKilledOneIsRestarted() throws Exception {
        Path root = NativeBoundaryTest.projectRoot();
        Path kernel = dir.resolve("bzImage");
        Files.writeString(kernel, "never booted");
        Path conf = dir.resolve("vm.conf");
        Files.writeString(conf, "vm \"kept\" {\n\tboot \"" + kernel + "\"\n\tdisable\n}\n");
        Path sock = dir.resolve("vmd.sock");
        Path log = dir.resolve("vmd.log");
        Process vmd = new ProcessBuilder(root.resolve("bin/vmd").toString(), "-d", "-f", conf.toString(),
                "-s", sock.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            assertStatus(vmctl(sock), log);
            long control = controlProcess(vmd.pid(), -1, log);
            Dropped.assertDropped(control, "_vmd", Path.of("/var/empty"));
            Map<String, String> parent = status(vmd.pid());
            assertTrue(parent.get("Uid").startsWith("0\t"), "the parent keeps root: " + parent);
            assertNotEquals("0000000000000000", parent.get("CapEff"), "the parent keeps its capabilities");
            assertEquals("0", parent.get("Seccomp"), "the parent runs without a filter");

            new ProcessBuilder("kill", "-KILL", Long.toString(control)).start().waitFor();
            long next = controlProcess(vmd.pid(), control, log);
            assertNotEquals(control, next);
            assertTrue(vmd.isAlive(), () -> "vmd ended when its control process died: " + read(log));
            Dropped.assertDropped(next, "_vmd", Path.of("/var/empty"));
            assertStatus(vmctl(sock), log); // the same configuration, answered by the new one
            assertTrue(read(log).contains("control process " + control + " was killed by signal 9"), read(log));
        } finally {
            vmd.destroy();
            if (!vmd.waitFor(30, TimeUnit.SECONDS)) {
                vmd.destroyForcibly();
            }
        }
        assertFalse(Files.exists(sock), "the socket is removed at exit");
    }

    private static void assertStatus(LaunchersTest.Run r, Path log) {
        assertEquals(0, r.status(), () -> r.err() + read(log));
        assertTrue(r.out().lines().anyMatch(l -> l.matches(" +1 +- +1 +512M +- +- +root +stopped kept")),
                () -> r.out() + read(log));
    }

    private LaunchersTest.Run vmctl(Path sock) throws IOException, InterruptedException {
        Path vmctl = NativeBoundaryTest.projectRoot().resolve("bin/vmctl");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            LaunchersTest.Run r = LaunchersTest.run(Map.of(), vmctl.toString(), "-s", sock.toString(), "status");
            if (r.status() == 0 || System.nanoTime() > end) {
                return r;
            }
            Thread.sleep(200); // the socket is not bound yet
        }
    }

    /** The pid of vmd's control process (a child running ControlMain) other than {@code not}, once it is dropped. */
    private static long controlProcess(long vmd, long not, Path log) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < end) {
            for (long c : children(vmd)) {
                if (c != not && cmdline(c).contains("org.jvmd.vmd.ControlMain")
                        && "2".equals(status(c).get("Seccomp"))) {
                    return c;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no control process of vmd " + vmd + " (other than " + not + "): " + read(log));
    }

    private static List<Long> children(long pid) throws IOException {
        List<Long> out = new ArrayList<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : tasks.toList()) {
                try {
                    for (String c : Files.readString(t.resolve("children")).trim().split("\\s+")) {
                        if (!c.isEmpty()) {
                            out.add(Long.parseLong(c));
                        }
                    }
                } catch (NoSuchFileException e) {
                    // a thread that ended meanwhile
                }
            }
        }
        return out;
    }

    private static String cmdline(long pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline"))).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    private static Map<String, String> status(long pid) throws IOException {
        Map<String, String> m = new java.util.HashMap<>();
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                int colon = l.indexOf(':');
                if (colon > 0) {
                    m.put(l.substring(0, colon), l.substring(colon + 1).strip());
                }
            }
        } catch (NoSuchFileException e) {
            // gone
        }
        return m;
    }

    private static String read(Path p) {
        try {
            return "\n--- vmd log ---\n" + Files.readString(p);
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }
}
