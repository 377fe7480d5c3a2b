package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.qcow2.ChannelImageFile;
import org.jvmd.qcow2.ImageFormat;
import org.jvmd.qcow2.Qcow2Create;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.vmd.DiskImages.DiskImageException;
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
        return assertThrows(DiskImages.DiskImageException.class, () -> DiskImages.open(disks)).getMessage();
    }

    @Test
    void rawImagesAreOpenedInOrderAndHandedDownAsLayerZero() throws Exception {
        Path a = image("a.img", "a");
        Path b = image("b.img", "b");
        try (DiskImages images = DiskImages.open(List.of(raw(a), DiskSpec.of(b, DiskSpec.Format.RAW)))) {
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
            assertEquals(a, Files.readSymbolicLink(fds.get(0).procPath()));
            assertEquals(b, Files.readSymbolicLink(fds.get(1).procPath()));
            Fd.closeAll(fds);
        }
    }

    @Test
    void aSerialKeepsItsLast20Bytes() throws Exception {
        try (DiskImages images = DiskImages.open(List.of(raw(image("a.img", ""))))) {
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
        DiskImages first = DiskImages.open(List.of(raw(a)));
        assertEquals("disk 0 (" + a + "): in use by another VM (locked)", refused(List.of(raw(a))));
        first.close();
        DiskImages.open(List.of(raw(a))).close();
    }

    @Test
    void aRefusedDiskReleasesTheDisksOpenedBeforeIt() throws Exception {
        Path a = image("a.img", "a");
        Path q = image("q.qcow2", "QFI\u00fb and the rest of a header");
        Files.write(q, new byte[] {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3});
        String m = refused(List.of(raw(a), raw(q)));
        assertTrue(m.startsWith("disk 1 (" + q + "): "), m);
        DiskImages.open(List.of(raw(a))).close(); // disk 0's lock went with the refusal
    }

    @Test
    void aRawFileConfiguredAsQcow2IsRefusedAndAShortFileIsRaw() throws Exception {
        Path a = image("a.img", "not qcow2 at all");
        assertEquals("disk 0 (" + a + "): " + a + ": too small (16 bytes) to be a qcow2 image",
                refused(List.of(DiskSpec.of(a, DiskSpec.Format.QCOW2))));
        Path tiny = image("tiny.img", "QF"); // shorter than the magic: raw
        DiskImages.open(List.of(raw(tiny))).close();
    }

    // ---- qcow2 base chains ----

    private static final long SIZE = 1 << 20;

    /** A new qcow2 image of 1 MiB at p over backing (as its header names it; null: none). */
    private static Path qcow2(Path p, String backing, ImageFormat backingFormat) throws IOException {
        try (ChannelImageFile f = new ChannelImageFile(FileChannel.open(p, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ, StandardOpenOption.WRITE), p.toString())) {
            Qcow2Create.create(f, SIZE, backing, backingFormat);
        }
        return p;
    }

    private Path rawBase(String name) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, new byte[(int) SIZE]);
        return p;
    }

    /** The FD_DISK slots dupInto hands down, as "index/layer", and the descriptors' files. */
    private static List<String> handedDown(DiskImages images, List<Path> files) throws IOException {
        List<Fd> fds = new ArrayList<>();
        List<FdSlot> slots = new ArrayList<>();
        images.dupInto(fds, slots);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < fds.size(); i++) {
            out.add(slots.get(i).getIndex() + "/" + slots.get(i).getLayer());
            files.add(Files.readSymbolicLink(fds.get(i).procPath()));
        }
        Fd.closeAll(fds);
        return out;
    }

    @Test
    void aQcow2ImageOverARelativeRawBaseHandsDownBothLayers() throws Exception {
        Path base = rawBase("base.raw");
        Path top = qcow2(dir.resolve("vm1.qcow2"), "base.raw", ImageFormat.RAW);
        try (DiskImages images = DiskImages.open(List.of(raw(top)))) {
            DiskConfig c = images.configs("web").get(0);
            assertEquals(DiskFormat.FORMAT_QCOW2, c.getFormat());
            assertEquals(List.of(DiskFormat.FORMAT_RAW), c.getBaseFormatsList());
            List<Path> files = new ArrayList<>();
            assertEquals(List.of("0/0", "0/1"), handedDown(images, files));
            assertEquals(List.of(top, base), files);
            // the base is held read-only and shared: another VM may stand on it, none may take it as its own
            assertEquals("disk 0 (" + base + "): in use by another VM (locked)", refused(List.of(raw(base))));
            Path top2 = qcow2(dir.resolve("vm2.qcow2"), base.toString(), ImageFormat.RAW);
            DiskImages.open(List.of(raw(top2))).close();
        }
        DiskImages.open(List.of(raw(base))).close(); // released with the VM
    }

    @Test
    void aBaseInUseAsAnotherVmsOwnDiskIsRefused() throws Exception {
        Path base = rawBase("base.raw");
        Path top = qcow2(dir.resolve("vm1.qcow2"), "base.raw", ImageFormat.RAW);
        try (DiskImages other = DiskImages.open(List.of(raw(base)))) {
            assertEquals("disk 0 (" + top + "): base image " + base + ": in use by another VM as its own disk (locked)",
                    refused(List.of(raw(top))));
        }
    }

    @Test
    void aThreeDeepChainWithAbsoluteAndRelativeNamesResolvesInOrder() throws Exception {
        Files.createDirectories(dir.resolve("bases/deeper"));
        Path base = rawBase("bases/deeper/root.raw");
        Path mid = qcow2(dir.resolve("bases/mid.qcow2"), "deeper/root.raw", ImageFormat.RAW);  // relative to bases/
        Path top = qcow2(dir.resolve("top.qcow2"), mid.toString(), ImageFormat.QCOW2);           // absolute
        try (DiskImages images = DiskImages.open(List.of(DiskSpec.of(top, DiskSpec.Format.QCOW2)))) {
            assertEquals(List.of(DiskFormat.FORMAT_QCOW2, DiskFormat.FORMAT_RAW),
                    images.configs("web").get(0).getBaseFormatsList());
            List<Path> files = new ArrayList<>();
            assertEquals(List.of("0/0", "0/1", "0/2"), handedDown(images, files));
            assertEquals(List.of(top, mid, base), files);
        }
        // with no format named in the header, a base's format is found by its magic
        Path top2 = qcow2(dir.resolve("top2.qcow2"), "bases/mid.qcow2", null);
        try (DiskImages images = DiskImages.open(List.of(raw(top2)))) {
            assertEquals(List.of(DiskFormat.FORMAT_QCOW2, DiskFormat.FORMAT_RAW),
                    images.configs("web").get(0).getBaseFormatsList());
        }
    }

    @Test
    void aBackingLoopIsRefusedAndNothingStaysOpen() throws Exception {
        Path a = qcow2(dir.resolve("a.qcow2"), "b.qcow2", ImageFormat.QCOW2);
        Path b = qcow2(dir.resolve("b.qcow2"), "a.qcow2", ImageFormat.QCOW2);
        assertEquals("disk 0 (" + a + "): " + a + ": backing file loop: " + a + " appears twice in the chain",
                refused(List.of(raw(a))));
        // a's lock went with the refusal (as raw, it has no chain to follow)
        DiskImages.open(List.of(DiskSpec.of(a, DiskSpec.Format.RAW), DiskSpec.of(b, DiskSpec.Format.RAW)))
                .close();
    }

    @Test
    void aMissingBaseIsRefusedByName() throws Exception {
        Path top = qcow2(dir.resolve("vm1.qcow2"), "gone.raw", ImageFormat.RAW);
        assertEquals("disk 0 (" + top + "): " + top + ": base image " + dir.resolve("gone.raw") + " not found",
                refused(List.of(raw(top))));
        DiskImages.open(List.of(DiskSpec.of(rawBase("gone.raw"), DiskSpec.Format.RAW))).close();
    }

    // ---- a caller's image: the descriptors it passed ----

    private static Fd open(Path p, int flags) throws IOException {
        return LibC.open(p.toString(), flags | LibC.O_CLOEXEC);
    }

    /** A caller's disk: the image and its bases as descriptors (the spec holds them; the test closes them). */
    private DiskSpec passed(Path image, List<Fd> layers) {
        held.addAll(layers);
        return new DiskSpec(image, DiskSpec.Format.AUTO, layers);
    }

    private final List<Fd> held = new ArrayList<>();

    @org.junit.jupiter.api.AfterEach
    void closeHeld() {
        Fd.closeAll(held);
    }

    @Test
    void aCallersQcow2ChainIsReadThroughTheDescriptorsItPassedInOrder() throws Exception {
        Path base = rawBase("base.raw");
        Path mid = qcow2(dir.resolve("mid.qcow2"), "base.raw", ImageFormat.RAW);
        Path top = qcow2(dir.resolve("top.qcow2"), "mid.qcow2", ImageFormat.QCOW2);
        DiskSpec d = passed(top, List.of(open(top, LibC.O_RDWR), open(mid, LibC.O_RDONLY), open(base, LibC.O_RDONLY)));
        try (DiskImages images = DiskImages.open(List.of(d))) {
            assertEquals(List.of(DiskFormat.FORMAT_QCOW2, DiskFormat.FORMAT_RAW), images.disks().get(0).baseFormats());
            List<Path> files = new ArrayList<>();
            assertEquals(List.of("0/0", "0/1", "0/2"), handedDown(images, files));
            assertEquals(List.of(top.toRealPath(), mid.toRealPath(), base.toRealPath()), files);
            // vmd's own open file descriptions, locked: the image exclusively, the bases shared
            DiskImageException busy = assertThrows(DiskImageException.class, () -> DiskImages.open(List.of(raw(top))));
            assertTrue(busy.getMessage().endsWith("in use by another VM (locked)"), busy.getMessage());
        }
        DiskImages.open(List.of(raw(base))).close(); // released with the VM, though the spec still holds the passed fds
    }

    @Test
    void aChainThatNeedsABaseItWasNotGivenIsRefused() throws Exception {
        Path base = rawBase("base.raw");
        Path top = qcow2(dir.resolve("top.qcow2"), "base.raw", ImageFormat.RAW);
        assertEquals("disk 0 (" + top + "): base image " + base
                + ": not passed (the caller passes every base image's descriptor)",
                refused(List.of(passed(top, List.of(open(top, LibC.O_RDWR))))));
        Path other = rawBase("other.raw");
        // a loop told by the descriptors' files, whatever names the headers store
        Path a = qcow2(dir.resolve("a.qcow2"), "b.qcow2", ImageFormat.QCOW2);
        Path b = qcow2(dir.resolve("b.qcow2"), "a.qcow2", ImageFormat.QCOW2);
        assertEquals("disk 0 (" + a + "): " + a + ": backing file loop: " + a + " appears twice in the chain",
                refused(List.of(passed(a, List.of(open(a, LibC.O_RDWR), open(b, LibC.O_RDONLY), open(a, LibC.O_RDONLY))))));
        assertEquals("disk 0 (" + top + "): 2 base images passed, the chain has 1",
                refused(List.of(passed(top, List.of(open(top, LibC.O_RDWR), open(base, LibC.O_RDONLY),
                        open(other, LibC.O_RDONLY))))));
        assertEquals("disk 0 (" + base + "): base images passed for a raw image",
                refused(List.of(passed(base, List.of(open(base, LibC.O_RDWR), open(other, LibC.O_RDONLY))))));
        DiskImages.open(List.of(raw(top))).close(); // nothing stayed locked
    }

    @Test
    void aCallersImageIsNeverOpenedByItsPath() throws Exception {
        Path img = image("a.img", "a");
        Fd fd = open(img, LibC.O_RDWR);
        Files.delete(img);
        Path impostor = image("a.img", "b"); // the same name, another file
        try (DiskImages images = DiskImages.open(List.of(passed(img, List.of(fd))))) {
            List<Path> files = new ArrayList<>();
            handedDown(images, files);
            assertEquals(1, files.size());
            assertTrue(files.get(0).toString().endsWith("(deleted)"), "the file the caller passed: " + files.get(0));
        }
        assertEquals("b", Files.readString(impostor));
    }

    @Test
    void anEncryptedBaseIsRefusedWithTheLibrarysMessage() throws Exception {
        Path base = qcow2(dir.resolve("base.qcow2"), null, null);
        try (FileChannel ch = FileChannel.open(base, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.allocate(4).putInt(0, 1), 32);   // crypt_method = AES
        }
        Path top = qcow2(dir.resolve("vm1.qcow2"), "base.qcow2", ImageFormat.QCOW2);
        String m = refused(List.of(raw(top)));
        assertTrue(m.startsWith("disk 0 (" + top + "): " + base + ": encrypted images are not supported"), m);
    }

    @Test
    void aBaseLargerThanItsDiskIsRefused() throws Exception {
        Path big = dir.resolve("big.raw");
        Files.write(big, new byte[(int) SIZE * 2]);
        Path top = qcow2(dir.resolve("vm1.qcow2"), "big.raw", ImageFormat.RAW);
        assertEquals("disk 0 (" + top + "): " + top + ": base image " + big + " (" + 2 * SIZE
                + " bytes) is larger than the disk (" + SIZE + " bytes)", refused(List.of(raw(top))));
    }

    // ---- vm_checkaccess ----

    @Property(tries = 500)
    void theOwnersBitsApplyToTheOwnerTheGroupsToMembersAndTheOthersToTheRest(
            @ForAll @IntRange(max = 0777) int mode, @ForAll @IntRange(min = 1, max = 7) int need,
            @ForAll @IntRange(max = 2) int who) {
        int fileUid = who == 0 ? JOE : 0;
        int fileGid = who == 1 ? GID_VMUSERS : 0;
        int bits = who == 0 ? mode >> 6 : who == 1 ? mode >> 3 : mode;
        assertEquals((bits & need) == need, CallerAccess.permits(JOE, ACCOUNTS, fileUid, fileGid, mode, need));
        assertFalse(CallerAccess.permits(JOE, ACCOUNTS, fileUid, fileGid, 0, need), "mode 0 grants nothing");
        assertTrue(CallerAccess.permits(JOE, ACCOUNTS, fileUid, fileGid, 0777, need));
    }
}
