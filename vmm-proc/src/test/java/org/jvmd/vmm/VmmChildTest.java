package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.FdRole;
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
 * answered with Error instead of Ready, and the child exits. (The real-guest runs of the
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
}
