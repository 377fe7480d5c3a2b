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
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;

/**
 * A real vmd (in a network namespace of its own) refusing to start a VM whose disk image is
 * missing or in use: vmctl's message names the disk, and nothing is left behind (no tap, no
 * process, no descriptor, no lock). Needs no KVM: vmd opens the images before anything else.
 */
@NetnsTest
class VmdDiskTest {
    @TempDir
    static Path dir;
    @AutoClose
    static VmdProcess vmd;
    static Path image;

    @BeforeAll
    static void startVmd(NetNs ns) throws Exception {
        Files.writeString(dir.resolve("bzImage"), "not a kernel");
        image = Files.writeString(dir.resolve("web.img"), "a raw disk");
        String conf = "vm \"missing\" {\n  boot \"bzImage\"\n  interface\n  disk \"missing.img\"\n  disable\n}\n"
                + "vm \"web\" {\n  boot \"bzImage\"\n  interface\n  disk \"web.img\" format raw\n  disable\n}\n";
        vmd = VmdProcess.start(dir, conf, ns.name(), List.of());
    }

    /** What vmd left: links in its namespace besides lo, and its child processes. */
    static void assertNothingLeft() throws Exception {
        assertEquals("lo", TestUser.sh("ip", "-n", vmd.netns, "-o", "link", "show").lines()
                .map(l -> l.split(":")[1].trim()).reduce((a, b) -> a + "," + b).orElse(""), "taps left behind");
        assertEquals(List.of(), vmd.vmProcesses(), "processes left");
    }

    @Test
    void aMissingImageFailsTheStartByNameAndLeavesNothingBehind() throws Exception {
        long fds = vmd.fdCount();
        Vmctl.Result r = vmd.vmctl("start", "missing");
        assertEquals(1, r.status());
        assertEquals("vmctl: start vm command failed: disk 0 (" + dir.resolve("missing.img")
                + "): No such file or directory\n", r.err());
        assertTrue(vmd.vmctl("status", "missing").out().contains(" stopped missing"), vmd.logText());
        assertNothingLeft();
        vmd.awaitFdsBack(fds, 10_000);
        assertTrue(vmd.process.isAlive());
    }

    @Test
    void anImageInUseFailsTheStartByNameAndTheLockIsGoneAfterAFailedStart() throws Exception {
        long fds = vmd.fdCount();
        try (Fd other = LibC.open(image.toString(), LibC.O_RDWR)) {
            LibC.flock(other, LibC.LOCK_EX | LibC.LOCK_NB); // another VM's vmd holds it
            Vmctl.Result r = vmd.vmctl("start", "web");
            assertEquals(1, r.status());
            assertEquals("vmctl: start vm command failed: disk 0 (" + image + "): in use by another VM (locked)\n",
                    r.err());
        }
        assertNothingLeft();
        vmd.awaitFdsBack(fds, 10_000);
        if (Host.missingKvm().isPresent()) {
            // past the image, this start fails later (no KVM here): the image's lock must go with it
            Vmctl.Result r = vmd.vmctl("start", "web");
            assertEquals(1, r.status());
            assertFalse(r.err().contains("disk 0"), r.err());
            assertNothingLeft();
            try (Fd again = LibC.open(image.toString(), LibC.O_RDWR)) {
                LibC.flock(again, LibC.LOCK_EX | LibC.LOCK_NB);
            }
            vmd.awaitFdsBack(fds, 10_000);
        }
    }
}
