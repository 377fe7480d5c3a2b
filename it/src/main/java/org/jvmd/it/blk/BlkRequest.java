package org.jvmd.it.blk;

import org.jvmd.virtio.blk.VirtioBlk;

/**
 * One request slot of the simulated driver: its header, data buffer and status byte in
 * guest memory, and the request it carries (virtio 1.2 §5.2.6, struct virtio_blk_req).
 * A {@link Workload} fills it with {@link #set}; the data buffer is read and written
 * through {@link BlkSim#memory()} at {@link #data()}.
 */
public final class BlkRequest {
    final int slot;
    final long header;
    final long status;
    final long data;
    final int capacity;
    int type;
    long sector;
    int len;
    long startNanos;
    int head = -1;
    /** Free for the workload: e.g. which block or generation the request carries. */
    public long cookie;

    BlkRequest(int slot, long header, long status, long data, int capacity) {
        this.slot = slot;
        this.header = header;
        this.status = status;
        this.data = data;
        this.capacity = capacity;
    }

    /**
     * The next request of this slot: {@code type} (VirtioBlk.T_*), {@code sector} (512-byte
     * units) and {@code len} data bytes (IN/OUT: the transfer; GET_ID: the id buffer, 20;
     * DISCARD/WRITE_ZEROES: 16 per segment; FLUSH: 0).
     */
    public BlkRequest set(int type, long sector, int len) {
        if (len < 0 || len > capacity) {
            throw new IllegalArgumentException("request of " + len + " bytes in a " + capacity + "-byte slot");
        }
        this.type = type;
        this.sector = sector;
        this.len = len;
        return this;
    }

    /** Guest-physical address of the data buffer. */
    public long data() {
        return data;
    }

    public int capacity() {
        return capacity;
    }

    public int slot() {
        return slot;
    }

    public int type() {
        return type;
    }

    public long sector() {
        return sector;
    }

    public int len() {
        return len;
    }

    /** True when the device writes the data buffer (IN, GET_ID); false when it reads it. */
    boolean deviceWrites() {
        return type == VirtioBlk.T_IN || type == VirtioBlk.T_GET_ID;
    }

    @Override
    public String toString() {
        return typeName(type) + " sector " + sector + " len " + len + " (slot " + slot + ")";
    }

    /** VIRTIO_BLK_T_* by name. */
    public static String typeName(int type) {
        return switch (type) {
            case VirtioBlk.T_IN -> "IN";
            case VirtioBlk.T_OUT -> "OUT";
            case VirtioBlk.T_FLUSH -> "FLUSH";
            case VirtioBlk.T_GET_ID -> "GET_ID";
            case VirtioBlk.T_DISCARD -> "DISCARD";
            case VirtioBlk.T_WRITE_ZEROES -> "WRITE_ZEROES";
            default -> "type " + type;
        };
    }
}
