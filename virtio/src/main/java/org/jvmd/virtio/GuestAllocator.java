package org.jvmd.virtio;

/**
 * A bump allocator over a range of guest-physical addresses, for the driver side: ring
 * memory, indirect tables and packet buffers of simulated guests. Never frees piecemeal;
 * {@link #reset} starts over.
 */
public final class GuestAllocator {
    private final long base;
    private final long limit;
    private long next;

    /** Allocates from {@code [base, limit)}, which must lie in {@code memory}. */
    public GuestAllocator(GuestMemory memory, long base, long limit) {
        if (base < 0 || limit < base || !memory.contains(base, limit - base)) {
            throw new IllegalArgumentException("range [0x" + Long.toHexString(base) + ", 0x"
                    + Long.toHexString(limit) + ") is not inside guest memory");
        }
        this.base = base;
        this.limit = limit;
        this.next = base;
    }

    /** All of {@code memory}. */
    public GuestAllocator(GuestMemory memory) {
        this(memory, 0, memory.size());
    }

    /**
     * Returns the guest-physical address of {@code bytes} fresh bytes aligned to
     * {@code align} (a power of two).
     *
     * @throws IllegalStateException if the range is exhausted (a test set-up error)
     */
    public long allocate(long bytes, long align) {
        if (bytes < 0 || align <= 0 || Long.bitCount(align) != 1) {
            throw new IllegalArgumentException("bytes " + bytes + " align " + align);
        }
        long at = RingLayout.alignUp(next, align);
        if (at > limit - bytes) {
            throw new IllegalStateException("guest allocator exhausted: " + bytes + " bytes wanted, "
                    + (limit - next) + " left");
        }
        next = at + bytes;
        return at;
    }

    public long used() {
        return next - base;
    }

    public long remaining() {
        return limit - next;
    }

    public void reset() {
        next = base;
    }
}
