package org.jvmd.virtio;

/**
 * Where the three parts of a split virtqueue live in guest memory, and the address of every
 * field in them (virtio 1.2 §2.7):
 *
 * <pre>
 * desc:  struct virtq_desc desc[size]                   16 * size bytes, 16-aligned
 * avail: le16 flags, le16 idx, le16 ring[size],
 *        le16 used_event                                 6 + 2 * size bytes, 2-aligned
 * used:  le16 flags, le16 idx, {le32 id, le32 len}[size],
 *        le16 avail_event                                6 + 8 * size bytes, 4-aligned
 * </pre>
 *
 * The event fields are part of the layout whether or not VIRTIO_F_EVENT_IDX is negotiated
 * (the sizes in the spec's table include them). Pure arithmetic: no policy, no memory access
 * except in {@link #validate}.
 */
public record RingLayout(int size, long desc, long avail, long used) {

    /**
     * The layout a Linux guest driver makes in one allocation (vring_init in
     * include/uapi/linux/virtio_ring.h): descriptors at {@code base}, the available ring
     * right after them, the used ring at the next multiple of {@code usedAlign}
     * (virtio-pci modern Linux passes SMP_CACHE_BYTES, 64; legacy uses 4096).
     */
    public static RingLayout linux(int size, long base, long usedAlign) {
        long avail = base + (long) Virtq.DESC_SIZE * size;
        long used = alignUp(avail + availBytes(size), usedAlign);
        return new RingLayout(size, base, avail, used);
    }

    /** Bytes of one {@link #linux} allocation (vring_size). */
    public static long linuxBytes(int size, long usedAlign) {
        return alignUp((long) Virtq.DESC_SIZE * size + availBytes(size), usedAlign) + usedBytes(size);
    }

    public static long descBytes(int size) {
        return (long) Virtq.DESC_SIZE * size;
    }

    public static long availBytes(int size) {
        return 6 + 2L * size;
    }

    public static long usedBytes(int size) {
        return 6 + (long) Virtq.USED_ELEM_SIZE * size;
    }

    static long alignUp(long v, long align) {
        return (v + align - 1) & -align;
    }

    public long descAddr(int index) {
        return desc + (long) Virtq.DESC_SIZE * index;
    }

    public long availFlags() {
        return avail;
    }

    public long availIdx() {
        return avail + 2;
    }

    public long availRing(int slot) {
        return avail + 4 + 2L * slot;
    }

    public long usedEvent() {
        return avail + 4 + 2L * size;
    }

    public long usedFlags() {
        return used;
    }

    public long usedIdx() {
        return used + 2;
    }

    public long usedElem(int slot) {
        return used + 4 + (long) Virtq.USED_ELEM_SIZE * slot;
    }

    public long availEvent() {
        return used + 4 + (long) Virtq.USED_ELEM_SIZE * size;
    }

    /** True if {@code [gpa, gpa+len)} overlaps the used ring (the device's only writable part). */
    public boolean inUsedRing(long gpa, long len) {
        return gpa < used + usedBytes(size) && used < gpa + len;
    }

    /**
     * Checks the layout once, when the driver enables the queue: the size is a power of two
     * no larger than 32768 (virtio 1.2 §2.7), every part has its minimum alignment and lies
     * entirely inside guest memory (virtio 1.2 §2.7.1). Overlapping parts are not rejected:
     * the spec does not forbid them and every later access stays inside guest memory anyway.
     */
    public void validate(GuestMemory memory) throws GuestFault {
        if (size <= 0 || size > Virtq.MAX_SIZE || Integer.bitCount(size) != 1) {
            throw bad("queue size " + size + " is not a power of two in [1, 32768]");
        }
        if ((desc & (Virtq.DESC_ALIGN - 1)) != 0) {
            throw bad("descriptor table 0x" + Long.toHexString(desc) + " is not 16-aligned");
        }
        if ((avail & (Virtq.AVAIL_ALIGN - 1)) != 0) {
            throw bad("available ring 0x" + Long.toHexString(avail) + " is not 2-aligned");
        }
        if ((used & (Virtq.USED_ALIGN - 1)) != 0) {
            throw bad("used ring 0x" + Long.toHexString(used) + " is not 4-aligned");
        }
        if (!memory.contains(desc, descBytes(size))) {
            throw bad("descriptor table 0x" + Long.toHexString(desc) + " is outside guest memory");
        }
        if (!memory.contains(avail, availBytes(size))) {
            throw bad("available ring 0x" + Long.toHexString(avail) + " is outside guest memory");
        }
        if (!memory.contains(used, usedBytes(size))) {
            throw bad("used ring 0x" + Long.toHexString(used) + " is outside guest memory");
        }
    }

    private static GuestFault bad(String message) {
        return new GuestFault(GuestFault.Reason.BAD_QUEUE_LAYOUT, message);
    }
}
