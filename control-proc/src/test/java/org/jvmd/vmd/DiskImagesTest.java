package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.sys.Fd;
import org.jvmd.vmd.config.Accounts;
import org.jvmd.vmd.config.DiskSpec;
import org.jvmd.vmd.config.EtcAccounts;

/**
 * vmd opening a VM's disk images at start: each opened, format-checked and locked, every
 * refusal naming the disk, nothing left open or locked after a refusal, a caller's rights
 * checked on the images it named (vm_checkaccess).
 */
class DiskImagesTest {
    static final int JOE = 1000;
    static final int GID_VMUSERS = 500;

    /** joe (1000) is in group vmusers (500) besides his own. */
    static final Accounts ACCOUNTS = EtcAccounts.of("joe:x:1000:1000::/home/joe:/bin/sh\n",
            "joe:x:1000:\nvmusers:x:500:joe\n");

    @TempDir
    Path dir;

    private Path image(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content);
    }

    private static DiskSpec raw(Path p) {
        return DiskSpec.of(p, DiskSpec.Format.AUTO);
    }

    private static String refused(List<DiskSpec> disks) {
        return assertThrows(DiskImages.DiskImageException.class, () -> DiskImages.open(disks, ACCOUNTS)).getMessage();
    }

    @Test
    void rawImagesAreOpenedInOrderAndHandedDownAsLayerZero() throws Exception {
        Path a = image("a.img", "a");
        Path b = image("b.img", "b");
        try (DiskImages images = DiskImages.open(List.of(raw(a), DiskSpec.of(b, DiskSpec.Format.RAW)), ACCOUNTS)) {
            assertEquals(List.of(
                    DiskConfig.newBuilder().setIndex(0).setPath(a.toString()).setFormat(DiskFormat.FORMAT_RAW)
                            .setSerial("web-0").build(),
                    DiskConfig.newBuilder().setIndex(1).setPath(b.toString()).setFormat(DiskFormat.FORMAT_RAW)
                            .setSerial("web-1").build()), images.configs("web"));
            List<Fd> fds = new ArrayList<>();
            List<FdSlot> slots = new ArrayList<>();
            images.dupInto(fds, slots);
            assertEquals(List.of(FdSlot.newBuilder().setRole(FdRole.FD_DISK).setIndex(0).build(),
                    FdSlot.newBuilder().setRole(FdRole.FD_DISK).setIndex(1).build()), slots);
            assertEquals(a, Files.readSymbolicLink(Path.of("/proc/self/fd/" + fds.get(0).num())));
            assertEquals(b, Files.readSymbolicLink(Path.of("/proc/self/fd/" + fds.get(1).num())));
            Fd.closeAll(fds);
        }
    }

    @Test
    void aSerialKeepsItsLast20Bytes() throws Exception {
        try (DiskImages images = DiskImages.open(List.of(raw(image("a.img", ""))), ACCOUNTS)) {
            String serial = images.configs("a-very-long-vm-name-indeed").getFirst().getSerial();
            assertEquals("-name-indeed-0".length() + 6, serial.length());
            assertEquals("ong-vm-name-indeed-0", serial);
        }
    }

    @Test
    void aMissingImageIsRefusedByName() {
        Path nope = dir.resolve("nope.img");
        assertEquals("disk 0 (" + nope + "): No such file or directory", refused(List.of(raw(nope))));
    }

    @Test
    void aDirectoryIsNoImage() {
        assertEquals("disk 0 (" + dir + "): Is a directory", refused(List.of(raw(dir))));
    }

    @Test
    void aSecondVmCannotTakeALockedImageUntilTheFirstLetsGo() throws Exception {
        Path a = image("a.img", "a");
        DiskImages first = DiskImages.open(List.of(raw(a)), ACCOUNTS);
        assertEquals("disk 0 (" + a + "): in use by another VM (locked)", refused(List.of(raw(a))));
        first.close();
        DiskImages.open(List.of(raw(a)), ACCOUNTS).close();
    }

    @Test
    void aRefusedDiskReleasesTheDisksOpenedBeforeIt() throws Exception {
        Path a = image("a.img", "a");
        Path q = image("q.qcow2", "QFI\u00fb and the rest of a header");
        Files.write(q, new byte[] {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3});
        assertEquals("disk 1 (" + q + "): qcow2 images are not supported yet", refused(List.of(raw(a), raw(q))));
        DiskImages.open(List.of(raw(a)), ACCOUNTS).close(); // disk 0's lock went with the refusal
    }

    @Test
    void qcow2IsRefusedWhetherConfiguredOrDetected() throws Exception {
        Path a = image("a.img", "not qcow2 at all");
        assertEquals("disk 0 (" + a + "): qcow2 images are not supported yet",
                refused(List.of(DiskSpec.of(a, DiskSpec.Format.QCOW2))));
        Path tiny = image("tiny.img", "QF"); // shorter than the magic: raw
        DiskImages.open(List.of(raw(tiny)), ACCOUNTS).close();
    }

    // ---- vm_checkaccess ----

    private static DiskSpec namedBy(Path p, int uid) {
        return new DiskSpec(p, DiskSpec.Format.AUTO, OptionalInt.of(uid));
    }

    @Test
    void aUserNamingARootOnlyImageIsRefused() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path secret = image("root.img", "r");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        assertEquals("disk 0 (" + secret + "): Permission denied", refused(List.of(namedBy(secret, JOE))));
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals("disk 0 (" + secret + "): Permission denied", refused(List.of(namedBy(secret, JOE))),
                "readable is not enough for a disk the guest writes");
        DiskImages.open(List.of(raw(secret)), ACCOUNTS).close(); // vm.conf's (root's) image: no check
    }

    @Test
    void aUserMayUseAnImageItOwnsOrItsGroupMayWrite() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path own = image("joe.img", "j");
        Files.setAttribute(own, "unix:uid", JOE);
        Files.setPosixFilePermissions(own, PosixFilePermissions.fromString("rw-------"));
        DiskImages.open(List.of(namedBy(own, JOE)), ACCOUNTS).close();
        Path shared = image("shared.img", "s");
        Files.setAttribute(shared, "unix:gid", GID_VMUSERS);
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rw-rw----"));
        DiskImages.open(List.of(namedBy(shared, JOE)), ACCOUNTS).close();
        assertEquals("disk 0 (" + shared + "): Permission denied", refused(List.of(namedBy(shared, JOE + 1))));
    }

    @Test
    void aUserCannotReachAnImageBehindADirectoryItCannotSearch() throws Exception {
        Path closed = Files.createDirectory(dir.resolve("closed"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path img = image("closed/joe.img", "j");
        Files.setAttribute(img, "unix:uid", JOE);
        Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx------"));
        assertEquals("disk 0 (" + img + "): Permission denied", refused(List.of(namedBy(img, JOE))));
    }

    @Property(tries = 500)
    void theOwnersBitsApplyToTheOwnerTheGroupsToMembersAndTheOthersToTheRest(
            @ForAll @IntRange(max = 0777) int mode, @ForAll @IntRange(min = 1, max = 7) int need,
            @ForAll @IntRange(max = 2) int who) {
        int fileUid = who == 0 ? JOE : 0;
        int fileGid = who == 1 ? GID_VMUSERS : 0;
        int bits = who == 0 ? mode >> 6 : who == 1 ? mode >> 3 : mode;
        assertEquals((bits & need) == need, DiskImages.permits(JOE, ACCOUNTS, fileUid, fileGid, mode, need));
        assertFalse(DiskImages.permits(JOE, ACCOUNTS, fileUid, fileGid, 0, need), "mode 0 grants nothing");
        assertTrue(DiskImages.permits(JOE, ACCOUNTS, fileUid, fileGid, 0777, need));
    }
}
