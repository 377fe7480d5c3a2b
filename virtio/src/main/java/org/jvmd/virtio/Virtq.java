package org.jvmd.virtio;

/**
 * Split-virtqueue constants shared by the device side ({@link SplitQueue}) and the driver
 * side ({@link DriverQueue}), with the spec section each one comes from.
 */
public final class Virtq {
    private Virtq() {}

    /** The largest queue size: "The maximum Queue Size value is 32768" (virtio 1.2 §2.7). */
    public static final int MAX_SIZE = 32768;

    /** One descriptor is 16 bytes: le64 addr, le32 len, le16 flags, le16 next (virtio 1.2 §2.7.5). */
    public static final int DESC_SIZE = 16;
    /** One used element is 8 bytes: le32 id, le32 len (virtio 1.2 §2.7.8). */
    public static final int USED_ELEM_SIZE = 8;

    /** Minimum alignments of the three parts (virtio 1.2 §2.7, the alignment table). */
    public static final int DESC_ALIGN = 16;
    public static final int AVAIL_ALIGN = 2;
    public static final int USED_ALIGN = 4;

    /** Descriptor flags (virtio 1.2 §2.7.5). */
    public static final int DESC_F_NEXT = 1;
    public static final int DESC_F_WRITE = 2;
    public static final int DESC_F_INDIRECT = 4;

    /** Driver asks for no used-buffer notifications (virtio 1.2 §2.7.7, without EVENT_IDX). */
    public static final int AVAIL_F_NO_INTERRUPT = 1;
    /** Device asks for no available-buffer notifications (virtio 1.2 §2.7.10, without EVENT_IDX). */
    public static final int USED_F_NO_NOTIFY = 1;

    /** Feature bits of the ring itself (virtio 1.2 §6 "Reserved Feature Bits"). */
    public static final int F_INDIRECT_DESC = 28;
    public static final int F_EVENT_IDX = 29;

    /**
     * A chain may describe at most 2^32 bytes: "Drivers MUST NOT add a descriptor chain longer
     * than 2^32 bytes in total" (virtio 1.2 §2.7.5.2).
     */
    public static final long MAX_CHAIN_BYTES = 1L << 32;

    /** True if {@code bit} is set in {@code features}. */
    public static boolean has(long features, int bit) {
        return (features & (1L << bit)) != 0;
    }

    /**
     * The event-index rule (vring_need_event of virtio_ring.h, virtio 1.2 §2.7.7.2 and
     * §2.7.10): after moving an index from {@code old} to {@code now}, the other side asked
     * to be told when the index passes {@code event}, i.e. if {@code event} lies in
     * {@code [old, now)} modulo 2^16.
     */
    public static boolean needEvent(int event, int now, int old) {
        return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
    }
}
