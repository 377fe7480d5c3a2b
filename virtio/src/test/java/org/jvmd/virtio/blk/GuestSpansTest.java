package org.jvmd.virtio.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.Example;

/** The one span list both devices fill: vioblk per request, vionet per frame. */
class GuestSpansTest {
    @Example
    void emptyRangeAddsNothingAndIsNotAFailure() {
        GuestSpans s = new GuestSpans(1);
        assertTrue(s.add(0x1000, 0));
        assertEquals(0, s.count());
        assertTrue(s.add(0x2000, 512));
        assertEquals(1, s.count());
        assertEquals(512, s.bytes());
    }

    @Example
    void fullOrLongerThanOneSpanIsRefusedWithNothingAdded() {
        GuestSpans s = new GuestSpans(2);
        assertFalse(s.add(0x1000, Integer.MAX_VALUE + 1L));   // a 32-bit descriptor length above int
        assertEquals(0, s.count());
        assertTrue(s.add(0x1000, Integer.MAX_VALUE));
        assertTrue(s.add(0x2000, 1));
        assertFalse(s.add(0x3000, 1));
        assertEquals(2, s.count());
        assertEquals(Integer.MAX_VALUE + 1L, s.bytes());
        assertEquals(0x2000, s.address(1));
        assertEquals(1, s.length(1));
    }

    @Example
    void negativeLengthIsABrokenInvariant() {
        GuestSpans s = new GuestSpans(2);
        assertThrows(IllegalArgumentException.class, () -> s.add(0x1000, -1));
        assertThrows(IndexOutOfBoundsException.class, () -> s.address(0));
    }

    @Example
    void clearEmptiesForTheNextTransfer() {
        GuestSpans s = new GuestSpans(2);
        s.add(0x1000, 10);
        s.clear();
        assertEquals(0, s.count());
        assertEquals(0, s.bytes());
    }
}
