package org.jvmd.bytes;

/**
 * Little-endian fields in byte arrays (virtio 1.2 §1.4: virtio structures are little-endian
 * on the wire; so are virtio-blk request headers): the one reader and writer for product
 * code and tests. Bounds are the array's.
 */
public final class LittleEndian {
    private LittleEndian() {}

    /** The unsigned 16-bit value at {@code b[off]}, 0..65535. */
    public static int get16(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8;
    }

    /** The 32-bit value at {@code b[off]} (as a Java int). */
    public static int get32(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8 | (b[off + 2] & 0xFF) << 16 | (b[off + 3] & 0xFF) << 24;
    }

    /** The 64-bit value at {@code b[off]}. */
    public static long get64(byte[] b, int off) {
        return (get32(b, off) & 0xFFFF_FFFFL) | (long) get32(b, off + 4) << 32;
    }

    /** Writes the low 16 bits of {@code v} at {@code b[off]}. */
    public static void put16(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
    }

    /** Writes {@code v} at {@code b[off]}. */
    public static void put32(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
        b[off + 2] = (byte) (v >>> 16);
        b[off + 3] = (byte) (v >>> 24);
    }

    /** Writes {@code v} at {@code b[off]}. */
    public static void put64(byte[] b, int off, long v) {
        put32(b, off, (int) v);
        put32(b, off + 4, (int) (v >>> 32));
    }
}
