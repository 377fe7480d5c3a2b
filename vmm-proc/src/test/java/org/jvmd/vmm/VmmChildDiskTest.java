package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.DiskStats;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FromVmm;
import org.jvmd.proto.StatsRequest;
import org.jvmd.proto.StopVm;
import org.jvmd.proto.ToVmm;
import org.jvmd.proto.VmConfig;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.ChildFailedException;
import org.jvmd.vmm.blk.VioblkProxy;
import org.jvmd.vmm.boot.SyntheticBzImage;

/**
 * vmm-proc's disks as vmd hands them over (StartVm: VmConfig.disks, FD_DISK per disk and
 * layer): a missing image descriptor is an Error naming the disk; with vioblk-proc on the
 * class path, a raw disk comes up behind a virtio-blk device and answers stats.
 */
@Timeout(value = 900, unit = TimeUnit.SECONDS)
class VmmChildDiskTest {
    /** Waits stretch inside kvm-lab's emulated machine (a JVM start there takes minutes). */
    static final long SLOW = System.getenv("KVM_LAB") != null ? 5 : 1;

    @TempDir
    Path dir;

    static void assumeKvm() {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/kvm")), "SKIPPED: /dev/kvm is absent on this machine");
    }

    /** Spawns vmm-proc {@code name} and sends it a spinning kernel, the disks of {@code config} and {@code images}. */
    private Child start(String name, VmConfig.Builder config, Fd... images) throws Exception {
        Path k = dir.resolve(name + ".kernel");
        Files.write(k, new SyntheticBzImage().initSize(8L << 20).entryCode(VmmChildTest.SPIN).build());
        Child c = VmmChildTest.spawner("vm/" + name).output(dir.resolve(name + ".log")).spawn();
        ToVmm.Builder m = VmmChildTest.start(config.setName(name).setMemoryBytes(64L << 20).setVcpus(1).build(),
                FdRole.FD_KVM, FdRole.FD_KERNEL).toBuilder();
        Fd[] fds = new Fd[2 + images.length];
        fds[0] = LibC.open("/dev/kvm", LibC.O_RDWR);
        fds[1] = LibC.open(k.toString(), LibC.O_RDONLY);
        for (int i = 0; i < images.length; i++) {
            fds[2 + i] = images[i];
            m.addFds(FdSlot.newBuilder().setRole(FdRole.FD_DISK).setIndex(i));
        }
        c.channel().send(m.build(), fds);
        return c;
    }

    private static DiskConfig raw(int index, Path image) {
        return DiskConfig.newBuilder().setIndex(index).setPath(image.toString()).setFormat(DiskFormat.FORMAT_RAW)
                .setSerial("test-" + index).build();
    }

    @Test
    void aDiskWithoutItsImageDescriptorIsAnsweredWithErrorNamingIt() throws Exception {
        assumeKvm();
        Path img = Files.write(dir.resolve("a.img"), new byte[1 << 20]);
        try (Child c = start("nodisk", VmConfig.newBuilder().addDisks(raw(0, img)).addDisks(raw(1, img)),
                LibC.open(img.toString(), LibC.O_RDWR))) {
            ChildFailedException e = assertThrows(ChildFailedException.class,
                    () -> c.awaitReady(FromVmm.parser(), 60_000 * SLOW));
            assertTrue(e.getMessage().endsWith("no FD_DISK for disk 1 layer 0"), e.getMessage());
            assertTrue(c.waitFor(30_000 * SLOW) != null, "vmm-proc exits");
        }
    }

    @Test
    void aRawDiskComesUpAndAnswersStats() throws Exception {
        assumeKvm();
        boolean vioblk;
        try {
            Class.forName(VioblkProxy.MAIN_CLASS);
            vioblk = true;
        } catch (ClassNotFoundException e) {
            vioblk = false;
        }
        Assumptions.assumeTrue(vioblk, "SKIPPED: vioblk-proc is not on the class path");
        Path img = Files.write(dir.resolve("a.img"), new byte[4 << 20]);
        try (Child c = start("disk", VmConfig.newBuilder().addDisks(raw(0, img)),
                LibC.open(img.toString(), LibC.O_RDWR))) {
            assertEquals("vm/disk", c.awaitReady(FromVmm.parser(), 120_000 * SLOW).getReady().getProcess());
            assertTrue(next(c).hasStarted());
            c.channel().send(ToVmm.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
            FromVmm stats = next(c);
            assertEquals(1, stats.getStats().getDisksCount(), stats.toString());
            DiskStats d = stats.getStats().getDisks(0);
            assertEquals(0, d.getDisk());
            assertFalse(d.getDead());
            c.channel().send(ToVmm.newBuilder().setStop(StopVm.newBuilder().setForce(true)).build());
            assertTrue(next(c).hasTerminated());
        }
    }

    private static FromVmm next(Child c) throws Exception {
        return VmmChildTest.next(c, 60_000 * SLOW);
    }
}
