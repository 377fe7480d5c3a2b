package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jvmd.testkit.Host;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.qcow2.QemuImg;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;

/**
 * A real vmd resolving qcow2 base chains at start: a missing base, a loop and a base in use as
 * another VM's own disk fail {@code vmctl start} with a message naming the disk, and nothing
 * is left behind (no tap, no process, no descriptor, no lock, on the image or its bases).
 * Needs no KVM: vmd opens the images and their chains before anything else.
 */
@NetnsTest
class VmdQcow2DiskTest {
    @TempDir
    static Path dir;
    @AutoClose
    static VmdProcess vmd;

    @BeforeAll
    static void startVmd(NetNs ns) throws Exception {
        Files.writeString(dir.resolve("bzImage"), "not a kernel");
        Files.write(dir.resolve("base.raw"), new byte[1 << 20]);
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw",
                dir.resolve("thin.qcow2").toString());
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "gone.raw", "-F", "raw",
                dir.resolve("orphan.qcow2").toString(), "1M");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "b.qcow2", "-F", "qcow2",
                dir.resolve("a.qcow2").toString(), "1M");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "a.qcow2", "-F", "qcow2",
                dir.resolve("b.qcow2").toString(), "1M");
        String conf = "vm \"thin\" {\n  boot \"bzImage\"\n  interface\n  disk \"thin.qcow2\"\n  disable\n}\n"
                + "vm \"orphan\" {\n  boot \"bzImage\"\n  interface\n  disk \"orphan.qcow2\" format qcow2\n  disable\n}\n"
                + "vm \"loop\" {\n  boot \"bzImage\"\n  interface\n  disk \"a.qcow2\"\n  disable\n}\n";
        vmd = VmdProcess.start(dir, conf, ns.name(), List.of());
    }

    @Test
    void aMissingBaseOrALoopFailsTheStartByName() throws Exception {
        long fds = vmd.fdCount();
        Vmctl.Result r = vmd.vmctl("start", "orphan");
        assertEquals(1, r.status());
        Path orphan = dir.resolve("orphan.qcow2");
        assertEquals("vmctl: start vm command failed: disk 0 (" + orphan + "): " + orphan + ": base image "
                + dir.resolve("gone.raw") + " not found\n", r.err());
        r = vmd.vmctl("start", "loop");
        assertEquals(1, r.status());
        Path a = dir.resolve("a.qcow2");
        assertEquals("vmctl: start vm command failed: disk 0 (" + a + "): " + a + ": backing file loop: " + a
                + " appears twice in the chain\n", r.err());
        assertEquals(List.of(), vmd.vmProcesses(), "processes left");
        vmd.awaitFdsBack(fds, 10_000);
        assertTrue(vmd.process.isAlive());
    }

    @Test
    void aBaseInUseAsAnotherVmsDiskFailsTheStartAndItsSharedLockGoesWithTheVm() throws Exception {
        long fds = vmd.fdCount();
        Path base = dir.resolve("base.raw");
        Path thin = dir.resolve("thin.qcow2");
        try (Fd other = LibC.open(base.toString(), LibC.O_RDWR)) {
            LibC.flock(other, LibC.LOCK_EX | LibC.LOCK_NB); // another VM has the base as its own disk
            Vmctl.Result r = vmd.vmctl("start", "thin");
            assertEquals(1, r.status());
            assertEquals("vmctl: start vm command failed: disk 0 (" + thin + "): base image " + base
                    + ": in use by another VM as its own disk (locked)\n", r.err());
        }
        vmd.awaitFdsBack(fds, 10_000);
        if (Host.missingKvm().isPresent()) {
            // past the chain, this start fails later (no KVM here): the locks must go with it
            Vmctl.Result r = vmd.vmctl("start", "thin");
            assertEquals(1, r.status());
            assertFalse(r.err().contains("disk 0"), r.err());
            try (Fd again = LibC.open(base.toString(), LibC.O_RDWR); Fd top = LibC.open(thin.toString(), LibC.O_RDWR)) {
                LibC.flock(again, LibC.LOCK_EX | LibC.LOCK_NB);
                LibC.flock(top, LibC.LOCK_EX | LibC.LOCK_NB);
            }
            vmd.awaitFdsBack(fds, 10_000);
        }
    }
}
