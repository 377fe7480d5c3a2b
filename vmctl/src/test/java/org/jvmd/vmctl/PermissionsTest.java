package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.testkit.EchoGuest;

/**
 * A non-root user created by the test runs vmctl (its own process, its own uid: vmd sees it
 * through SO_PEERCRED) against a real vmd: it may act on its own VM and is refused on root's VM
 * and on daemon commands, with vmctl's messages.
 */
class PermissionsTest {
    static TestUser user;
    static String USER;

    @BeforeAll
    static void createUser() throws Exception {
        user = TestUser.create("jvmdt");
        USER = user.name;
    }

    @AfterAll
    static void removeUser() throws Exception {
        user.close();
    }

    @TempDir
    Path dir;

    /** vmctl as the test user, in its own process. */
    Vmctl.Result asUser(Path socket, String... args) throws Exception {
        return user.vmctl(socket, args);
    }

    @Test
    void aUserMayActOnlyOnItsOwnVmAndIsRefusedWithVmctlsMessages() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("bzImage"), "not a kernel");
        String conf = "socket owner root:" + USER + "\n"
                + "vm \"mine\" {\n  boot \"bzImage\"\n  owner " + USER + "\n  disable\n}\n"
                + "vm \"theirs\" {\n  boot \"bzImage\"\n  disable\n}\n";
        try (VmdProcess vmd = VmdProcess.start(dir, conf)) {
            Vmctl.Result st = asUser(vmd.socket, "status");
            assertEquals(0, st.status(), st.err());
            List<String> lines = st.out().lines().toList();
            assertEquals(3, lines.size(), st.out());
            assertEquals(String.format("%12s", USER), StatusTableTest.columns(lines.get(1))[6]);
            assertEquals("mine", StatusTableTest.columns(lines.get(1))[8]);

            Vmctl.Result r = asUser(vmd.socket, "stop", "theirs");
            assertEquals(1, r.status());
            assertEquals("stopping vm theirs: failed: Operation not permitted\n", r.err());

            r = asUser(vmd.socket, "start", "theirs");
            assertEquals(1, r.status());
            assertEquals("vmctl: start vm command failed: Operation not permitted\n", r.err());

            r = asUser(vmd.socket, "pause", "2");
            assertEquals(1, r.status());
            assertEquals("vmctl: pause vm command failed: Operation not permitted\n", r.err());

            r = asUser(vmd.socket, "console", "theirs");
            assertEquals(1, r.status());
            assertEquals("vmctl: console: Operation not permitted\n", r.err());

            r = asUser(vmd.socket, "reload");
            assertEquals(1, r.status());
            assertEquals("vmctl: command failed: Operation not permitted\n", r.err());

            r = asUser(vmd.socket, "start", "adhoc", "-b", dir.resolve("bzImage").toString());
            assertEquals("vmctl: start vm command failed: Operation not permitted\n", r.err());

            // its own VM: permitted, so the answer is about the VM's state, not permission
            r = asUser(vmd.socket, "stop", "mine");
            assertEquals(1, r.status());
            assertEquals("stopping vm mine: cannot stop vm that is not running\n", r.err());
            r = asUser(vmd.socket, "console", "mine");
            assertEquals("vmctl: console not found\n", r.err());
            r = asUser(vmd.socket, "pause", "mine");
            assertEquals("vmctl: pause vm command failed: Invalid argument\n", r.err());
            assertTrue(vmd.process.isAlive());
        }
    }

    @Test
    void aUserOutsideTheSocketGroupCannotConnect() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("bzImage"), "k");
        try (VmdProcess vmd = VmdProcess.start(dir, "vm \"web\" {\n  boot \"bzImage\"\n  disable\n}\n")) {
            Vmctl.Result r = asUser(vmd.socket, "status");
            assertEquals(1, r.status());
            assertEquals("vmctl: connect: " + vmd.socket + ": Permission denied\n", r.err());
        }
    }

    @Test
    void aUserMayGiveItsInstanceOnlyImagesItCouldOpenItself() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.write(dir.resolve("bzImage"), EchoGuest.bzImage());   // a kernel /dev/kvm, where there is one, runs
        Path rootOnly = Files.writeString(dir.resolve("root.img"), "r");
        Files.setPosixFilePermissions(rootOnly, PosixFilePermissions.fromString("rw-------"));
        Path readable = Files.writeString(dir.resolve("readable.img"), "r");
        Files.setPosixFilePermissions(readable, PosixFilePermissions.fromString("rw-r--r--"));
        Path own = Files.writeString(dir.resolve("own.img"), "u");
        Files.setAttribute(own, "unix:uid", user.uid);
        String conf = "socket owner root:" + USER + "\n"
                + "vm \"tpl\" {\n  boot \"bzImage\"\n  owner " + USER + "\n  disable\n"
                + "  allow instance { disk, owner " + USER + " }\n}\n"
                + "vm \"nodisks\" {\n  boot \"bzImage\"\n  owner " + USER + "\n  disable\n"
                + "  allow instance { memory, owner " + USER + " }\n}\n";
        try (VmdProcess vmd = VmdProcess.start(dir, conf)) {
            Vmctl.Result r = asUser(vmd.socket, "start", "-t", "tpl", "-d", rootOnly.toString(), "i1");
            assertEquals(1, r.status());
            assertEquals("vmctl: cannot open disk '" + rootOnly + "': Permission denied\n", r.err());
            r = asUser(vmd.socket, "start", "-t", "tpl", "-d", readable.toString(), "i2");
            assertEquals("vmctl: cannot open disk '" + readable + "': Permission denied\n", r.err(),
                    "the guest writes its disk: reading is not enough");
            r = asUser(vmd.socket, "start", "-t", "nodisks", "-d", own.toString(), "i3");
            assertEquals("vmctl: start vm command failed: Operation not permitted\n", r.err(),
                    "allow instance without disk");

            // its own image passes vmd's checks; without KVM the start fails later, not on the disk
            r = asUser(vmd.socket, "start", "-t", "tpl", "-d", own.toString(), "i4");
            if (Files.exists(Path.of("/dev/kvm"))) {
                assertEquals(0, r.status(), r.err());
            } else {
                assertEquals("vmctl: start vm command failed: Input/output error\n", r.err());
                assertTrue(vmd.logText().contains("open(/dev/kvm)"), vmd.logText());
            }
            assertTrue(vmd.process.isAlive());
        }
    }

    @Test
    void aUserMayBootItsInstanceOnlyFromAKernelItCouldReadItself() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("bzImage"), "not a kernel");
        Path readable = Files.writeString(dir.resolve("readable-bzImage"), "not a kernel either");
        Files.setPosixFilePermissions(readable, PosixFilePermissions.fromString("rw-r--r--"));
        Path rootOnly = Files.writeString(dir.resolve("root-bzImage"), "root's");
        Files.setPosixFilePermissions(rootOnly, PosixFilePermissions.fromString("rw-------"));
        assertTrue(Files.isRegularFile(Path.of("/etc/shadow")), "a host with /etc/shadow");
        String conf = "socket owner root:" + USER + "\n"
                + "vm \"tpl\" {\n  boot \"bzImage\"\n  owner " + USER + "\n  disable\n"
                + "  allow instance { boot, owner " + USER + " }\n}\n";
        try (VmdProcess vmd = VmdProcess.start(dir, conf)) {
            // root's vmd would read it; vmctl opens it with the caller's rights and cannot
            long fds = vmd.fdCount();
            Vmctl.Result r = asUser(vmd.socket, "start", "-t", "tpl", "-b", "/etc/shadow", "i1");
            assertEquals(1, r.status());
            assertEquals("vmctl: cannot open kernel '/etc/shadow': Permission denied\n", r.err());
            r = asUser(vmd.socket, "start", "-t", "tpl", "-b", rootOnly.toString(), "i2");
            assertEquals(1, r.status());
            assertEquals("vmctl: cannot open kernel '" + rootOnly + "': Permission denied\n", r.err());


            // a kernel it can read passes vmd's checks; without KVM the start fails later
            r = asUser(vmd.socket, "start", "-t", "tpl", "-b", readable.toString(), "i3");
            if (Files.exists(Path.of("/dev/kvm"))) {
                assertTrue(!r.err().contains("Permission denied"), r.err());
            } else {
                assertEquals("vmctl: start vm command failed: Input/output error\n", r.err());
                assertTrue(vmd.logText().contains("open(/dev/kvm)"), vmd.logText());
                // the instance that could not start is forgotten, and the kernel it was passed closed
                vmd.awaitFdsBack(fds, 10_000);
            }
            assertTrue(vmd.process.isAlive());
        }
    }

    /** vmctl resolves a qcow2 image's base chain as the user and passes every base; vmd reads the chain through them. */
    @Test
    void aUsersQcow2BaseChainIsOpenedWithItsOwnRights() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("bzImage"), "not a kernel");
        Path base = dir.resolve("base.raw");
        Files.write(base, new byte[1 << 20]);
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rw-------"));
        org.jvmd.qcow2.QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw",
                dir.resolve("mid.qcow2").toString(), "1M");
        org.jvmd.qcow2.QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2",
                dir.resolve("thin.qcow2").toString(), "1M");
        Path thin = dir.resolve("thin.qcow2");
        Files.setAttribute(thin, "unix:uid", user.uid);
        Files.setPosixFilePermissions(dir.resolve("mid.qcow2"), PosixFilePermissions.fromString("rw-r--r--"));
        String conf = "socket owner root:" + USER + "\n"
                + "vm \"tpl\" {\n  boot \"bzImage\"\n  owner " + USER + "\n  disable\n"
                + "  allow instance { disk, owner " + USER + " }\n}\n";
        try (VmdProcess vmd = VmdProcess.start(dir, conf)) {
            long fds = vmd.fdCount();
            // root's vmd could read the base; the user cannot, so vmctl refuses the chain itself
            Vmctl.Result r = asUser(vmd.socket, "start", "-t", "tpl", "-d", thin.toString(), "i1");
            assertEquals(1, r.status());
            assertEquals("vmctl: disk '" + thin + "': cannot open base image '" + base + "': Permission denied\n",
                    r.err());
            Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rw-r--r--"));
            r = asUser(vmd.socket, "start", "-t", "tpl", "-d", thin.toString(), "i2");
            if (!Files.exists(Path.of("/dev/kvm"))) {
                // past the whole chain (vmd read it through the passed descriptors): fails later, on KVM
                assertEquals("vmctl: start vm command failed: Input/output error\n", r.err());
                assertTrue(vmd.logText().contains("open(/dev/kvm)"), vmd.logText());
                vmd.awaitFdsBack(fds, 10_000);
                // and every lock went with the failed start
                try (org.jvmd.sys.Fd a = org.jvmd.sys.LibC.open(base.toString(), org.jvmd.sys.LibC.O_RDWR);
                        org.jvmd.sys.Fd b = org.jvmd.sys.LibC.open(thin.toString(), org.jvmd.sys.LibC.O_RDWR)) {
                    org.jvmd.sys.LibC.flock(a, org.jvmd.sys.LibC.LOCK_EX | org.jvmd.sys.LibC.LOCK_NB);
                    org.jvmd.sys.LibC.flock(b, org.jvmd.sys.LibC.LOCK_EX | org.jvmd.sys.LibC.LOCK_NB);
                }
            } else {
                assertFalse(r.err().contains("disk"), r.err());
            }
            assertTrue(vmd.process.isAlive());
        }
    }
}
