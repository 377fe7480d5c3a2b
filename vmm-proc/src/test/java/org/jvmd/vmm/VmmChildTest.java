package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.PauseVm;
import org.jvmd.proto.StopVm;
import org.jvmd.proto.Termination;
import org.jvmd.proto.UnpauseVm;
import org.jvmd.sys.Received;
import org.jvmd.vmm.boot.SyntheticBzImage;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FromVmm;
import org.jvmd.proto.StartVm;
import org.jvmd.proto.ToVmm;
import org.jvmd.proto.VmConfig;
import org.jvmd.sys.Child;
import org.jvmd.sys.ChildFailedException;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.Spawner;
import org.jvmd.sys.WaitStatus;
import org.junit.jupiter.api.Assumptions;
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

    static ToVmm start(VmConfig config, FdRole... roles) {
        ToVmm.Builder b = ToVmm.newBuilder().setStart(StartVm.newBuilder().setConfig(config));
        for (FdRole r : roles) {
            b.addFds(FdSlot.newBuilder().setRole(r).setIndex(0));
        }
        return b.build();
    }

    static Spawner spawner(String title) {
        return Spawner.java(title, VmmMain.class.getName()).jvmOptions("-XX:TieredStopAtLevel=1");
    }

    @Test
    void aNonBzImageKernelIsAnsweredWithErrorAndTheChildExits() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/kvm")), "SKIPPED: /dev/kvm is absent on this machine");
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
        }
    }

    private static FromVmm next(Child c) throws Exception {
        try (Received<FromVmm> r = c.channel().receive(FromVmm.parser(), 60_000)) {
            return r.message();
        }
    }

    /** Starts a VM whose "kernel" spins at its 64-bit entry (jmp $), up to VmStarted. */
    private Child spinningVm(String name) throws Exception {
        Path k = dir.resolve("spin");
        Files.write(k, new SyntheticBzImage().initSize(8L << 20).entryCode(new byte[] {(byte) 0xEB, (byte) 0xFE}).build());
        Child c = spawner("vm/" + name).output(dir.resolve(name + ".log")).spawn();
        Fd kvm = LibC.open("/dev/kvm", LibC.O_RDWR);
        Fd kernel = LibC.open(k.toString(), LibC.O_RDONLY);
        c.channel().send(start(VmConfig.newBuilder().setName(name).setMemoryBytes(64L << 20).setVcpus(2).build(),
                FdRole.FD_KVM, FdRole.FD_KERNEL), kvm, kernel);
        assertEquals("vm/" + name, c.awaitReady(FromVmm.parser(), 60_000).getReady().getProcess());
        FromVmm started = next(c);
        assertTrue(started.hasStarted(), started.toString());
        return c;
    }

    @Test
    void pauseUnpauseAndAGracefulStopThatTheGuestIgnoresAreReported() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/kvm")), "SKIPPED: /dev/kvm is absent on this machine");
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
            WaitStatus s = c.waitFor(30_000);
            assertTrue(s != null && s.describe().contains("status " + VmmMain.EXIT_STOPPED), String.valueOf(s));
        }
    }

    @Test
    void theVmStopsWhenVmdClosesTheChannel() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/kvm")), "SKIPPED: /dev/kvm is absent on this machine");
        try (Child c = spinningVm("orphan")) {
            c.channel().close();
            WaitStatus s = c.waitFor(30_000);
            assertTrue(s != null && s.describe().contains("status " + VmmMain.EXIT_STOPPED), String.valueOf(s));
        }
    }
}
