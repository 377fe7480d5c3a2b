package org.jvmd.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HexFormat;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class VirtioNetHdrTest {

    @Test
    void decodesLittleEndianFieldsInSpecOrder() {
        // flags 1, gso TCPV4|ECN, hdr_len 66, gso_size 1448, csum_start 34, csum_offset 16, num_buffers 3
        byte[] b = HexFormat.of().parseHex("0181" + "4200" + "a805" + "2200" + "1000" + "0300");
        VirtioNetHdr h = new VirtioNetHdr().read(b, 0, 12);
        assertEquals(1, h.flags);
        assertEquals(0x81, h.gsoType);
        assertEquals(VirtioNetHdr.GSO_TCPV4, h.gsoBase());
        assertEquals(true, h.ecn());
        assertEquals(66, h.hdrLen);
        assertEquals(1448, h.gsoSize);
        assertEquals(34, h.csumStart);
        assertEquals(16, h.csumOffset);
        assertEquals(3, h.numBuffers);
    }

    @Test
    void tenByteFormHasNoNumBuffers() {
        byte[] b = new byte[12];
        b[10] = 7;
        assertEquals(0, new VirtioNetHdr().read(b, 0, 10).numBuffers);
        byte[] out = new byte[12];
        out[10] = 0x55;
        VirtioNetHdr h = new VirtioNetHdr();
        h.numBuffers = 9;
        h.write(out, 0, 10);
        assertEquals(0x55, out[10]);
    }

    @Test
    void sizeIsTwelveWithVersion1OrMergeableBuffers() {
        assertEquals(10, VirtioNetHdr.size(0));
        assertEquals(12, VirtioNetHdr.size(VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1)));
        assertEquals(12, VirtioNetHdr.size(VirtioNetFeatures.bit(VirtioNetFeatures.MRG_RXBUF)));
    }

    @Test
    void otherSizesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new VirtioNetHdr().read(new byte[20], 0, 20));
        assertThrows(IllegalArgumentException.class, () -> new VirtioNetHdr().write(new byte[20], 0, 11));
    }

    @Test
    void numBuffersIsPatchedInPlace() {
        byte[] b = new byte[16];
        VirtioNetHdr.putNumBuffers(b, 4, 0x1234);
        assertEquals(0x34, b[14]);
        assertEquals(0x12, b[15]);
        assertThrows(IllegalArgumentException.class, () -> VirtioNetHdr.putNumBuffers(b, 4, 0));
        assertThrows(IllegalArgumentException.class, () -> VirtioNetHdr.putNumBuffers(b, 4, 0x10000));
    }

    @Test
    void clearZeroesEveryField() {
        VirtioNetHdr h = new VirtioNetHdr().read(HexFormat.of().parseHex("ffffffffffffffffffffffff"), 0, 12);
        byte[] out = new byte[12];
        h.clear().write(out, 0, 12);
        assertArrayEquals(new byte[12], out);
    }

    @Property(tries = 500)
    void anyTwelveBytesDecodeAndEncodeBackUnchanged(@ForAll @Size(12) byte[] raw, @ForAll @IntRange(max = 8) int off) {
        byte[] src = new byte[off + 12];
        System.arraycopy(raw, 0, src, off, 12);
        VirtioNetHdr h = new VirtioNetHdr().read(src, off, 12);
        byte[] out = new byte[12];
        new VirtioNetHdr().set(h).write(out, 0, 12);
        assertArrayEquals(raw, out);
    }
}
