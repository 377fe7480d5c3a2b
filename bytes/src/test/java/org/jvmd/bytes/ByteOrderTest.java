package org.jvmd.bytes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ByteOrderTest {
    @Test
    void agreesWithByteBufferInNetworkOrderAtEveryOffset() {
        Random r = new Random(7);
        for (int i = 0; i < 10_000; i++) {
            byte[] b = new byte[9];
            r.nextBytes(b);
            int off = r.nextInt(6);
            ByteBuffer bb = ByteBuffer.wrap(b); // big-endian by default
            assertEquals(bb.getShort(off) & 0xFFFF, BigEndian.get16(b, off));
            assertEquals(bb.getInt(off), BigEndian.get32(b, off));
            int v = r.nextInt();
            byte[] ours = b.clone();
            byte[] theirs = b.clone();
            BigEndian.put32(ours, off, v);
            ByteBuffer.wrap(theirs).putInt(off, v);
            assertArrayEquals(theirs, ours);
            BigEndian.put16(ours, off + 1, v);
            ByteBuffer.wrap(theirs).putShort(off + 1, (short) v);
            assertArrayEquals(theirs, ours);
        }
    }

    @Test
    void littleEndianAgreesWithByteBufferInLittleEndianOrder() {
        Random r = new Random(8);
        for (int i = 0; i < 10_000; i++) {
            byte[] b = new byte[12];
            r.nextBytes(b);
            int off = r.nextInt(4);
            ByteBuffer bb = ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            assertEquals(bb.getShort(off) & 0xFFFF, LittleEndian.get16(b, off));
            assertEquals(bb.getInt(off), LittleEndian.get32(b, off));
            assertEquals(bb.getLong(off), LittleEndian.get64(b, off));
            int v = r.nextInt();
            byte[] ours = b.clone();
            byte[] theirs = b.clone();
            LittleEndian.put32(ours, off, v);
            ByteBuffer.wrap(theirs).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(off, v);
            assertArrayEquals(theirs, ours);
            long w = r.nextLong();
            LittleEndian.put64(ours, off, w);
            ByteBuffer.wrap(theirs).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(off, w);
            assertArrayEquals(theirs, ours);
            LittleEndian.put16(ours, off + 1, v);
            ByteBuffer.wrap(theirs).order(java.nio.ByteOrder.LITTLE_ENDIAN).putShort(off + 1, (short) v);
            assertArrayEquals(theirs, ours);
        }
    }

    @Test
    void fieldsAreReadAsTheWireHasThem() {
        byte[] ipv4Header = {0x45, 0, 0x05, (byte) 0xDC, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 100, 64, 0, 1};
        assertEquals(1500, BigEndian.get16(ipv4Header, 2));
        assertEquals(0x4000, BigEndian.get16(ipv4Header, 6));
        assertEquals(0x64400001, BigEndian.get32(ipv4Header, 12));
        assertEquals(0xFFFF, BigEndian.get16(new byte[] {-1, -1}, 0));
    }

    @Test
    void anOffsetPastTheEndThrows() {
        assertThrows(ArrayIndexOutOfBoundsException.class, () -> BigEndian.get32(new byte[4], 1));
        assertThrows(ArrayIndexOutOfBoundsException.class, () -> BigEndian.put16(new byte[2], 1, 0));
    }
}
