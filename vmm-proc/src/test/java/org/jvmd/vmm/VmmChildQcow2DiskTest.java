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
 * A qcow2 disk as vmd hands it to vmm-proc: FD_DISK layer 0 (the image) and layer 1 (its raw
 * base, read-only) with {@code base_formats}; vmm-proc relays both to the disk's vioblk-proc,
 * which comes up with the chain; a chain the image does not match fails the start with the
 * library's message naming the disk. Needs /dev/kvm (the lab).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class VmmChildQcow2DiskTest {
    @TempDir
    Path dir;

    private Child start(String name, DiskConfig disk, Fd... layers) throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/kvm")), "SKIPPED: /dev/kvm is absent on this machine");
        try {
            Class.forName(VioblkProxy.MAIN_CLASS);
        } catch (ClassNotFoundException e) {
            Assumptions.abort("SKIPPED: vioblk-proc is not on the class path");
        }
        Path k = dir.resolve(name + ".kernel");
        Files.write(k, new SyntheticBzImage().initSize(8L << 20).entryCode(VmmChildTest.SPIN).build());
        Child c = VmmChildTest.spawner("vm/" + name).output(dir.resolve(name + ".log")).spawn();
        ToVmm.Builder m = VmmChildTest.start(VmConfig.newBuilder().addDisks(disk).setName(name)
                .setMemoryBytes(64L << 20).setVcpus(1).build(), FdRole.FD_KVM, FdRole.FD_KERNEL).toBuilder();
        Fd[] fds = new Fd[2 + layers.length];
        fds[0] = LibC.open("/dev/kvm", LibC.O_RDWR);
        fds[1] = LibC.open(k.toString(), LibC.O_RDONLY);
        for (int l = 0; l < layers.length; l++) {
            fds[2 + l] = layers[l];
            m.addFds(FdSlot.newBuilder().setRole(FdRole.FD_DISK).setIndex(0).setLayer(l));
        }
        c.channel().send(m.build(), fds);
        return c;
    }

    private Path[] chain() throws Exception {
        Path base = Files.write(dir.resolve("base.raw"), new byte[4 << 20]);
        Path top = dir.resolve("top.qcow2");
        Process q = new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw",
                top.toString()).inheritIO().start();
        assertEquals(0, q.waitFor(), "qemu-img create (qemu-utils)");
        return new Path[] {top, base};
    }

    @Test
    void aQcow2DiskOverARawBaseComesUpAndAnswersStats() throws Exception {
        Path[] p = chain();
        DiskConfig disk = DiskConfig.newBuilder().setIndex(0).setPath(p[0].toString())
                .setFormat(DiskFormat.FORMAT_QCOW2).addBaseFormats(DiskFormat.FORMAT_RAW).setSerial("test-0").build();
        try (Child c = start("qdisk", disk, LibC.open(p[0].toString(), LibC.O_RDWR),
                LibC.open(p[1].toString(), LibC.O_RDONLY))) {
            assertEquals("vm/qdisk", c.awaitReady(FromVmm.parser(), 240_000).getReady().getProcess());
            assertTrue(next(c).hasStarted());
            c.channel().send(ToVmm.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
            DiskStats d = next(c).getStats().getDisks(0);
            assertEquals(0, d.getDisk());
            assertFalse(d.getDead());
            c.channel().send(ToVmm.newBuilder().setStop(StopVm.newBuilder().setForce(true)).build());
            assertTrue(next(c).hasTerminated());
        }
    }

    @Test
    void aQcow2DiskWithoutItsBaseFailsTheStartNamingTheDisk() throws Exception {
        Path[] p = chain();
        DiskConfig disk = DiskConfig.newBuilder().setIndex(0).setPath(p[0].toString())
                .setFormat(DiskFormat.FORMAT_QCOW2).setSerial("test-0").build();
        try (Child c = start("qnobase", disk, LibC.open(p[0].toString(), LibC.O_RDWR))) {
            ChildFailedException e = assertThrows(ChildFailedException.class,
                    () -> c.awaitReady(FromVmm.parser(), 240_000));
            assertTrue(e.getMessage().contains("disk 0 (" + p[0] + "): " + p[0] + ": missing base image 'base.raw'"),
                    e.getMessage());
        }
    }

    private static FromVmm next(Child c) throws Exception {
        return VmmChildTest.next(c, 60_000);
    }
}
