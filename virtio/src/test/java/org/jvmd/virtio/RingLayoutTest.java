package org.jvmd.virtio;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RingLayoutTest {
    private final HeapGuestMemory mem = new HeapGuestMemory(1 << 20);

    @Test
    void linuxLayoutPutsAvailAfterDescriptorsAndAlignsUsed() {
        // vring_init(num=256, align=64): desc 4096 bytes, avail 6+512 bytes, used at the next 64.
        RingLayout l = RingLayout.linux(256, 0x10000, 64);
        assertEquals(0x10000, l.desc());
        assertEquals(0x11000, l.avail());
        assertEquals(0x11240, l.used());   // 0x11000 + 518 = 0x11206, rounded up to 64
        assertEquals(0x11240 + 6 + 8 * 256 - 0x10000, RingLayout.linuxBytes(256, 64));
        // The legacy 4096 alignment gives vring_size(256, 4096) = 10246.
        assertEquals(10246, RingLayout.linuxBytes(256, 4096));
    }

    @Test
    void fieldAddressesFollowTheSpecStructs() {
        RingLayout l = new RingLayout(8, 0x1000, 0x2000, 0x3000);
        assertEquals(0x1000 + 16 * 3, l.descAddr(3));
        assertEquals(0x2002, l.availIdx());
        assertEquals(0x2004 + 2 * 5, l.availRing(5));
        assertEquals(0x2004 + 2 * 8, l.usedEvent());
        assertEquals(0x3002, l.usedIdx());
        assertEquals(0x3004 + 8 * 7, l.usedElem(7));
        assertEquals(0x3004 + 8 * 8, l.availEvent());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, 3, 6, 100, 65536, 32769})
    void queueSizeMustBeAPowerOfTwoUpTo32768(int size) {
        assertBadLayout(new RingLayout(size, 0, 0x100000 - 0x80000, 0x100000 - 0x40000));
    }

    @Test
    void largestQueueSizeIsAccepted() {
        HeapGuestMemory big = new HeapGuestMemory(1 << 21);
        assertDoesNotThrow(() -> RingLayout.linux(32768, 0, 64).validate(big));
    }

    @Test
    void descriptorTableMustBe16Aligned() {
        assertBadLayout(new RingLayout(8, 0x1008, 0x2000, 0x3000));
    }

    @Test
    void availRingMustBe2Aligned() {
        assertBadLayout(new RingLayout(8, 0x1000, 0x2001, 0x3000));
    }

    @Test
    void usedRingMustBe4Aligned() {
        assertBadLayout(new RingLayout(8, 0x1000, 0x2000, 0x3002));
    }

    @Test
    void minimumAlignmentsAreEnough() {
        assertDoesNotThrow(() -> new RingLayout(8, 0x1010, 0x2002, 0x3004).validate(mem));
    }

    @Test
    void ringsMustLieInsideGuestMemory() throws GuestFault {
        int size = 8;
        long end = mem.size();
        // Each part ending exactly at the end of memory is fine; one byte more is not.
        new RingLayout(size, end - 16 * size, 0, 4).validate(mem);
        new RingLayout(size, 0, end - (6 + 2 * size), 0x1000).validate(mem);
        new RingLayout(size, 0, 0x1000, end - (6 + 8 * size) - 2).validate(mem);
        assertBadLayout(new RingLayout(size, end - 16 * size + 16, 0, 4));
        assertBadLayout(new RingLayout(size, 0, end - (6 + 2 * size) + 2, 0x1000));
        assertBadLayout(new RingLayout(size, 0, 0x1000, end - (6 + 8 * size) + 2));
        assertBadLayout(new RingLayout(size, -16, 0x1000, 0x2000));
        assertBadLayout(new RingLayout(size, Long.MAX_VALUE & ~15L, 0x1000, 0x2000));
    }

    private void assertBadLayout(RingLayout layout) {
        GuestFault f = assertThrows(GuestFault.class, () -> layout.validate(mem));
        assertEquals(GuestFault.Reason.BAD_QUEUE_LAYOUT, f.reason());
    }
}
