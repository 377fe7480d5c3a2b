package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A non-root user's own client (not vmctl) against a real vmd: vmd opens no path a caller
 * names, refuses descriptors that are not what a request needs with a clear message, and
 * keeps none of the descriptors a refused or unexpected request brought (vmd's open files
 * are counted before and after).
 */
class ForgedRequestsTest {
    static TestUser user;

    @BeforeAll
    static void createUser() throws Exception {
        user = TestUser.create("jvmdf");
    }

    @AfterAll
    static void removeUser() throws Exception {
        user.close();
    }

    @TempDir
    Path dir;

    private String forged(VmdProcess vmd, String scenario, Path file) throws Exception {
        Vmctl.Result r = user.java("org.jvmd.vmctl.ForgedClient", List.of(vmd.socket.toString(), scenario, file.toString()));
        assertEquals(0, r.status(), r.err());
        return r.out().trim();
    }

    @Test
    void aForgedRequestGetsNoFileVmdWouldOpenForIt() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("bzImage"), "not a kernel");
        Path own = Files.writeString(dir.resolve("own"), "mine");
        Files.setAttribute(own, "unix:uid", user.uid);
        Files.setPosixFilePermissions(own, PosixFilePermissions.fromString("rw-------"));
        Path fifo = dir.resolve("fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", "-m", "666", fifo.toString()).start().waitFor());
        String conf = "socket owner root:" + user.name + "\n"
                + "vm \"tpl\" {\n  boot \"bzImage\"\n  owner " + user.name + "\n  disable\n"
                + "  allow instance { boot, disk, owner " + user.name + " }\n}\n";
        try (VmdProcess vmd = VmdProcess.start(dir, conf)) {
            long fds = vmd.fdCount();
            assertEquals("error: kernel /etc/shadow: not passed as a descriptor (vmctl opens the files it names)",
                    forged(vmd, "kernel-path", Path.of("/etc/shadow")));
            assertEquals("error: disk 0 (/etc/shadow): not passed as a descriptor (vmctl opens the files it names)",
                    forged(vmd, "disk-path", Path.of("/etc/shadow")));
            assertEquals("error: kernel " + dir + ": not a regular file", forged(vmd, "kernel-fd", dir));
            assertEquals("error: kernel " + fifo + ": not a regular file", forged(vmd, "kernel-fd", fifo));
            assertEquals("error: kernel " + own + ": descriptor not open for reading", forged(vmd, "kernel-wronly", own));
            assertEquals("error: disk 0 (" + own + "): descriptor not open for writing (a disk needs O_RDWR)",
                    forged(vmd, "disk-rdonly", own));
            assertEquals("ok", forged(vmd, "unexpected", own), "descriptors a request does not name are closed");
            assertEquals("dropped", forged(vmd, "too-many", own));
            vmd.awaitFdsBack(fds, 10_000);
            assertTrue(vmd.process.isAlive());
            assertTrue(vmd.vmctl("status").out().lines().noneMatch(l -> l.contains("forged")), "no VM was made");
        }
    }
}
