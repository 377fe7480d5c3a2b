package org.jvmd.vmm.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jvmd.testkit.Host;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.jvmd.vmm.TestGuest;
import org.junit.jupiter.api.Test;

class BzImageTest {
    @Test
    void parsesTheSetupHeaderFields() throws Exception {
        BzImage k = new SyntheticBzImage().setupSects(27).initSize(0x300_0000L).cmdlineSize(4095).parse();
        assertEquals(0x020F, k.version());
        assertEquals(27, k.setupSects());
        assertEquals(28 * 512, k.kernelOffset());
        assertEquals(64 * 1024, k.kernelLength());
        assertEquals(0x100_0000L, k.prefAddress());
        assertEquals(0x300_0000L, k.initSize());
        assertEquals(4095, k.cmdlineSize());
        assertEquals(0x7FFF_FFFFL, k.initrdAddrMax());
        assertEquals(0x20_0000L, k.kernelAlignment());
        assertTrue(k.relocatable());
    }

    @Test
    void setupSectsZeroMeansFour() throws Exception {
        BzImage k = new SyntheticBzImage().setupSects(0).parse();
        assertEquals(4, k.setupSects());
        assertEquals(5 * 512, k.kernelOffset());
    }

    @Test
    void setupHeaderRunsFrom0x1F1ToTheJumpTarget() throws Exception {
        byte[] file = new SyntheticBzImage().build();
        BzImage k = BzImage.parse(file);
        assertArrayEquals(Arrays.copyOfRange(file, 0x1F1, 0x26C), k.setupHeader());
    }

    @Test
    void rejectsAFileWithoutHdrSMagic() {
        BootException e = assertThrows(BootException.class, () -> new SyntheticBzImage().noMagic().parse());
        assertEquals("kernel: not a bzImage (no HdrS magic)", e.getMessage());
    }

    @Test
    void rejectsAnElfVmlinuxOrOtherSmallFile() {
        byte[] elf = new byte[4096];
        elf[0] = 0x7F;
        elf[1] = 'E';
        elf[2] = 'L';
        elf[3] = 'F';
        assertEquals("kernel: not a bzImage (no HdrS magic)",
                assertThrows(BootException.class, () -> BzImage.parse(elf)).getMessage());
        assertTrue(assertThrows(BootException.class, () -> BzImage.parse(new byte[10])).getMessage()
                .startsWith("kernel: not a bzImage"));
    }

    @Test
    void rejectsProtocolsOlderThan2_12() {
        BootException e = assertThrows(BootException.class, () -> new SyntheticBzImage().version(0x020B).parse());
        assertEquals("kernel: boot protocol 2.11 is too old, the 64-bit entry needs 2.12 or later", e.getMessage());
    }

    @Test
    void rejectsAKernelWithoutThe64BitEntry() {
        BootException e = assertThrows(BootException.class, () -> new SyntheticBzImage().xloadflags(0x7E).parse());
        assertTrue(e.getMessage().contains("XLF_KERNEL_64"), e.getMessage());
    }

    @Test
    void rejectsAZImage() {
        BootException e = assertThrows(BootException.class, () -> new SyntheticBzImage().loadflags(0).parse());
        assertTrue(e.getMessage().contains("LOADED_HIGH"), e.getMessage());
    }

    @Test
    void rejectsATruncatedKernel() {
        byte[] file = new SyntheticBzImage().build();
        byte[] cut = Arrays.copyOf(file, file.length - 4096);
        BootException e = assertThrows(BootException.class, () -> BzImage.parse(cut));
        assertTrue(e.getMessage().startsWith("kernel: truncated"), e.getMessage());
    }

    @Test
    void rejectsInitSizeSmallerThanTheKernel() {
        BootException e = assertThrows(BootException.class,
                () -> new SyntheticBzImage().kernelBytes(8192).initSize(4096).parse());
        assertTrue(e.getMessage().contains("init_size"), e.getMessage());
    }

    @Test
    void parsesTheRealDebianCloudKernel() throws Exception {
        Path path = TestGuest.kernel().orElse(null);
        Host.skipIf(path != null ? java.util.Optional.empty() : java.util.Optional.of(
                "no real kernel (run scripts/test-guest, or set -Djvmd.test.kernel=...)"), "BzImageTest");
        BzImage k = BzImage.parse(Files.readAllBytes(path));
        assertTrue(k.version() >= 0x020C, k.toString());
        assertTrue((k.xloadflags() & BzImage.XLF_KERNEL_64) != 0);
        assertEquals(0x100_0000L, k.prefAddress(), "Debian's CONFIG_PHYSICAL_START");
        assertTrue(k.relocatable());
        assertTrue(k.initSize() > k.kernelLength());
        assertTrue(k.cmdlineSize() >= 2047);
    }

    // --- the parser is fed untrusted files: it either accepts with consistent fields or says why not.

    @Property(tries = 500)
    void arbitraryBytesAreRejectedWithABootExceptionOrParsedConsistently(@ForAll("files") byte[] file) {
        check(file);
    }

    @Property(tries = 1000)
    void corruptingAnyHeaderByteNeverBreaksTheParser(@ForAll @IntRange(min = 0, max = 0x28F) int offset,
                                                     @ForAll byte value) {
        byte[] file = new SyntheticBzImage().build();
        file[offset] = value;
        check(file);
    }

    @Provide
    Arbitrary<byte[]> files() {
        // Random bytes, half of them with the magic planted so that the later checks are reached.
        return Arbitraries.bytes().array(byte[].class).ofMinSize(0).ofMaxSize(6000).map(b -> {
            if (b.length > 0x290 && (b[0] & 1) == 0) {
                b[0x202] = 'H';
                b[0x203] = 'd';
                b[0x204] = 'r';
                b[0x205] = 'S';
                b[0x1FE] = 0x55;
                b[0x1FF] = (byte) 0xAA;
            }
            return b;
        });
    }

    private static void check(byte[] file) {
        BzImage k;
        try {
            k = BzImage.parse(file);
        } catch (BootException e) {
            assertTrue(e.getMessage().startsWith("kernel: "), e.getMessage());
            return;
        }
        assertEquals(file.length, k.kernelOffset() + k.kernelLength());
        assertTrue(k.kernelLength() > 0);
        assertTrue(k.version() >= 0x020C);
        assertTrue(k.initSize() >= k.kernelLength());
        assertTrue(k.prefAddress() >= 0x10_0000L && k.prefAddress() < 1L << 32);
        assertTrue(0x1F1 + k.setupHeader().length <= 0x290);
    }
}
