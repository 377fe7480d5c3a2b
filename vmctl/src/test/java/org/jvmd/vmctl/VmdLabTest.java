package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StartRequest;
import org.jvmd.proto.StatusRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end with a stock Linux guest (tag "lab": scripts/lab-test runs it where KVM boots stock
 * kernels; -Djvmd.guest.kernel / -Djvmd.guest.initrd): the same fixture as
 * {@link VmdEndToEndTest} (vmd from the runtime class path in a network namespace the test
 * creates, vmctl processes), with the guests a real kernel and init give (console shell,
 * virtio-net driver). The host's tiny-guest run covers the rest at full speed.
 */
@Tag("lab")
@Tag("lab-slow")
class VmdLabTest {
    static final String NS = "jvmd-vmdlab-" + ProcessHandle.current().pid();
    static final long SLOW = System.getenv("KVM_LAB") != null ? 4 : 1;

    @TempDir
    Path dir;
    VmdProcess vmd;

    @BeforeEach
    void startVmd() throws Exception {
        String kernel = System.getProperty("jvmd.guest.kernel");
        String initrd = System.getProperty("jvmd.guest.initrd");
        assertTrue(kernel != null && initrd != null, "scripts/lab-test passes -Djvmd.guest.kernel/initrd");
        TestUser.sh("ip", "netns", "add", NS);
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
        vmd = VmdProcess.start(dir, conf.toString(), NS, List.of("-Djvmd.shutdownTimeoutMs=" + 10_000 * SLOW,
                "-Djvmd.vmmReadyTimeoutMs=" + 300_000 * SLOW));
    }

    @AfterEach
    void stopVmd() throws Exception {
        try {
            if (vmd != null) {
                vmd.close();
            }
        } finally {
            TestUser.sh("ip", "netns", "del", NS);
        }
    }

    Vmctl.Result vmctl(String... args) throws Exception {
        return vmd.vmctlProcess(args);
    }

    /** The status row of a VM, split at vmctl's widths. */
    String[] row(String name) {
        Vmctl.Result r = vmd.vmctl("status", name);
        List<String> lines = r.out().lines().toList();
        assertEquals(2, lines.size(), r.out() + r.err());
        return StatusTableTest.columns(lines.get(1));
    }

    void awaitFdsBackTo(long before, long millis) {
        vmd.awaitUntil(() -> {
            try {
                return vmd.fdCount() <= before;
            } catch (IOException e) {
                return false;
            }
        }, millis, "vmd's fds back to " + before);
    }

    @Test
    void startStatusPauseUnpauseStopOfARealVm() throws Exception {
        long fdsBefore = vmd.fdCount();
        Vmctl.Result r = vmctl("start", "g1");
        assertEquals(0, r.status(), r.err() + vmd.logText());
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
        assertTrue(vmd.linkExists("vm2-if0") && vmd.linkExists("vm2-if1"), "taps while running");

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
        vmd.awaitUntil(() -> !vmd.linkExists("vm2-if0") && !vmd.linkExists("vm2-if1"), 10_000, "taps removed");
        awaitFdsBackTo(fdsBefore, 10_000);
    }

