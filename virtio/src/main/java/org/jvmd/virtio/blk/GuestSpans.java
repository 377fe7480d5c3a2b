package org.jvmd.virtio.blk;

/**
 * Guest buffers for one transfer: (guest-physical address, length) pairs in order, each
 * inside guest memory (the queue checked every descriptor when it popped the chain). The
 * buffers of one block request, which a backend moves to or from the image; the frame part
 * of one or more network chains, for one readv or writev on the tap. The bytes move without
 * a copy where they can (preadv/pwritev, readv/writev on the mapped guest memory).
 *
 * <p>Preallocated (per request slot, per data path) and refilled per transfer: nothing is
 * allocated per I/O or per packet.
 */
public final class GuestSpans {
    private final long[] gpa;
    private final int[] len;
    private int count;
    private long bytes;

    public GuestSpans(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        gpa = new long[capacity];
        len = new int[capacity];
    }

    public void clear() {
        count = 0;
        bytes = 0;
    }

    /**
     * Appends {@code [address, address+length)}; an empty range adds nothing. False (and
     * nothing added) when the spans are full or the range is longer than one span may be
     * ({@link Integer#MAX_VALUE}: a descriptor's length is 32 bits unsigned, virtio 1.2 §2.7.5).
     */
    public boolean add(long address, long length) {
        if (length < 0) {
            throw new IllegalArgumentException("length " + length);
        }
        if (length == 0) {
            return true;
        }
        if (count == gpa.length || length > Integer.MAX_VALUE) {
            return false;
        }
        gpa[count] = address;
        len[count] = (int) length;
        count++;
        bytes += length;
        return true;
    }

    public int count() {
        return count;
    }

    public int capacity() {
        return gpa.length;
    }

    public long address(int i) {
        check(i);
        return gpa[i];
    }

    public int length(int i) {
        check(i);
        return len[i];
    }

    /** The sum of the lengths. */
    public long bytes() {
        return bytes;
    }

    private void check(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("span " + i + " of " + count);
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < count; i++) {
            sb.append(i == 0 ? "" : ", ").append("0x").append(Long.toHexString(gpa[i])).append('+').append(len[i]);
        }
        return sb.append(']').toString();
    }
}
