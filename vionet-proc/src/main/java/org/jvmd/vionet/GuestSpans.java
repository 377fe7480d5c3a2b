package org.jvmd.vionet;

/**
 * A list of guest-physical ranges for one readv or writev on the tap: the frame part of a
 * descriptor chain (or of several chains). Preallocated and reused; nothing is allocated
 * per packet. Every range was checked to lie inside guest memory when its chain was popped.
 */
public final class GuestSpans {
    private final long[] gpa;
    private final int[] len;
    private int count;
    private long bytes;

    public GuestSpans(int capacity) {
        this.gpa = new long[capacity];
        this.len = new int[capacity];
    }

    public void clear() {
        count = 0;
        bytes = 0;
    }

    /** Adds {@code [address, address+length)}; returns false (and adds nothing) when full. */
    public boolean add(long address, long length) {
        if (length == 0) {
            return true;
        }
        if (count == gpa.length || length < 0 || length > Integer.MAX_VALUE) {
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
        return gpa[i];
    }

    public int length(int i) {
        return len[i];
    }

    /** The sum of the lengths. */
    public long bytes() {
        return bytes;
    }
}
