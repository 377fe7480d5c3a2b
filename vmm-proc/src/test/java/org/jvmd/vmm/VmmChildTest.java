package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.PauseVm;
import org.jvmd.proto.StopVm;
import org.jvmd.proto.Termination;
import org.jvmd.proto.UnpauseVm;
import org.jvmd.sys.Fd;
import org.jvmd.testkit.RequiresKvm;
import org.jvmd.vmm.boot.SyntheticBzImage;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FromVmm;
import org.jvmd.proto.StartVm;
import org.jvmd.proto.ToVmm;
import org.jvmd.proto.VmConfig;
import org.jvmd.sys.LibC;
import org.jvmd.sys.Terminal;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.ChildFailedException;
import org.jvmd.sys.proc.Spawner;
import org.jvmd.sys.proc.WaitStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * vmm-proc as vmd starts it: a child JVM with its channel on fd 3. Bad StartVm input is
 * answered with Error instead of Ready, and the child exits; a running VM (a tiny spinning
 * "kernel") is paused, unpaused and stopped over the channel. (The real-guest runs of the
 * same entry are in {@link LinuxGuestLabTest}.)
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VmmChildTest {
    @TempDir
    Path dir;

    /**
     * How long the tests' device processes may take to answer Ready, as vmd would pass it:
     * its default wait's share, or the one it gets in kvm-lab's slow emulated machine.
     */
    static final int DEVICE_READY_MS = System.getenv("KVM_LAB") != null ? 240_000 : 48_000;
    /** How long a JVM may take to start here, or in kvm-lab's emulated machine. */
    static final long JVM_START_MS = System.getenv("KVM_LAB") != null ? 600_000 : 60_000;

    static ToVmm start(VmConfig config, FdRole... roles) {
        if (config.getDeviceReadyTimeoutMs() == 0) {
            config = config.toBuilder().setDeviceReadyTimeoutMs(DEVICE_READY_MS).build();
        }
        ToVmm.Builder b = ToVmm.newBuilder().setStart(StartVm.newBuilder().setConfig(config));
        for (FdRole r : roles) {
            b.addFds(FdSlot.newBuilder().setRole(r).setIndex(0));
        }
        return b.build();
    }

    static Spawner spawner(String title) {
        return Spawner.role(org.jvmd.sys.proc.Role.VMM, title).jvmOptions("-XX:TieredStopAtLevel=1");
    }

    @Test
    @RequiresKvm
    void aNonBzImageKernelIsAnsweredWithErrorAndTheChildExits() throws Exception {
        Path k = dir.resolve("kernel");
        Files.writeString(k, "not a kernel".repeat(100));
        try (Child c = spawner("vm/bad").output(dir.resolve("child.log")).spawn()) {
            Fd kvm = LibC.open("/dev/kvm", LibC.O_RDWR);
            Fd kernel = LibC.open(k.toString(), LibC.O_RDONLY);
            c.channel().send(start(VmConfig.newBuilder().setName("bad").setMemoryBytes(64L << 20).setVcpus(1).build(),
                    FdRole.FD_KVM, FdRole.FD_KERNEL), kvm, kernel);
            ChildFailedException e = assertThrows(ChildFailedException.class,
                    () -> c.awaitReady(FromVmm.parser(), 60_000));
            assertEquals("vm/bad failed: vm/bad: kernel: not a bzImage (no HdrS magic)", e.getMessage());
        }
    }

    @Test
    void aStartVmWithoutTheKvmFdIsAnsweredWithError() throws Exception {
        try (Child c = spawner("vm/nokvm").output(dir.resolve("child.log")).spawn()) {
            c.channel().send(start(VmConfig.newBuilder().setName("nokvm").setMemoryBytes(64L << 20).build()));
            ChildFailedException e = assertThrows(ChildFailedException.class,
                    () -> c.awaitReady(FromVmm.parser(), 60_000));
            assertTrue(e.getMessage().contains("StartVm carries no FD_KVM (/dev/kvm)"), e.getMessage());
            WaitStatus s = c.waitFor(10_000);
            assertTrue(s == null || !s.describe().isEmpty());
            // vmm-proc logs on the one facility, titled from StartVm: title: level: message
            assertTrue(Files.readString(dir.resolve("child.log")).lines()
                    .anyMatch(l -> l.equals("vm/nokvm: warning: StartVm carries no FD_KVM (/dev/kvm)")),
                    Files.readString(dir.resolve("child.log")));
        }
    }

    /**
     * A vmm-proc spawned ahead of its VM (vmd's warm pool) finds no StartVm, warms up and waits
     * past any timeout; given one later, it fails (here: no KVM descriptor) exactly as a fresh
     * one, under the VM's title.
     */
    @Test
    void aVmmProcThatWaitsForItsStartVmWarmsUpAndThenTakesItAsAFreshOne() throws Exception {
        Path log = dir.resolve("child.log");
        try (Child c = waiting(log)) {
            // and the vionet-proc for a first NIC, started ahead too, to wait for its init (DeviceMain)
            ProcessHandle spare = awaitSpare(c);
            assertEquals(null, c.waitFor(500), "still waiting");
            c.retitle("vm/late");
            c.channel().send(start(VmConfig.newBuilder().setName("late").setMemoryBytes(64L << 20).build()));
            ChildFailedException e = assertThrows(ChildFailedException.class,
                    () -> c.awaitReady(FromVmm.parser(), 60_000));
            assertEquals("vm/late failed: vm/late: StartVm carries no FD_KVM (/dev/kvm)", e.getMessage());
            assertTrue(Files.readString(log).lines()
                    .anyMatch(l -> l.equals("vm/late: warning: StartVm carries no FD_KVM (/dev/kvm)")),
                    Files.readString(log));
            assertTrue(c.waitFor(JVM_START_MS) != null, "vm/late ended");
            assertTrue(gone(spare), "its spare vionet-proc (a VM without a NIC needs none) is gone with it");
        }
    }

    /** A spare that died while its vmm-proc waited is not handed the VM's NIC: another is started for it. */
    @Test
    void aWaitingVmmProcWhoseSpareDiedStartsAnotherForItsNic() throws Exception {
        Path log = dir.resolve("child.log");
        try (Child c = waiting(log)) {
            ProcessHandle spare = awaitSpare(c);
            LibC.kill((int) spare.pid(), LibC.SIGKILL);
            // a zombie until its vmm-proc reaps it, at StartVm
            for (long end = System.nanoTime() + 10_000_000_000L; !zombieOrGone(spare.pid()); ) {
                assertTrue(System.nanoTime() < end, "the spare, killed, still runs");
                Thread.sleep(20);
            }
            c.retitle("vm/late");
            c.channel().send(start(VmConfig.newBuilder().setName("late").setMemoryBytes(64L << 20)
                    .addNics(org.jvmd.proto.NicConfig.newBuilder().setIndex(0).setTapName("t0")).build()));
            ChildFailedException e = assertThrows(ChildFailedException.class,
                    () -> c.awaitReady(FromVmm.parser(), 60_000));
            assertEquals("vm/late failed: vm/late: StartVm carries no FD_KVM (/dev/kvm)", e.getMessage());
            awaitLine(log, "vm/late: debug: spare vionet-proc was killed by signal 9: starting another");
        }
    }

    /** Its channel closed before any StartVm (vmd closed its pool, or ended), a waiting vmm-proc exits 0 quietly. */
    @Test
    void aVmmProcWhoseChannelClosesBeforeStartVmExitsZeroQuietly() throws Exception {
        Path log = dir.resolve("child.log");
        try (Child c = spawner("vm (warm pool)").output(log).spawn()) {
            assertEquals(null, c.waitFor(1_500), "it waits for its StartVm");
            c.channel().close();
            WaitStatus s = c.waitFor(JVM_START_MS);
            assertTrue(s != null && s.describe().equals("exited with status 0"), s == null ? "still running" : s.describe());
            assertEquals("", Files.readString(log).lines().filter(l -> !l.startsWith("WARNING:")
                    && !l.startsWith("Picked up JAVA_TOOL_OPTIONS:")).reduce("", (a, l) -> a + l + "\n"));
        }
    }

    /** A vmm-proc as vmd's warm pool spawns one, debug lines to {@code log}, once it waits for StartVm. */
    static Child waiting(Path log) throws Exception {
        Child c = spawner("vm (warm pool)").jvmOptions("-Djvmd.debug=true").output(log).spawn();
        try {
            awaitLine(log, "vm: debug: waiting for StartVm (warmed up in ");
            return c;
        } catch (Exception | AssertionError e) {
            c.close();
            throw e;
        }
    }

    /** The one child of a vmm-proc waiting for StartVm: the spare vionet-proc it starts for a first NIC. */
    static ProcessHandle awaitSpare(Child c) throws Exception {
        // a child seen just after its fork, or inside its exec, shows no arguments yet: wait for them too
        List<ProcessHandle> spare = List.of();
        for (long end = System.nanoTime() + JVM_START_MS * 1_000_000L; System.nanoTime() < end; ) {
            Thread.sleep(20);
            spare = ProcessHandle.of(c.pid()).orElseThrow().children().toList();
            if (spare.size() == 1 && isVionet(spare.get(0))) {
                break;
            }
        }
        assertEquals(1, spare.size(), "one spare vionet-proc: " + spare);
        assertTrue(isVionet(spare.get(0)), spare.get(0).info().toString());
        return spare.get(0);
    }

    private static boolean isVionet(ProcessHandle p) {
        return p.info().commandLine().orElse("").contains("org.jvmd.vionet.VionetMain");
    }

    static boolean zombieOrGone(long pid) throws java.io.IOException {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (java.nio.file.NoSuchFileException e) {
            return true;
        }
    }

    /** Whether {@code p} ends within 10 s. */
    static boolean gone(ProcessHandle p) {
        return p.onExit().thenApply(h -> true).completeOnTimeout(false, 10, TimeUnit.SECONDS).join();
    }

    static void awaitLine(Path log, String prefix) throws Exception {
        long end = System.nanoTime() + JVM_START_MS * 1_000_000L;
        while (System.nanoTime() < end) {
            if (Files.exists(log) && Files.readString(log).lines().anyMatch(l -> l.startsWith(prefix))) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no line " + prefix + " in " + (Files.exists(log) ? Files.readString(log) : "(none)"));
    }

    private static FromVmm next(Child c) throws Exception {
        return next(c, 60_000);
    }

    /**
     * The child's next message other than MemoryUsage, which vmm-proc sends whenever the
     * guest's resident memory changed (at most once a second: before VmStarted, and between
     * any two other messages).
     */
    static FromVmm next(Child c, long timeoutMs) throws Exception {
        while (true) {
            try (Received<FromVmm> r = c.channel().receive(FromVmm.parser(), timeoutMs)) {
                if (!r.message().hasMemory()) {
                    return r.message();
                }
            }
        }
    }

    /** A "kernel" that spins at its 64-bit entry: {@code jmp $}. */
    static final byte[] SPIN = {(byte) 0xEB, (byte) 0xFE};

    /**
     * A "kernel" that echoes COM1: it polls the line status register and writes each
     * received byte back to the transmitter.
     * <pre>
     * 0:  66 BA FD 03   mov dx, 0x3fd     ; LSR
     * 4:  EC            in al, dx
     * 5:  A8 01         test al, 1        ; data ready?
     * 7:  74 F7         jz 0
     * 9:  66 BA F8 03   mov dx, 0x3f8     ; RBR / THR
     * 13: EC            in al, dx
     * 14: EE            out dx, al
     * 15: EB EF         jmp 0
     * </pre>
     */
    static final byte[] ECHO = {0x66, (byte) 0xBA, (byte) 0xFD, 0x03, (byte) 0xEC, (byte) 0xA8, 0x01, 0x74, (byte) 0xF7,
            0x66, (byte) 0xBA, (byte) 0xF8, 0x03, (byte) 0xEC, (byte) 0xEE, (byte) 0xEB, (byte) 0xEF};

    /** Starts a VM whose "kernel" spins at its 64-bit entry (jmp $), up to VmStarted. */
    private Child spinningVm(String name) throws Exception {
        return startedVm(name, SPIN, VmConfig.newBuilder(), new FromVmm[1]);
    }

    /** Starts a VM running {@code entry} at its 64-bit entry, up to VmStarted (stored in {@code started[0]}). */
    private Child startedVm(String name, byte[] entry, VmConfig.Builder config, FromVmm[] started) throws Exception {
        Path k = dir.resolve(name + ".kernel");
        Files.write(k, new SyntheticBzImage().initSize(8L << 20).entryCode(entry).build());
        Child c = spawner("vm/" + name).output(dir.resolve(name + ".log")).spawn();
        Fd kvm = LibC.open("/dev/kvm", LibC.O_RDWR);
        Fd kernel = LibC.open(k.toString(), LibC.O_RDONLY);
        c.channel().send(start(config.setName(name).setMemoryBytes(64L << 20).setVcpus(2).build(),
                FdRole.FD_KVM, FdRole.FD_KERNEL), kvm, kernel);
        assertEquals("vm/" + name, c.awaitReady(FromVmm.parser(), 60_000).getReady().getProcess());
        started[0] = next(c);
        assertTrue(started[0].hasStarted(), started[0].toString());
        return c;
    }

    @Test
    @RequiresKvm
    void theConsoleIsAPtyOwnedByTheVmOwnerThatCarriesInputToTheGuestAndItsOutputBack() throws Exception {
        FromVmm[] started = new FromVmm[1];
        try (Child c = startedVm("echo", ECHO, VmConfig.newBuilder().setConsoleUid(4242).setConsoleGid(4343), started)) {
            String tty = started[0].getStarted().getTty();
            assertTrue(tty.matches("/dev/pts/\\d+"), tty);
            Path p = Path.of(tty);
            assertEquals(4242, Files.getAttribute(p, "unix:uid"));
            assertEquals(4343, Files.getAttribute(p, "unix:gid"));
            assertEquals(0660, (Integer) Files.getAttribute(p, "unix:mode") & 0777);
            try (Fd t = Terminal.open(tty)) {
                Terminal.makeRaw(t);
                byte[] line = "hello from the console\n".getBytes(StandardCharsets.US_ASCII);
                Terminal.write(t, line, 0, line.length);
                StringBuilder seen = new StringBuilder();
                byte[] buf = new byte[256];
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!seen.toString().contains("hello from the console") && System.nanoTime() < deadline) {
                    if (LibC.poll(t, LibC.POLLIN, 500) != 0) {
                        int n = Terminal.read(t, buf);
                        seen.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
                    }
                }
                assertEquals("hello from the console\n", seen.toString(), "the guest's echo through the pty");
            }
            c.channel().send(ToVmm.newBuilder().setStop(StopVm.newBuilder().setForce(true)).build());
            assertEquals(Termination.TERM_STOPPED, next(c).getTerminated().getHow());
            WaitStatus s = c.waitFor(JVM_START_MS);
            assertTrue(s != null && s.describe().contains("status " + VmmMain.EXIT_STOPPED), String.valueOf(s));
            assertTrue(!Files.exists(p), tty + " is gone with the VM");
        }
    }

    @Test
    @RequiresKvm
    void pauseUnpauseAndAGracefulStopThatTheGuestIgnoresAreReported() throws Exception {
        try (Child c = spinningVm("ctl")) {
            c.channel().send(ToVmm.newBuilder().setPause(PauseVm.getDefaultInstance()).build());
            assertTrue(next(c).hasPaused());
            c.channel().send(ToVmm.newBuilder().setUnpause(UnpauseVm.getDefaultInstance()).build());
            assertTrue(next(c).hasUnpaused());
            // No guest driver listens to the keyboard or the power button: the stop is forced after the timeout.
            c.channel().send(ToVmm.newBuilder().setStop(StopVm.newBuilder().setTimeoutMs(200)).build());
            FromVmm t = next(c);
            assertTrue(t.hasTerminated(), t.toString());
            assertEquals(Termination.TERM_STOPPED, t.getTerminated().getHow());
            WaitStatus s = c.waitFor(JVM_START_MS);
            assertTrue(s != null && s.describe().contains("status " + VmmMain.EXIT_STOPPED), String.valueOf(s));
        }
    }

    @Test
    @RequiresKvm
    void theVmStopsWhenVmdClosesTheChannel() throws Exception {
        try (Child c = spinningVm("orphan")) {
            c.channel().close();
            WaitStatus s = c.waitFor(JVM_START_MS);
            assertTrue(s != null && s.describe().contains("status " + VmmMain.EXIT_STOPPED), String.valueOf(s));
        }
    }
}
