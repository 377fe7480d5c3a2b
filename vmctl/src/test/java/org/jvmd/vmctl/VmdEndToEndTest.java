package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StartRequest;
import org.jvmd.proto.StatusRequest;
import org.jvmd.proto.StopRequest;
import org.jvmd.proto.VmSelector;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.Terminal;
import org.jvmd.sys.ipc.ControlSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.EchoGuest;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.testkit.RequiresKvm;

/**
 * vmd end to end on this machine's KVM, in the normal test run: vmd (its own socket, in a
 * temporary directory, inside a network namespace the test creates) starts real vmm-proc VMs
 * booting {@link EchoGuest}, driven by vmctl processes (and, for the crowds, by raw clients of
 * the control socket). One vmd serves the whole class; each test uses its own VMs and leaves
 * them stopped. Tag "e2e": the normal (surefire) run on this machine's kvm_pvm; scripts/lab-test
 * does not select it by default (its JVM start-ups would take tens of minutes under emulation).
 */
@Tag("e2e")
@RequiresKvm
@NetnsTest
class VmdEndToEndTest {
    /** The graceful-stop timeout vmd runs with here (vmm-proc forces the stop after it). */
    static final long STOP_TIMEOUT_MS = 1500;
    static final int CROWD = 10;
    /** The VMs before the crowd in vm.conf. */
    static final int NAMED = 10;

    @TempDir
    static Path dir;
    static TestUser user;
    static VmdProcess vmd;

    long fdsBefore;

