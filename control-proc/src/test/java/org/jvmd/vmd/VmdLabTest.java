package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end with real VMs (tag "lab": scripts/lab-test runs it where KVM boots stock kernels):
 * vmd from its jar in a temporary directory with its own socket, vmctl from its jar, vmm-proc
 * from its jar booting the test guest (-Djvmd.guest.kernel / -Djvmd.guest.initrd). vmd runs
 * inside a network namespace the test creates, so its taps never touch the host's namespace.
 */
@Tag("lab")
@Tag("lab-slow")
class VmdLabTest {
    static final String NS = "jvmd-vmdlab-" + ProcessHandle.current().pid();
    static final long SLOW = System.getenv("KVM_LAB") != null ? 4 : 1;

    @TempDir
    Path dir;
    Path root;
    Path socket;
    Process vmd;

    static String sh(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + ": " + out);
        }
        return out;
    }

    static Path jvmdRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("control-proc")) && Files.isDirectory(p.resolve("vmctl"))) {
                return p;
            }
        }
        throw new AssertionError("run from inside the jvmd checkout");
    }

    Path jar(String module) {
        String override = System.getProperty("jvmd." + module + ".jar");
        Path j = override != null ? Path.of(override)
                : root.resolve(module).resolve("target").resolve("jvmd-" + module + "-0.1.0-SNAPSHOT.jar");
        assertTrue(Files.isRegularFile(j), "build first (mvn package): " + j);
        return j;
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    @BeforeEach
    void startVmd() throws Exception {
        root = jvmdRoot();
        String kernel = System.getProperty("jvmd.guest.kernel");
        String initrd = System.getProperty("jvmd.guest.initrd");
        assertTrue(kernel != null && initrd != null, "scripts/lab-test passes -Djvmd.guest.kernel/initrd");
        sh("ip", "netns", "add", NS);
        String sleeper = Base64.getEncoder().encodeToString("sleep 3600".getBytes(StandardCharsets.US_ASCII));
        StringBuilder conf = new StringBuilder("switch \"lab\" {\n  interface jvlab0\n}\n");
        for (int i = 0; i < 10; i++) {
            conf.append("vm \"g").append(i).append("\" {\n  memory 160M\n  boot \"").append(kernel)
                    .append("\"\n  initrd \"").append(initrd)
                    .append("\"\n  cmdline \"console=ttyS0 quiet panic=-1")
                    .append(i == 0 ? "\"\n" : " jvmd.cmd=" + sleeper + "\"\n")
                    .append(i < 2 ? "  local interface\n  interface { switch \"lab\" }\n" : "")
                    .append("  disable\n}\n");
        }
        Files.writeString(dir.resolve("vm.conf"), conf);
        socket = dir.resolve("vmd.sock");
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", NS, java(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-Djvmd.vmmClasspath=" + jar("vmm-proc"), "-Djvmd.shutdownTimeoutMs=" + 10_000 * SLOW,
                "-jar", jar("control-proc").toString(), "-d", "-v", "-f", dir.resolve("vm.conf").toString(),
                "-s", socket.toString()));
        vmd = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("vmd.log").toFile())
                .start();
        await(() -> Files.exists(socket), 60_000 * SLOW, "vmd's socket");
    }

    @AfterEach
    void stopVmd() throws Exception {
        try {
            if (vmd != null && vmd.isAlive()) {
                vmd.destroy();
                if (!vmd.waitFor(120, TimeUnit.SECONDS)) {
                    vmd.destroyForcibly().waitFor();
                }
            }
        } finally {
            sh("ip", "netns", "del", NS);
        }
    }

    String log() {
        try {
            return Files.readString(dir.resolve("vmd.log"));
        } catch (IOException e) {
            return "";
        }
    }

    void await(BooleanSupplier c, long ms, String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > end) {
                fail("timed out waiting for " + what + "; vmd log:\n" + log());
            }
            Thread.sleep(100);
        }
    }

    record Run(int status, String out, String err) {
    }

    Run vmctl(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(java(), "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-jar", jar("vmctl").toString(), "-s", socket.toString()));
        cmd.addAll(List.of(args));
        Path out = dir.resolve("vmctl.out");
        Path err = dir.resolve("vmctl.err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(300 * SLOW, TimeUnit.SECONDS), "vmctl " + String.join(" ", args));
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err).lines()
                .filter(l -> !l.startsWith("WARNING:")).reduce("", (a, l) -> a + l + "\n"));
    }

    /** The status row of a VM, split at print_vm_info's widths. */
    String[] row(String name) throws Exception {
        Run r = vmctl("status", name);
        List<String> lines = r.out().lines().toList();
        assertEquals(2, lines.size(), r.out() + r.err());
        return columns(lines.get(1));
    }

    static String[] columns(String line) {
        int[] w = {5, 5, 5, 7, 7, 7, 12, 8};
        String[] out = new String[w.length + 1];
        int pos = 0;
        for (int i = 0; i < w.length; i++) {
            out[i] = line.substring(pos, pos + w[i]);
            pos += w[i] + 1;
        }
        out[w.length] = line.substring(pos);
        return out;
    }

    boolean linkExists(String name) {
        try {
            sh("ip", "-n", NS, "link", "show", "dev", name);
            return true;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    long vmdFds() throws IOException {
        // vmd is the java child of "ip netns exec" (which execs): same pid
        try (Stream<Path> s = Files.list(Path.of("/proc", Long.toString(vmd.pid()), "fd"))) {
            return s.count();
        }
    }

    @Test
    void startStatusPauseUnpauseStopOfARealVm() throws Exception {
        long fdsBefore = vmdFds();
        Run r = vmctl("start", "g1");
        assertEquals(0, r.status(), r.err() + log());
        assertTrue(r.err().startsWith("vmctl: started vm 2 successfully, tty "), r.err());
        String[] c = row("g1");
        assertEquals("    2", c[0]);
        assertTrue(c[1].strip().matches("[0-9]+"), "PID " + c[1]);
        assertEquals("    1", c[2]);
        assertEquals("   160M", c[3]);
        assertEquals("   160M", c[4]);
        assertEquals("        root", c[6]);
        assertEquals(" running", c[7]);
        assertEquals("g1", c[8]);
        int pid = Integer.parseInt(c[1].strip());
        assertTrue(linkExists("vm2-if0") && linkExists("vm2-if1"), "taps while running");

        assertEquals(0, vmctl("pause", "g1").status());
        assertEquals("  paused", row("g1")[7]);
        assertEquals(0, vmctl("unpause", "2").status());
        assertEquals(" running", row("g1")[7]);

        r = vmctl("stop", "-w", "g1");
        assertEquals("stopping vm g1: terminated vm 2\n", r.err());
        assertEquals(0, r.status());
        c = row("g1");
        assertEquals("    -", c[1]);
        assertEquals(" stopped", c[7]);
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "vmm-proc is gone");
        await(() -> !linkExists("vm2-if0") && !linkExists("vm2-if1"), 10_000, "taps removed");
        await(() -> {
            try {
                return vmdFds() <= fdsBefore;
            } catch (IOException e) {
                return false;
            }
        }, 10_000, "vmd's fds back to " + fdsBefore);
    }

    @Test
    void consoleIsScriptedThroughAPty() throws Exception {
        Run r = vmctl("start", "g0");
        assertEquals(0, r.status(), r.err() + log());
        String tty = r.err().substring(r.err().lastIndexOf(' ') + 1).strip();
        assertTrue(tty.startsWith("/dev/"), "vmm-proc reports its console pty: [" + tty + "]");
        String cmd = java() + " --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -jar "
                + jar("vmctl") + " -s " + socket + " console g0";
        Process p = new ProcessBuilder("script", "-qfec", cmd, "/dev/null").redirectErrorStream(true)
                .redirectOutput(dir.resolve("console.out").toFile()).start();
        try (OutputStream in = p.getOutputStream()) {
            await(() -> readQuietly(dir.resolve("console.out")).contains("Connected to"), 60_000 * SLOW,
                    "vmctl console");
            Thread.sleep(500);
            in.write("\recho JVMD-CONSOLE-$((6*7))\r".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            await(() -> readQuietly(dir.resolve("console.out")).contains("JVMD-CONSOLE-42"), 120_000 * SLOW,
                    "the guest's answer on the console");
            in.write("\r~.".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "~. leaves the console");
        }
        assertTrue(readQuietly(dir.resolve("console.out")).contains("[EOT]"));
        assertEquals(0, vmctl("stop", "-f", "g0").status());
    }

    static String readQuietly(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }

    @Test
    void tenVmsStartConcurrentlyWhileAHundredClientsAskForStatus() throws Exception {
        long fdsBefore = vmdFds();
        List<java.util.concurrent.Future<org.jvmd.proto.Response>> starts = new ArrayList<>();
        List<java.util.concurrent.Future<Integer>> statuses = new ArrayList<>();
        try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 10; i++) {
                String name = "g" + i;
                starts.add(pool.submit(() -> request(org.jvmd.proto.Request.newBuilder().setStart(
                        org.jvmd.proto.StartRequest.newBuilder().setName(name)).build())));
            }
            for (int i = 0; i < 100; i++) {
                statuses.add(pool.submit(() -> request(org.jvmd.proto.Request.newBuilder().setStatus(
                        org.jvmd.proto.StatusRequest.getDefaultInstance()).build()).getStatus().getVmsCount()));
            }
            for (var f : statuses) {
                assertEquals(10, f.get(600 * SLOW, TimeUnit.SECONDS));
            }
            for (var f : starts) {
                org.jvmd.proto.Response r = f.get(900 * SLOW, TimeUnit.SECONDS);
                assertTrue(r.hasOk(), r + log());
            }
        }
        Run st = vmctl("status", "-r");
        assertEquals(11, st.out().lines().count(), st.out());
        for (String line : st.out().lines().skip(1).toList()) {
            assertEquals(" running", columns(line)[7], line);
        }
        Run stop = vmctl("stop", "-a", "-f");
        assertEquals(0, stop.status(), stop.err());
        await(() -> {
            try {
                return vmctl("status", "-r").out().lines().count() == 1;
            } catch (Exception e) {
                return false;
            }
        }, 120_000 * SLOW, "every VM stopped");
        assertTrue(vmd.isAlive());
        await(() -> !linkExists("vm1-if0") && !linkExists("vm2-if1"), 10_000, "taps removed");
        await(() -> {
            try {
                return vmdFds() <= fdsBefore;
            } catch (IOException e) {
                return false;
            }
        }, 30_000, "vmd's fds back to " + fdsBefore);
    }

    org.jvmd.proto.Response request(org.jvmd.proto.Request r) throws IOException {
        try (org.jvmd.sys.ControlSocket.Connection c = org.jvmd.sys.ControlSocket.connect(socket)) {
            c.write(r);
            return c.read(org.jvmd.proto.Response.parser());
        }
    }

    @Test
    void aKilledVmProcessLeavesVmdUpTheVmStoppedAndItsTapsGone() throws Exception {
        long fdsBefore = vmdFds();
        assertEquals(0, vmctl("start", "g1").status(), log());
        int pid = Integer.parseInt(row("g1")[1].strip());
        assertTrue(linkExists("vm2-if0"));
        sh("kill", "-KILL", Integer.toString(pid));
        await(() -> {
            try {
                return row("g1")[7].equals(" stopped");
            } catch (Exception e) {
                return false;
            }
        }, 30_000 * SLOW, "g1 stopped");
        assertTrue(vmd.isAlive());
        await(() -> !linkExists("vm2-if0") && !linkExists("vm2-if1"), 10_000, "taps removed");
        await(() -> {
            try {
                return vmdFds() <= fdsBefore;
            } catch (IOException e) {
                return false;
            }
        }, 10_000, "vmd's fds back to " + fdsBefore);
        assertEquals(0, vmctl("start", "g1").status(), "the VM starts again: " + log());
        assertEquals(0, vmctl("stop", "-f", "g1").status());
    }

    @Test
    void sigtermStopsEveryVmRemovesTapsAndTheSocketAndExitsZero() throws Exception {
        assertEquals(0, vmctl("start", "g1").status(), log());
        int pid = Integer.parseInt(row("g1")[1].strip());
        sh("kill", "-TERM", Long.toString(vmd.pid()));
        assertTrue(vmd.waitFor(120 * SLOW, TimeUnit.SECONDS), log());
        assertEquals(0, vmd.exitValue(), log());
        assertFalse(Files.exists(socket));
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
        assertFalse(linkExists("vm2-if0"));
        assertFalse(linkExists("vm2-if1"));
    }
}
