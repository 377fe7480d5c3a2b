package org.jvmd.virtio.blk;

/**
 * The guest buffers one block request reads into or writes from: (guest-physical address,
 * length) pairs in order, each inside guest memory (the queue checked every descriptor when
 * it popped the chain). A backend moves bytes between the image and these spans, without
 * a copy where it can (preadv/pwritev on the mapped guest memory).
 *
 * <p>Preallocated per request slot and refilled per request: nothing is allocated per I/O.
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

    /** Appends {@code [address, address+length)}; false when the spans are full. */
    public boolean add(long address, int length) {
        if (length < 0) {
            throw new IllegalArgumentException("length " + length);
        }
        if (count == gpa.length) {
            return false;
        }
        gpa[count] = address;
        len[count] = length;
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
