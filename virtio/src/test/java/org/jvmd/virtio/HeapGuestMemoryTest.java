package org.jvmd.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HeapGuestMemoryTest {
    private final HeapGuestMemory mem = new HeapGuestMemory(64);

    @Test
    void multiByteValuesAreLittleEndian() throws GuestFault {
        mem.writeLong(8, 0x0807060504030201L);
        assertEquals(0x01, mem.readByte(8));
        assertEquals(0x0201, mem.readShort(8));
        assertEquals(0x04030201, mem.readInt(8));
        assertEquals(0x0605, mem.readShort(12));
        mem.writeShort(0, (short) 0xbeef);
        assertEquals((byte) 0xef, mem.readByte(0));
        assertEquals((byte) 0xbe, mem.readByte(1));
    }

    @Test
    void plainAccessesMayBeUnaligned() throws GuestFault {
        mem.writeLong(3, -2L);
        assertEquals(-2L, mem.readLong(3));
        mem.writeInt(17, 0x12345678);
        assertEquals(0x12345678, mem.readInt(17));
    }

    @Test
    void acquireAndReleaseSeeTheSameValue() throws GuestFault {
        mem.writeShortRelease(62, (short) 0x1234);
        assertEquals(0x1234, mem.readShortAcquire(62));
        assertEquals(0x1234, mem.readShort(62));
    }

    @Test
    void orderedAccessAtOddAddressIsMisaligned() {
        GuestFault f = assertThrows(GuestFault.class, () -> mem.readShortAcquire(3));
        assertEquals(GuestFault.Reason.MISALIGNED, f.reason());
        f = assertThrows(GuestFault.class, () -> mem.writeShortRelease(5, (short) 1));
        assertEquals(GuestFault.Reason.MISALIGNED, f.reason());
    }

    @Test
    void accessPastTheEndIsOutOfRange() {
        assertOutOfRange(() -> mem.readByte(64));
        assertOutOfRange(() -> mem.readShort(63));
        assertOutOfRange(() -> mem.readInt(61));
        assertOutOfRange(() -> mem.readLong(57));
        assertOutOfRange(() -> mem.writeLong(57, 0));
        assertOutOfRange(() -> mem.readShortAcquire(64));
        assertOutOfRange(() -> mem.writeShortRelease(64, (short) 0));
    }

    @Test
    void negativeAndHugeAddressesAreOutOfRange() {
        assertOutOfRange(() -> mem.readByte(-1));
        assertOutOfRange(() -> mem.readLong(Long.MIN_VALUE));
        assertOutOfRange(() -> mem.readLong(Long.MAX_VALUE - 3));
        assertOutOfRange(() -> mem.writeInt(1L << 32, 0));   // would alias 0 if truncated to int
    }

    @Test
    void containsRejectsOverflowingRanges() {
        assertTrue(mem.contains(0, 64));
        assertTrue(mem.contains(64, 0));
        assertFalse(mem.contains(1, 64));
        assertFalse(mem.contains(Long.MAX_VALUE, 2));
        assertFalse(mem.contains(8, Long.MAX_VALUE));
        assertFalse(mem.contains(8, -1));
        assertFalse(mem.contains(-8, 16));
    }

    @Test
    void bulkCopiesRoundTrip() throws GuestFault {
        byte[] src = {1, 2, 3, 4, 5};
        mem.write(60, src, 1, 4);
        byte[] dst = new byte[6];
        mem.read(60, dst, 2, 4);
        assertArrayEquals(new byte[] {0, 0, 2, 3, 4, 5}, dst);
    }

    @Test
    void bulkWritePastTheEndWritesNothing() throws GuestFault {
        byte[] src = {9, 9, 9, 9};
        assertOutOfRange(() -> mem.write(62, src, 0, 4));
        assertEquals(0, mem.readShort(62));
        assertOutOfRange(() -> mem.read(61, new byte[4], 0, 4));
    }

    @Test
    void bulkCopyWithBadArrayBoundsIsAProgrammingError() {
        assertThrows(IndexOutOfBoundsException.class, () -> mem.read(0, new byte[4], 2, 4));
    }

    private static void assertOutOfRange(org.junit.jupiter.api.function.Executable access) {
        GuestFault f = assertThrows(GuestFault.class, access);
        assertEquals(GuestFault.Reason.ADDRESS_OUT_OF_RANGE, f.reason());
    }
}
