package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.testkit.Dropped;

/**
 * End to end with a stock Linux guest (tag "lab": scripts/lab-test runs it where KVM boots stock
 * kernels; -Djvmd.guest.kernel / -Djvmd.guest.initrd): the same fixture as
 * {@link VmdEndToEndTest} (vmd from the runtime class path in a network namespace the test
 * creates, vmctl processes), with what only a real kernel and init give: a shell on the
 * console, the virtio-net driver taking its address by DHCP from vionet on a {@code local
 * interface} and pinging the gateway vmd put on the tap, and a graceful stop the guest
 * honours. One VM, one flow: every step costs JVM starts under kvm-lab's emulation. The
 * host's tiny-guest run ({@link VmdEndToEndTest}) covers concurrency, permissions, SIGKILL
 * and SIGTERM at full speed.
 */
@Tag("lab")
@NetnsTest
class VmdLabTest {
    static final long SLOW = VmdProcess.SLOW;

    @TempDir
    Path dir;
    @AutoClose
    VmdProcess vmd;

    @AfterEach
    void sayGuestResets() {
        if (vmd != null) {
            vmd.sayStockGuestTripleFaults();
        }
    }

    @BeforeEach
    void startVmd(NetNs ns) throws Exception {
        String kernel = System.getProperty("jvmd.guest.kernel");
        String initrd = System.getProperty("jvmd.guest.initrd");
        assertTrue(kernel != null && initrd != null, "scripts/lab-test passes -Djvmd.guest.kernel/initrd");
        String conf = "vm \"g0\" {\n  memory 192M\n  boot \"" + kernel + "\"\n  initrd \"" + initrd + "\"\n"
                + "  cmdline \"console=ttyS0 quiet panic=-1 jvmd.ip=dhcp\"\n  local interface\n  disable\n}\n";
        // with vmd's warm pool (its default size): the VM's vmm-proc is one started before the VM
        vmd = VmdProcess.start(dir, conf, ns.name(), VmdProcess.LAB_TIMEOUTS, "--warm-pool", "1");
    }

    /** The status row of a VM, split at vmctl's widths. */
    String[] row(String name) {
        Vmctl.Result r = vmd.vmctl("status", name);
        List<String> lines = r.out().lines().toList();
        assertEquals(2, lines.size(), r.out() + r.err());
        return StatusTableTest.columns(lines.get(1));
    }

    /** vmd's control process (its child running ControlMain), other than {@code not}, once it has dropped. */
    long controlProcess(long not) throws Exception {
        long[] found = {-1};
        vmd.awaitUntil(() -> {
            // by /proc/PID/cmdline (ProcessHandle.Info may not resolve a process that changed its uid)
            ProcessHandle h = vmd.controlProcess().orElse(null);
            if (h != null && h.pid() != not
                    && readQuietly(Path.of("/proc/" + h.pid() + "/status")).contains("\nSeccomp:\t2\n")) {
                found[0] = h.pid();
                return true;
            }
            return false;
        }, 120_000 * SLOW, "vmd's control process");
        return found[0];
    }

    /** How a vmctl console process ended: its status, what it printed, and vmd's log. */
    String consoleEnded(String what, Process p, Path out) {
        return what + ", status " + (p.isAlive() ? "-" : Integer.toString(p.exitValue())) + ":\n" + readQuietly(out)
                + "\nvmd log:\n" + vmd.logText();
    }

    static String readQuietly(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }

