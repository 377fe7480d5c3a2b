package org.jvmd.vmm.acpi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class AmlTest {
    static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    @Test
    void eisaIdCompressesLikeAsl() {
        assertEquals(0x030ad041L, Aml.eisaIdValue("PNP0A03"), "the PCI root bridge ID iasl emits");
        assertEquals(0x0105d041L, Aml.eisaIdValue("PNP0501"));
        assertEquals(0x030fd041L, Aml.eisaIdValue("PNP0F03"));
    }

    @Test
    void integersUseTheShortestEncoding() {
        assertArrayEquals(bytes(0x00), Aml.integer(0));
        assertArrayEquals(bytes(0x01), Aml.integer(1));
        assertArrayEquals(bytes(0x0a, 0x05), Aml.integer(5));
        assertArrayEquals(bytes(0x0b, 0x34, 0x12), Aml.integer(0x1234));
        assertArrayEquals(bytes(0x0c, 0x78, 0x56, 0x34, 0x12), Aml.integer(0x12345678));
        assertArrayEquals(bytes(0x0e, 0, 0, 0, 0, 1, 0, 0, 0), Aml.integer(1L << 32));
    }

    @Test
    void nameStringsCarryRootAndMultiSegmentPrefixes() {
        assertArrayEquals("_HID".getBytes(StandardCharsets.US_ASCII), Aml.nameString("_HID"));
        assertArrayEquals(Aml.cat(bytes('\\'), "_S5_".getBytes(StandardCharsets.US_ASCII)), Aml.nameString("\\_S5"));
        assertArrayEquals(Aml.cat(bytes('\\', 0x2e), "_SB_PCI0".getBytes(StandardCharsets.US_ASCII)),
                Aml.nameString("\\_SB.PCI0"));
        assertArrayEquals(Aml.cat(bytes('\\', 0x2f, 3), "_SB_PCI0_CRS".getBytes(StandardCharsets.US_ASCII)),
                Aml.nameString("\\_SB.PCI0._CRS"));
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString("TOOLONG"));
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString("0ABC"));
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString("ab"));
    }

    @Test
    void pkgLengthCountsItselfAndSwitchesToMultiByteAt64() {
        assertArrayEquals(bytes(0x3f), Aml.pkgLength(62));
        assertArrayEquals(bytes(0x41, 0x04), Aml.pkgLength(63), "65 = 0x41: 2 bytes, low nibble 1, then 4");
        assertArrayEquals(bytes(0x4f, 0xff), Aml.pkgLength(4093));
        assertArrayEquals(bytes(0x82, 0x00, 0x01), Aml.pkgLength(4095), "4097 needs 3 bytes");
    }

    @Property(tries = 200)
    void pkgLengthDecodesBackToTheTotal(@ForAll @IntRange(min = 0, max = (1 << 28) - 5) int content) {
        byte[] enc = Aml.pkgLength(content);
        int n = (enc[0] & 0xff) >>> 6;
        int total = n == 0 ? enc[0] & 0x3f : enc[0] & 0x0f;
        for (int i = 1; i <= n; i++) {
            total |= (enc[i] & 0xff) << (4 + 8 * (i - 1));
        }
        assertEquals(n + 1, enc.length);
        assertEquals(content + enc.length, total);
    }

    @Test
    void resourceTemplateEndsWithTheEndTag() {
        byte[] t = Aml.resourceTemplate(Aml.irqNoFlags(4));
        // Buffer(PkgLength, size 5) { 22 10 00 79 00 }
        assertArrayEquals(bytes(0x11, 0x08, 0x0a, 0x05, 0x22, 0x10, 0x00, 0x79, 0x00), t);
    }

    @Test
    void addressDescriptorsHaveTheirSpecLengths() {
        assertEquals(3 + 0x0d, Aml.wordIo(0, 0xcf7).length);
        assertEquals(3 + 0x17, Aml.dwordMemory(0xc0000000L, 0xfebfffffL).length);
        assertEquals(3 + 0x2b, Aml.qwordMemory(1L << 40, (1L << 41) - 1).length);
        assertArrayEquals(bytes(0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08), Aml.io(0x3f8, 0x3f8, 1, 8));
    }
}
