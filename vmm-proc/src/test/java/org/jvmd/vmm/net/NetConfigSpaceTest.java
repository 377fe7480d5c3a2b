package org.jvmd.vmm.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.jvmd.virtio.net.VirtioNetFeatures;

/** The virtio-net configuration space as the driver reads it (virtio 1.2 §5.1.4). */
class NetConfigSpaceTest {
    static final byte[] MAC = {2, 0, 0, 0, 0, 9};

    @Test
    void layoutIsMacStatusPairsMtu() {
        NetConfigSpace c = new NetConfigSpace(MAC, 0);
        assertEquals(0x09_0000_0000_02L, c.read(0, 6));
        assertEquals(NetConfigSpace.S_LINK_UP, c.read(6, 2));
        assertEquals(1, c.read(8, 2));
        assertEquals(NetConfigSpace.DEFAULT_MTU, c.read(10, 2));
        assertEquals(0, c.read(NetConfigSpace.SIZE, 4), "past the end reads 0");
    }

    @Test
    void badMacOrMtuIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new NetConfigSpace(new byte[5], 1500));
        assertThrows(IllegalArgumentException.class, () -> new NetConfigSpace(MAC, 67));
        assertThrows(IllegalArgumentException.class, () -> new NetConfigSpace(MAC, 65536));
    }

    /** Any access the driver can make (offset, width 1/2/4/8) reads the little-endian bytes, never throws. */
    @Property(tries = 300)
    void everyAccessReadsTheLittleEndianBytes(@ForAll @Size(6) byte[] mac, @ForAll @IntRange(min = 68, max = 65535) int mtu,
                                             @ForAll @IntRange(min = -16, max = 64) int offset,
                                             @ForAll @IntRange(min = 0, max = 3) int widthLog) {
        NetConfigSpace c = new NetConfigSpace(mac, mtu);
        byte[] ref = new byte[NetConfigSpace.SIZE];
        System.arraycopy(mac, 0, ref, 0, 6);
        ref[6] = 1;
        ref[8] = 1;
        ref[10] = (byte) mtu;
        ref[11] = (byte) (mtu >>> 8);
        int width = 1 << widthLog;
        long want = 0;
        for (int i = 0; i < width; i++) {
            int at = offset + i;
            if (at >= 0 && at < ref.length) {
                want |= (long) (ref[at] & 0xff) << (8 * i);
            }
        }
        assertEquals(want, c.read(offset, width));
        assertEquals(mtu, c.mtu());
    }

    @Property(tries = 200)
    void offeredFeaturesAlwaysHaveVersion1AndNeverMq(@ForAll long nicFeatures) {
        long f = NetConfigSpace.offeredFeatures(nicFeatures);
        assertEquals(true, VirtioNetFeatures.has(f, VirtioNetFeatures.VERSION_1));
        assertEquals(false, VirtioNetFeatures.has(f, VirtioNetFeatures.MQ));
        assertEquals(nicFeatures & ~VirtioNetFeatures.bit(VirtioNetFeatures.MQ),
                f & ~VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1) | (nicFeatures & VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1)));
    }
}