    @Test
    void consoleIsScriptedThroughAPty() throws Exception {
        Vmctl.Result r = vmctl("start", "g0");
        assertEquals(0, r.status(), r.err() + vmd.logText());
        String tty = r.err().substring(r.err().lastIndexOf(' ') + 1).strip();
        assertTrue(tty.startsWith("/dev/"), "vmm-proc reports its console pty: [" + tty + "]");
        String cmd = String.join(" ", VmdProcess.java(VmdProcess.runtimeClasspath(), List.of(),
                "org.jvmd.vmctl.Vmctl", List.of("-s", vmd.socket.toString(), "console", "g0")));
        Path out = dir.resolve("console.out");
        Process p = new ProcessBuilder("script", "-qfec", cmd, "/dev/null").redirectErrorStream(true)
                .redirectOutput(out.toFile()).start();
        try (OutputStream in = p.getOutputStream()) {
            vmd.awaitUntil(() -> readQuietly(out).contains("Connected to"), 60_000 * SLOW, "vmctl console");
            Thread.sleep(500);
            in.write("\recho JVMD-CONSOLE-$((6*7))\r".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            vmd.awaitUntil(() -> readQuietly(out).contains("JVMD-CONSOLE-42"), 120_000 * SLOW,
                    "the guest's answer on the console");
            in.write("\r~.".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "~. leaves the console");
        }
        assertTrue(readQuietly(out).contains("[EOT]"));
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
        long fdsBefore = vmd.fdCount();
        List<Future<Response>> starts = new ArrayList<>();
        List<Future<Integer>> statuses = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 10; i++) {
                String name = "g" + i;
                starts.add(pool.submit(() -> VmdEndToEndTest.request(vmd.socket,
                        Request.newBuilder().setStart(StartRequest.newBuilder().setName(name)).build())));
            }
            for (int i = 0; i < 100; i++) {
                statuses.add(pool.submit(() -> VmdEndToEndTest.request(vmd.socket, Request.newBuilder()
                        .setStatus(StatusRequest.getDefaultInstance()).build()).getStatus().getVmsCount()));
            }
            for (Future<Integer> f : statuses) {
                assertEquals(10, f.get(600 * SLOW, TimeUnit.SECONDS));
            }
            for (Future<Response> f : starts) {
                Response r = f.get(900 * SLOW, TimeUnit.SECONDS);
                assertTrue(r.hasOk(), r + vmd.logText());
            }
        }
        Vmctl.Result st = vmctl("status", "-r");
        assertEquals(11, st.out().lines().count(), st.out());
        for (String line : st.out().lines().skip(1).toList()) {
            assertEquals(" running", StatusTableTest.columns(line)[7], line);
        }
        Vmctl.Result stop = vmctl("stop", "-a", "-f");
        assertEquals(0, stop.status(), stop.err());
        vmd.awaitUntil(() -> vmd.vmctl("status", "-r").out().lines().count() == 1, 120_000 * SLOW,
                "every VM stopped");
        assertTrue(vmd.process.isAlive());
        vmd.awaitUntil(() -> !vmd.linkExists("vm1-if0") && !vmd.linkExists("vm2-if1"), 10_000, "taps removed");
        awaitFdsBackTo(fdsBefore, 30_000);
    }

    @Test
    void aKilledVmProcessLeavesVmdUpTheVmStoppedAndItsTapsGone() throws Exception {
        long fdsBefore = vmd.fdCount();
        assertEquals(0, vmctl("start", "g1").status(), vmd.logText());
        int pid = Integer.parseInt(row("g1")[1].strip());
        assertTrue(vmd.linkExists("vm2-if0"));
        TestUser.sh("kill", "-KILL", Integer.toString(pid));
        vmd.awaitUntil(() -> row("g1")[7].equals(" stopped"), 30_000 * SLOW, "g1 stopped");
        assertTrue(vmd.process.isAlive());
        vmd.awaitUntil(() -> !vmd.linkExists("vm2-if0") && !vmd.linkExists("vm2-if1"), 10_000, "taps removed");
        awaitFdsBackTo(fdsBefore, 10_000);
        assertEquals(0, vmctl("start", "g1").status(), "the VM starts again: " + vmd.logText());
        assertEquals(0, vmctl("stop", "-f", "g1").status());
    }

    @Test
    void sigtermStopsEveryVmRemovesTapsAndTheSocketAndExitsZero() throws Exception {
        assertEquals(0, vmctl("start", "g1").status(), vmd.logText());
        int pid = Integer.parseInt(row("g1")[1].strip());
        TestUser.sh("kill", "-TERM", Long.toString(vmd.pid()));
        assertTrue(vmd.process.waitFor(120 * SLOW, TimeUnit.SECONDS), vmd.logText());
        assertEquals(0, vmd.process.exitValue(), vmd.logText());
        assertFalse(Files.exists(vmd.socket));
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
        assertFalse(vmd.linkExists("vm2-if0"));
        assertFalse(vmd.linkExists("vm2-if1"));
    }
}