    @Test
    void aRealGuestStartsShowsInStatusAnswersOnItsConsoleGetsDhcpPausesAndStopsGracefully() throws Exception {
        // vmd's warm pool: one vmm-proc waits, spawned before any VM (still root: it drops once given one)
        long pooled = VmdWarmPoolTest.awaitPool(vmd, 1, "vmd's waiting vmm-proc").get(0);
        long fdsBefore = vmd.fdCount();
        long t0 = System.nanoTime();
        Vmctl.Result r = vmd.vmctlProcess("start", "g0");
        assertEquals(0, r.status(), r.err() + vmd.logText());
        assertTrue(r.err().startsWith("vmctl: started vm 1 successfully, tty /dev/pts/"), r.err());
        String tty = r.err().substring(r.err().lastIndexOf(' ') + 1).strip();
        System.out.printf("lab: vmd: vm g0 started %.1f s after vmctl start%n", (System.nanoTime() - t0) / 1e9);

        String[] c = row("g0");
        assertEquals("    1", c[0]);
        assertTrue(c[1].strip().matches("[0-9]+"), "PID " + c[1]);
        assertEquals("    1", c[2]);
        assertEquals("   192M", c[3]);
        VmdEndToEndTest.assertCurMem(c[4], 192L << 20);
        assertEquals(String.format("%7s", tty.substring(tty.lastIndexOf('/') + 1)), c[5]);
        assertEquals("        root", c[6]);
        assertEquals(" running", c[7]);
        assertEquals("g0", c[8]);
        int pid = Integer.parseInt(c[1].strip());
        assertEquals(pooled, pid, "the VM runs in the vmm-proc that waited in vmd's warm pool before the start");
        assertTrue(vmd.logText().contains("vm g0: vmm-proc " + pid + " from the warm pool"), vmd.logText());
        assertTrue(vmd.linkExists("vm1-if0"), "the local interface's tap while running");
        // vmd started as bin/vmd starts it names no user and no chroot: vmm-proc (every thread,
        // vCPUs included) and its vionet-proc dropped to the roles' defaults, _vmd in /var/empty.
        // The vmm-proc came from the warm pool: once given its VM it is dropped as a fresh one.
        Dropped.assertDropped(pid, "_vmd", Path.of("/var/empty"));
        List<ProcessHandle> devices = ProcessHandle.of(pid).orElseThrow().children().toList();
        assertEquals(1, devices.size(), "one vionet-proc for the local interface: " + devices);
        for (ProcessHandle d : devices) {
            Dropped.assertDropped(d.pid(), "_vmd", Path.of("/var/empty"));
        }
        // vmd's control process too; only the parent keeps root (issue 12)
        long control = controlProcess(-1);
        Dropped.assertDropped(control, "_vmd", Path.of("/var/empty"));
        String parent = Files.readString(Path.of("/proc/" + vmd.process.pid() + "/status"));
        assertTrue(parent.contains("\nUid:\t0\t0\t0\t0\n") && !parent.contains("CapEff:\t0000000000000000"), parent);
        System.out.printf("lab: vmd: vmm-proc %d (from the warm pool), vionet-proc %d and the control process %d"
                + " dropped to _vmd in /var/empty; vmd %d keeps root%n", pid, devices.get(0).pid(), control,
                vmd.process.pid());
        // the pool refilled: a new vmm-proc waits, root and holding nothing, for the next VM
        long waiting = VmdWarmPoolTest.awaitPool(vmd, 2, "the VM's vmm-proc and a new waiting one").stream()
                .filter(p -> p != pid).findFirst().orElseThrow();
        VmdWarmPoolTest.assertHoldsNothing(waiting);

        // vmctl console on a pty of its own (script(1)); the guest's shell answers, its NIC got
        // 100.64.1.1/31 by DHCP from vionet and reaches the gateway vmd put on the tap.
        String cmd = String.join(" ", VmdProcess.java(VmdProcess.runtimeClasspath(), List.of(),
                "org.jvmd.vmctl.Vmctl", List.of("-s", vmd.socket.toString(), "console", "g0")));
        Path out = dir.resolve("console.out");
        Process p = new ProcessBuilder("script", "-qfec", cmd, "/dev/null").redirectErrorStream(true)
                .redirectOutput(out.toFile()).start();
        try (OutputStream in = p.getOutputStream()) {
            // vmctl console that ended (an error, or the VM between a reboot's two processes) is
            // said at once with what it printed, not after the whole wait
            vmd.awaitUntil(() -> readQuietly(out).contains("Connected to") || !p.isAlive(), 120_000 * SLOW,
                    "vmctl console");
            assertTrue(readQuietly(out).contains("Connected to"), consoleEnded("vmctl console ended", p, out));
            String probe = "\recho JVMD-CONSOLE-$((6*7)) JVMD-IP-$(ip -4 -o addr show eth0 | awk '{print $4}')"
                    + " JVMD-PING-$(ping -c 1 -W 5 100.64.1.0 >/dev/null && echo ok)\r";
            // The shell comes up at the end of the boot: ask until it answers.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240 * SLOW);
            while (!readQuietly(out).contains("JVMD-CONSOLE-42") && System.nanoTime() < deadline) {
                // vmctl console (under script) must stay until ~.: if it ended, say how and what it
                // printed (a JVM crash report there is the emulator's, which scripts/test retries).
                assertTrue(p.isAlive(), consoleEnded("vmctl console ended early", p, out));
                in.write(probe.getBytes(StandardCharsets.US_ASCII));
                in.flush();
                Thread.sleep(10_000);
            }
            String seen = readQuietly(out);
            System.out.printf("lab: vmd: the console answered %.1f s after vmctl start%n", (System.nanoTime() - t0) / 1e9);
            assertTrue(seen.contains("JVMD-CONSOLE-42"), "the guest's shell answers on the console:\n" + seen);
            vmd.awaitUntil(() -> readQuietly(out).contains("JVMD-PING-ok"), 60_000 * SLOW, "the ping's answer");
            assertTrue(readQuietly(out).contains("JVMD-IP-100.64.1.1/31"), readQuietly(out));
            in.write("\r~.".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "~. leaves the console");
        } finally {
            p.destroyForcibly();
        }
        assertTrue(readQuietly(out).contains("[EOT]"), readQuietly(out));

        assertEquals(0, vmd.vmctl("pause", "g0").status());
        assertEquals("  paused", row("g0")[7]);
        assertEquals(0, vmd.vmctl("unpause", "1").status());
        assertEquals(" running", row("g0")[7]);

        Vmctl.Result stats = vmd.vmctl("stats", "g0");
        assertEquals(0, stats.status(), stats.err());
        String[] nic0 = stats.out().lines().skip(1).findFirst().orElse("").strip().split(" +");
        assertTrue(nic0.length >= 5 && Long.parseLong(nic0[1]) > 0 && Long.parseLong(nic0[3]) > 0,
                "frames both ways after DHCP and ping:\n" + stats.out());

        // A control process killed with SIGKILL: vmd restarts it; the VM runs on in the same
        // process, and the new control process answers for it (and stops it below).
        new ProcessBuilder("kill", "-KILL", Long.toString(control)).start().waitFor();
        long next = controlProcess(control);
        Dropped.assertDropped(next, "_vmd", Path.of("/var/empty"));
        c = row("g0");
        assertEquals(" running", c[7]);
        assertEquals(pid, Integer.parseInt(c[1].strip()), "the VM keeps its process");
        assertTrue(vmd.process.isAlive());
        System.out.printf("lab: vmd: control process %d killed, %d answers; vm g0 still running as %d%n", control,
                next, pid);

        // Graceful: Ctrl-Alt-Del, the guest's init syncs and powers off (well before the 120 s timeout).
        long s0 = System.nanoTime();
        r = vmd.vmctlProcess("stop", "-w", "g0");
        assertEquals(0, r.status(), r.err() + vmd.logText());
        assertEquals("stopping vm g0: terminated vm 1\n", r.err());
        System.out.printf("lab: vmd: graceful stop took %.1f s%n", (System.nanoTime() - s0) / 1e9);
        c = row("g0");
        assertEquals("    -", c[1]);
        assertEquals(" stopped", c[7]);
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "vmm-proc is gone");
        assertFalse(vmd.logText().contains("did not shut down in time"), vmd.logText());
        vmd.awaitUntil(() -> !vmd.linkExists("vm1-if0"), 10_000, "tap removed");
        vmd.awaitFdsBack(fdsBefore, 30_000);
    }
}
