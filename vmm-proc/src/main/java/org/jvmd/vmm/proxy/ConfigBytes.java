package org.jvmd.vmm.proxy;

/**
 * A device configuration space as bytes (virtio 1.2 §4.1.4.6): little-endian fields set once
 * by the device, read by the driver at any offset and width. Pure: no I/O.
 */
public final class ConfigBytes {
    private final byte[] bytes;

    public ConfigBytes(int size) {
        this.bytes = new byte[size];
    }

    public int size() {
        return bytes.length;
    }

    /** Stores the low {@code width} bytes of {@code v} at {@code offset}, little-endian. */
    public ConfigBytes put(int offset, int width, long v) {
        for (int i = 0; i < width; i++) {
            bytes[offset + i] = (byte) (v >>> (8 * i));
        }
        return this;
    }

    public ConfigBytes putBytes(int offset, byte[] b) {
        System.arraycopy(b, 0, bytes, offset, b.length);
        return this;
    }

    /** Little-endian read of {@code size} bytes at {@code offset}; bytes outside read 0. */
    public long read(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            if (at >= 0 && at < bytes.length) {
                v |= (long) (bytes[at] & 0xff) << (8 * i);
            }
        }
        return v;
    }
}