    @BeforeAll
    static void startVmd(NetNs ns) throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        user = TestUser.create("jvmde");
        Path echo = dir.resolve("echo.bzImage");
        Files.write(echo, EchoGuest.bzImage());
        Path deaf = dir.resolve("deaf.bzImage");
        Files.write(deaf, EchoGuest.ignoringPowerButton());
        Path reboot = dir.resolve("reboot.bzImage");
        Files.write(reboot, EchoGuest.rebooting());
        StringBuilder conf = new StringBuilder("socket owner root:" + user.name + "\n");
        conf.append(vm("echo", echo, "")) // id 1
                .append(vm("deaf", deaf, "")) // 2
                .append(vm("net", echo, "  local interface\n")) // 3
                .append(vm("victim", echo, "  local interface\n")) // 4
                .append(vm("mine", echo, "  owner " + user.name + "\n")) // 5
                .append(vm("theirs", echo, "")) // 6
                .append(vm("hung", echo, "")) // 7
                .append(vm("console", echo, "")) // 8
                .append(vm("reboot", reboot, "")); // 9
        for (int i = 0; i < CROWD; i++) {
            conf.append(vm("c" + i, echo, "")); // 10..19
        }
        // 20: a template whose instances the user boots from its own kernel (vmctl passes it)
        conf.append(vm("utpl", echo, "  owner " + user.name + "\n  allow instance { boot, owner " + user.name + " }\n"));
        vmd = VmdProcess.start(dir, conf.toString(), ns.name(), List.of("-Djvmd.stopTimeoutMs=" + STOP_TIMEOUT_MS),
                "--console-log-dir", dir.resolve("consoles").toString());
    }

    static String vm(String name, Path kernel, String extra) {
        return "vm \"" + name + "\" {\n  memory 64M\n  boot \"" + kernel + "\"\n" + extra + "  disable\n}\n";
    }

    @AfterAll
    static void stopVmd() throws Exception {
        try {
            if (vmd != null) {
                vmd.close();
            }
        } finally {
            if (user != null) {
                user.close();
            }
        }
    }

    @BeforeEach
    void countFds() throws IOException {
        fdsBefore = vmd.fdCount();
    }

    /**
     * After each test: vmd is up, has no VM process left and no more fds than before (a test
     * that failed half-way gets its VMs stopped first).
     */
    @AfterEach
    void vmdIsUpWithoutLeaks() {
        assertTrue(vmd.process.isAlive(), "vmd is up");
        if (vmd.childCount() > 0) {
            vmd.vmctl("stop", "-a", "-f");
        }
        vmd.awaitUntil(() -> vmd.childCount() == 0, 30_000, "vmd without child processes");
        vmd.awaitFdsBack(fdsBefore, 10_000);
    }

    Vmctl.Result vmctl(String... args) throws Exception {
        return vmd.vmctlProcess(args);
    }

    /** The status row of a VM as vmctl prints it, split at vmctl's column widths. */
    String[] row(String name) {
        Vmctl.Result r = vmd.vmctl("status", name);
        List<String> lines = r.out().lines().toList();
        assertEquals(2, lines.size(), r.out() + r.err());
        return StatusTableTest.columns(lines.get(1));
    }

    void awaitState(String name, String state) {
        vmd.awaitUntil(() -> row(name)[7].equals(String.format("%8s", state)), 30_000, name + " " + state);
    }

    /**
     * CURMEM of a running VM: the guest memory in use as vmm-proc reports it, more than
     * nothing (the kernel is loaded) and at most MAXMEM.
     */
    static void assertCurMem(String column, long maxMem) {
        long bytes = StatusTableTest.scaled(column.strip());
        assertTrue(bytes > 0 && bytes <= maxMem, "CURMEM " + column);
    }

    static boolean alive(int pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    @Test
    void startStatusPauseUnpauseAndAGracefulStopOfAPausedVm() throws Exception {
        Vmctl.Result r = vmctl("start", "echo");
        assertEquals(0, r.status(), r.err() + vmd.logText());
        assertTrue(r.err().startsWith("vmctl: started vm 1 successfully, tty "), r.err());
        String[] c = row("echo");
        assertEquals("    1", c[0]);
        int pid = Integer.parseInt(c[1].strip());
        assertTrue(pid > 0 && vmd.process.toHandle().children().anyMatch(h -> h.pid() == pid), "PID " + c[1]);
        assertEquals("    1", c[2]);
        assertEquals("  64.0M", c[3]); // fmt_scaled(3)
        assertCurMem(c[4], 64L << 20);
        assertEquals("        root", c[6]);
        assertEquals(" running", c[7]);
        assertEquals("echo", c[8]);

        r = vmctl("pause", "echo");
        assertEquals(0, r.status(), r.err());
        assertEquals("  paused", row("echo")[7]);
        r = vmctl("unpause", "1");
        assertEquals(0, r.status(), r.err());
        assertEquals(" running", row("echo")[7]);

        // Stopped while paused: vmm-proc resumes the guest, which listens to the power button
        // and powers off (no forced stop).
        assertEquals(0, vmd.vmctl("pause", "echo").status());
        r = vmctl("stop", "-w", "echo");
        assertEquals("stopping vm echo: terminated vm 1\n", r.err());
        assertEquals(0, r.status());
        c = row("echo");
        assertEquals("    -", c[1]);
        assertEquals("      -", c[4]);
        assertEquals(" stopped", c[7]);
        assertFalse(alive(pid), "vmm-proc is gone");
        String powerOff = vmd.logText().lines().filter(l -> l.startsWith("vmd: debug: vm echo: terminated")).findFirst()
                .orElseThrow();
        assertTrue(powerOff.startsWith("vmd: debug: vm echo: terminated (TERM_STOPPED: stopped by vmd (")
                && powerOff.contains("powered off (ACPI S5)"), powerOff);
    }

    @Test
    void aGuestThatIgnoresThePowerButtonIsStoppedByForceAfterTheTimeout() throws Exception {
        assertEquals(0, vmctl("start", "deaf").status(), vmd.logText());
        long t0 = System.nanoTime();
        Vmctl.Result r = vmctl("stop", "-w", "deaf");
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals("stopping vm deaf: terminated vm 2\n", r.err());
        assertTrue(ms >= STOP_TIMEOUT_MS, "the guest had its " + STOP_TIMEOUT_MS + " ms: " + ms);
        assertEquals(" stopped", row("deaf")[7]);
        assertTrue(vmd.logText().contains("vm deaf: terminated (TERM_STOPPED: stopped by vmd: the guest did not"
                + " shut down in time)"), vmd.logText());
    }

    @Test
    void aVmProcessThatDoesNotEndAfterTheStopTimeoutIsKilledByVmd() throws Exception {
        assertEquals(0, vmctl("start", "hung").status(), vmd.logText());
        int pid = Integer.parseInt(row("hung")[1].strip());
        TestUser.sh("kill", "-STOP", Integer.toString(pid)); // vmm-proc can no longer force anything
        Vmctl.Result r = vmctl("stop", "-w", "hung");
        assertEquals("stopping vm hung: terminated vm 7\n", r.err());
        assertEquals(" stopped", row("hung")[7]);
        assertFalse(alive(pid));
        assertTrue(vmd.logText().contains("vm hung: did not stop within " + STOP_TIMEOUT_MS + " ms; killing it"),
                vmd.logText());
    }

    @Test
    void aKilledVmProcessLeavesVmdUpTheVmStoppedAndItsTapGone() throws Exception {
        long children = vmd.childCount();
        assertEquals(0, vmctl("start", "victim").status(), vmd.logText());
        int pid = Integer.parseInt(row("victim")[1].strip());
        assertTrue(vmd.linkExists("vm4-if0"), "the VM's tap");
        List<ProcessHandle> vionets = ProcessHandle.of(pid).orElseThrow().descendants().toList();
        assertEquals(1, vionets.size(), "vmm-proc runs one vionet-proc");
        TestUser.sh("kill", "-KILL", Integer.toString(pid));
        awaitState("victim", "stopped");
        assertEquals("    -", row("victim")[1]);
        vmd.awaitUntil(() -> !vmd.linkExists("vm4-if0"), 10_000, "the tap removed");
        vmd.awaitUntil(() -> vmd.childCount() == children, 10_000, "no child left");
        vmd.awaitUntil(() -> vionets.stream().noneMatch(ProcessHandle::isAlive), 10_000,
                "the orphaned vionet-proc ends too");
        // and the VM can start again
        assertEquals(0, vmctl("start", "victim").status(), vmd.logText());
        assertEquals(0, vmctl("stop", "-f", "victim").status());
        vmd.awaitUntil(() -> !vmd.linkExists("vm4-if0"), 10_000, "the tap removed");
    }

    @Test
    void statsShowsTheCountersOfEachNic() throws Exception {
        assertEquals(0, vmctl("start", "net").status(), vmd.logText());
        assertTrue(vmd.linkExists("vm3-if0"));
        Vmctl.Result r = vmctl("stats", "net");
        assertEquals(0, r.status(), r.err() + vmd.logText());
        List<String> lines = r.out().lines().toList();
        assertEquals(String.format("%4s %12s %14s %12s %14s %10s %8s", "NIC", "TX-FRAMES", "TX-BYTES", "RX-FRAMES",
                "RX-BYTES", "TAP-ERRS", "DROPS"), lines.get(0), r.out());
        String[] nic0 = lines.get(1).strip().split(" +");
        assertEquals("0", nic0[0], r.out());
        for (String n : nic0) {
            assertTrue(n.matches("[0-9]+"), r.out());
        }
        assertEquals(0, vmctl("stop", "-w", "net").status());
        vmd.awaitUntil(() -> !vmd.linkExists("vm3-if0"), 10_000, "the tap removed");
    }

    @Test
    void aUserSeesStartsAndStopsItsOwnVmAndIsRefusedOtherwise() throws Exception {
        Vmctl.Result r = user.vmctl(vmd.socket, "start", "mine");
        assertEquals(0, r.status(), r.err() + vmd.logText());
        assertTrue(r.err().startsWith("vmctl: started vm 5 successfully, tty /dev/pts/"), r.err());
        Path tty = Path.of(r.err().substring(r.err().lastIndexOf(' ') + 1).strip());
        assertEquals(user.uid, (int) Files.getAttribute(tty, "unix:uid"), "the console belongs to the VM's owner");
        r = user.vmctl(vmd.socket, "start", "theirs");
        assertEquals(1, r.status());
        assertEquals("vmctl: start vm command failed: Operation not permitted\n", r.err());
        assertEquals(0, vmctl("start", "theirs").status(), vmd.logText());

        r = user.vmctl(vmd.socket, "status", "mine");
        assertEquals(0, r.status(), r.err());
        String[] c = StatusTableTest.columns(r.out().lines().toList().get(1));
        assertEquals(String.format("%12s", user.name), c[6]);
        assertEquals(" running", c[7]);
        assertEquals("mine", c[8]);

        r = user.vmctl(vmd.socket, "stop", "theirs");
        assertEquals(1, r.status());
        assertEquals("stopping vm theirs: failed: Operation not permitted\n", r.err());
        r = user.vmctl(vmd.socket, "pause", "theirs");
        assertEquals(1, r.status());
        assertEquals("vmctl: pause vm command failed: Operation not permitted\n", r.err());
        assertEquals(" running", row("theirs")[7]);

        r = user.vmctl(vmd.socket, "stop", "-w", "mine");
        assertEquals(0, r.status(), r.err());
        assertEquals("stopping vm mine: terminated vm 5\n", r.err());
        assertEquals(" stopped", row("mine")[7]);
        assertEquals(0, vmctl("stop", "-w", "theirs").status());
    }

    @Test
    void consoleThroughAPtyShowsTheGuestsEchoAndTildeDotLeaves() throws Exception {
        Vmctl.Result r = vmctl("start", "console");
        assertEquals(0, r.status(), r.err() + vmd.logText());
        String tty = r.err().substring(r.err().lastIndexOf(' ') + 1).strip();
        assertTrue(tty.startsWith("/dev/pts/"), "the console pty: [" + tty + "]");
        String[] c = row("console");
        assertEquals(String.format("%7s", tty.substring(tty.lastIndexOf('/') + 1)), c[5], "TTY");
        assertEquals(0, (int) Files.getAttribute(Path.of(tty), "unix:uid"), "root's VM, root's pty");

        try (Terminal.Pty local = Terminal.openPty()) {
            // vmctl console on a terminal of its own, the test at the other end of it
            File slave = new File(local.slave());
            Process p = new ProcessBuilder(VmdProcess.java(VmdProcess.runtimeClasspath(), List.of(),
                    "org.jvmd.vmctl.Vmctl", List.of("-s", vmd.socket.toString(), "console", "console")))
                    .redirectInput(slave).redirectOutput(slave).redirectError(slave).start();
            StringBuffer screen = new StringBuffer();
            Thread reader = Thread.ofPlatform().daemon(true).start(() -> {
                byte[] buf = new byte[4096];
                try {
                    int n;
                    while ((n = Terminal.read(local.master(), buf)) > 0) {
                        screen.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                    }
                } catch (SysException e) {
                    // EIO: vmctl closed the terminal
                }
            });
            try {
                vmd.awaitUntil(() -> screen.toString().contains("Connected to " + tty), 60_000,
                        "vmctl console to connect: " + screen);
                // vmctl made its terminal raw (no local echo): what comes back is the guest's
                byte[] typed = "hello, jvmd\r".getBytes(StandardCharsets.US_ASCII);
                Terminal.write(local.master(), typed, 0, typed.length);
                vmd.awaitUntil(() -> screen.toString().contains("hello, jvmd\r"), 30_000, "the guest's echo: " + screen);
                byte[] leave = "~.".getBytes(StandardCharsets.US_ASCII);
                Terminal.write(local.master(), leave, 0, leave.length);
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "~. leaves the console: " + screen);
                assertEquals(0, p.exitValue(), screen.toString());
                reader.join(10_000);
                assertTrue(screen.toString().endsWith("[EOT]\r\n"), screen.toString());
                assertFalse(screen.toString().contains("~."), "the escape is not sent: " + screen);
            } finally {
                p.destroyForcibly();
            }
        }
        assertTrue(Files.readString(dir.resolve("consoles").resolve("console.log")).contains("hello, jvmd"),
                "the guest's output reached the console log too");
        assertEquals(" running", row("console")[7], "leaving the console leaves the VM running");

        // The power-off byte typed on a new console session: the guest powers itself off.
        try (Terminal.Pty local = Terminal.openPty()) {
            File slave = new File(local.slave());
            Process p = new ProcessBuilder(VmdProcess.java(VmdProcess.runtimeClasspath(), List.of(),
                    "org.jvmd.vmctl.Vmctl", List.of("-s", vmd.socket.toString(), "console", "8")))
                    .redirectInput(slave).redirectOutput(slave).redirectError(slave).start();
            try {
                StringBuffer screen = new StringBuffer();
                Thread.ofPlatform().daemon(true).start(() -> {
                    byte[] buf = new byte[4096];
                    try {
                        int n;
                        while ((n = Terminal.read(local.master(), buf)) > 0) {
                            screen.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                        }
                    } catch (SysException e) {
                        // EIO
                    }
                });
                vmd.awaitUntil(() -> screen.toString().contains("Connected to"), 60_000, "vmctl console again");
                Terminal.write(local.master(), new byte[] {EchoGuest.POWER_OFF_BYTE}, 0, 1);
                awaitState("console", "stopped");
                assertTrue(vmd.logText().contains("vm console: terminated (TERM_POWEROFF"), vmd.logText());
            } finally {
                p.destroyForcibly().waitFor();
            }
        }
    }

    /**
     * The must-show with a real guest: the user's instance boots from a kernel the
     * user opened (vmctl passes the descriptor; vmd never opens the path), the same passed
     * kernel boots it again after the guest reboots (vmd keeps its copy for the VM's life),
     * and a root-only file named as the kernel is refused by vmctl. The test's fd count after
     * it shows the kept kernel closed once the instance is gone.
     */
    @Test
    void aUsersInstanceBootsAndRebootsFromTheKernelItPassed() throws Exception {
        Path own = dir.resolve("users-reboot.bzImage");
        Files.write(own, EchoGuest.rebooting());
        Files.setAttribute(own, "unix:uid", user.uid);
        Files.setPosixFilePermissions(own, PosixFilePermissions.fromString("rw-------"));
        Vmctl.Result r = user.vmctl(vmd.socket, "start", "-t", "utpl", "-b", "/etc/shadow", "u0");
        assertEquals(1, r.status());
        assertEquals("vmctl: cannot open kernel '/etc/shadow': Permission denied\n", r.err());
        r = user.vmctl(vmd.socket, "start", "-t", "utpl", "-b", own.toString(), "u1");
        assertEquals(0, r.status(), r.err() + vmd.logText());
        vmd.awaitUntil(() -> runningLines("u1").size() >= 2,
                60_000, "a restart of u1 from its passed kernel after the guest rebooted");
        // ends the reboot loop, unless vmd's restart limit ended it and forgot the instance already
        user.vmctl(vmd.socket, "stop", "-f", "u1");
        vmd.awaitUntil(() -> vmd.vmctl("status").out().lines().noneMatch(l -> l.endsWith(" u1")), 30_000,
                "the instance forgotten");
    }

    /**
     * vmd starts a guest that reset itself again, each time in a new vmm-proc, on the same
     * console: a client attached to the tty vmctl start named reads every boot's mark from it,
     * and status names that tty for every process (vmd keeps the tty across a reboot).
     */
    @Test
    void aGuestThatRebootsIsStartedAgainInANewVmProcessOnTheSameConsole() throws Exception {
        Vmctl.Result r = vmctl("start", "reboot");
        // the guest may already have rebooted when vmctl hears it started
        assertEquals(0, r.status(), r.err() + vmd.logText());
        String tty = r.err().substring(r.err().lastIndexOf(' ') + 1).strip();
        assertTrue(tty.startsWith("/dev/pts/"), r.err());
        StringBuilder console = new StringBuilder();
        try (Fd client = Terminal.open(tty)) {
            LibC.setNonBlocking(client, true);
            byte[] buf = new byte[256];
            vmd.awaitUntil(() -> {
                int n;
                while ((n = Terminal.tryRead(client, buf)) > 0) {
                    console.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                }
                return runningLines("reboot").size() >= 3
                        && console.chars().filter(c -> c == EchoGuest.REBOOT_MARK).count() >= 2;
            }, 60_000, "two restarts after guest reboots, their marks on the first start's tty",
                    () -> "\nconsole: " + console);
        }
        List<String> running = runningLines("reboot");
        List<String> pids = running.stream().map(l -> l.split("pid ")[1].split(",")[0]).toList();
        assertEquals(pids.size(), pids.stream().distinct().count(), "each start is a new vmm-proc: " + pids);
        for (String l : running) {
            assertTrue(l.endsWith(", tty " + tty), "every process of the VM on its first tty " + tty + ": " + running);
        }
        assertTrue(vmd.logText().contains("vm reboot: terminated (TERM_REBOOT"), vmd.logText());
        // vmd's rate limit (3 starts in 6 s) ends the loop when vmm-proc starts that fast;
        // on this machine a start takes longer, so the test ends it.
        Vmctl.Result stop = vmctl("stop", "-f", "reboot");
        assertTrue(stop.status() == 0 || stop.err().endsWith("cannot stop vm that is not running\n"), stop.err());
        awaitState("reboot", "stopped");
    }

    /** vmd's "running" lines for VM {@code name}. */
    List<String> runningLines(String name) {
        return vmd.logText().lines().filter(l -> l.startsWith("vmd: debug: vm " + name + ": running, pid")).toList();
    }

    static Response request(Path socket, Request r) throws IOException {
        try (ControlSocket.Connection c = ControlSocket.connect(socket)) {
            c.write(r);
            return c.read(Response.parser());
        }
    }

    @Test
    void tenVmsStartConcurrentlyWhileAHundredClientsAskForStatusAndAllStop() throws Exception {
        List<Future<Response>> starts = new ArrayList<>();
        List<Future<Integer>> statuses = new ArrayList<>();
        List<Future<Vmctl.Result>> vmctls = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Vmctl.Result>> vmctlStarts = new ArrayList<>();
            for (int i = 0; i < CROWD; i++) {
                String name = "c" + i;
                if (i < 2) {
                    vmctlStarts.add(pool.submit(() -> vmctl("start", name)));
                    continue;
                }
                starts.add(pool.submit(() -> request(vmd.socket, Request.newBuilder()
                        .setStart(StartRequest.newBuilder().setVm(org.jvmd.proto.VmSelector.newBuilder().setName(name))).build())));
            }
            vmctls.addAll(vmctlStarts);
            for (int i = 0; i < 3; i++) {
                vmctls.add(pool.submit(() -> vmctl("status")));
            }
            for (int i = 0; i < 100; i++) {
                statuses.add(pool.submit(() -> request(vmd.socket, Request.newBuilder()
                        .setStatus(StatusRequest.getDefaultInstance()).build()).getStatus().getVmsCount()));
            }
            for (Future<Integer> f : statuses) {
                assertEquals(NAMED + CROWD, f.get(120, TimeUnit.SECONDS));
            }
            for (Future<Vmctl.Result> f : vmctls) {
                Vmctl.Result r = f.get(120, TimeUnit.SECONDS);
                assertEquals(0, r.status(), r.err() + vmd.logText());
                if (r.err().startsWith("vmctl: started vm")) {
                    continue;
                }
                assertEquals(1 + NAMED + CROWD, r.out().lines().count(), r.out());
            }
            for (Future<Response> f : starts) {
                Response r = f.get(120, TimeUnit.SECONDS);
                assertTrue(r.hasOk(), r + vmd.logText());
            }
        }
        for (int i = 0; i < CROWD; i++) {
            String[] c = row("c" + i);
            assertEquals(" running", c[7], "c" + i);
            assertTrue(Integer.parseInt(c[1].strip()) > 0);
        }
        assertEquals(CROWD, vmd.childCount());

        List<Future<Response>> stops = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < CROWD; i++) {
                String name = "c" + i;
                stops.add(pool.submit(() -> request(vmd.socket, Request.newBuilder().setStop(StopRequest.newBuilder()
                        .setVm(VmSelector.newBuilder().setName(name)).setWait(true)).build())));
            }
            for (Future<Response> f : stops) {
                Response r = f.get(120, TimeUnit.SECONDS);
                assertTrue(r.hasOk(), r.toString());
            }
        }
        for (int i = 0; i < CROWD; i++) {
            assertEquals(" stopped", row("c" + i)[7]);
        }
    }

    @Test
    void clientsThatSendGarbageOrHangUpMidRequestLeaveVmdServing() throws Exception {
        Random rnd = new Random(6);
        for (int i = 0; i < 20; i++) {
            try (ControlSocket.Connection c = ControlSocket.connect(vmd.socket)) {
                byte[] junk = new byte[1 + rnd.nextInt(64)];
                rnd.nextBytes(junk);
                c.out().write(junk);
                c.out().flush();
            }
        }
        byte[] frame = Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build()
                .toByteArray();
        // a frame cut short: the length says more than comes
        try (ControlSocket.Connection c = ControlSocket.connect(vmd.socket)) {
            OutputStream o = c.out();
            o.write(100);
            o.write(frame);
            o.flush();
        }
        // clients that connect, send half a request and stay: more than vmd has CPUs
        List<ControlSocket.Connection> idle = new ArrayList<>();
        try {
            for (int i = 0; i < 2 * Runtime.getRuntime().availableProcessors() + 2; i++) {
                ControlSocket.Connection c = ControlSocket.connect(vmd.socket);
                idle.add(c);
                c.out().write(50);
                c.out().flush();
            }
            Vmctl.Result r = vmctl("status");
            assertEquals(0, r.status(), r.err());
            assertEquals(1 + NAMED + CROWD, r.out().lines().count(), r.out());
        } finally {
            for (ControlSocket.Connection c : idle) {
                c.close();
            }
        }
        assertEquals(1 + NAMED + CROWD, vmctl("status").out().lines().count());
    }
}
