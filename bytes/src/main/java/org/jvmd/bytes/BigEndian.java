package org.jvmd.bytes;

/**
 * Network byte order (most significant byte first, RFC 1700 "Data Notations") in byte
 * arrays: the one reader and writer of 16- and 32-bit header fields for product code
 * (frame parsing, checksums, segmentation, DHCP) and tests (the testkit's frame builder)
 * alike. Bounds are the array's: an offset out of range throws, as any array access does.
 */
public final class BigEndian {
    private BigEndian() {}

    /** The unsigned 16-bit value at {@code b[off]}, 0..65535. */
    public static int get16(byte[] b, int off) {
        return (b[off] & 0xFF) << 8 | (b[off + 1] & 0xFF);
    }

    /** The 32-bit value at {@code b[off]} (as a Java int: above 2^31 it is negative). */
    public static int get32(byte[] b, int off) {
        return (b[off] & 0xFF) << 24 | (b[off + 1] & 0xFF) << 16 | (b[off + 2] & 0xFF) << 8 | (b[off + 3] & 0xFF);
    }

    /** Writes the low 16 bits of {@code v} at {@code b[off]}. */
    public static void put16(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 8);
        b[off + 1] = (byte) v;
    }

    /** Writes {@code v} at {@code b[off]}. */
    public static void put32(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 24);
        b[off + 1] = (byte) (v >>> 16);
        b[off + 2] = (byte) (v >>> 8);
        b[off + 3] = (byte) v;
    }
}
