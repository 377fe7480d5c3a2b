package org.jvmd.virtio;

/**
 * One descriptor chain as the device sees it after {@link SplitQueue#pop}: the head index
 * and the list of guest buffers, the device-readable ones first and the device-writable
 * ones after them (virtio 1.2 §2.7.4.2). Indirect tables are already flattened.
 *
 * <p>Reusable and preallocated: a device keeps one per queue and {@code pop} overwrites it,
 * so nothing is allocated per request. Every segment was checked to lie inside guest
 * memory when the chain was popped.
 */
public final class DescriptorChain {
    private final long[] addr;
    private final int[] len;
    private GuestMemory memory;
    private int head = -1;
    private int count;
    private int readable;
    private int limit;
    private long readableBytes;
    private long writableBytes;

    /** A chain that can hold the longest chain of a queue of {@code capacity} entries. */
    public DescriptorChain(int capacity) {
        if (capacity <= 0 || capacity > Virtq.MAX_SIZE) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        this.addr = new long[capacity];
        this.len = new int[capacity];
    }

    public int capacity() {
        return addr.length;
    }

    /** Starts a new chain; at most {@code maxSegments} segments (the queue size) fit. */
    void begin(GuestMemory memory, int head, int maxSegments) {
        if (maxSegments > addr.length) {
            throw new IllegalStateException("chain capacity " + addr.length + " < queue size " + maxSegments);
        }
        this.memory = memory;
        this.head = head;
        this.limit = maxSegments;
        count = 0;
        readable = 0;
        readableBytes = 0;
        writableBytes = 0;
    }

    /**
     * Appends one segment, or says why the chain is bad: more segments than the queue size
     * (virtio 1.2 §2.7.5.3.1), a readable buffer after a writable one (§2.7.4.2), or more
     * than 2^32 bytes in total (§2.7.5.2).
     */
    GuestFault.Reason append(long gpa, int length, boolean writable) {
        if (count == limit) {
            return GuestFault.Reason.CHAIN_TOO_LONG;
        }
        long n = Integer.toUnsignedLong(length);
        if (writable) {
            writableBytes += n;
        } else if (count > readable) {
            return GuestFault.Reason.WRITABLE_BEFORE_READABLE;
        } else {
            readable++;
            readableBytes += n;
        }
        if (readableBytes + writableBytes > Virtq.MAX_CHAIN_BYTES) {
            return GuestFault.Reason.CHAIN_TOO_LONG;
        }
        addr[count] = gpa;
        len[count] = length;
        count++;
        return null;
    }

    /** The head descriptor index: what {@link SplitQueue#push} returns to the driver. */
    public int head() {
        return head;
    }

    public int segments() {
        return count;
    }

    public int readableSegments() {
        return readable;
    }

    public int writableSegments() {
        return count - readable;
    }

    public long address(int segment) {
        checkSegment(segment);
        return addr[segment];
    }

    /** The segment length, an unsigned 32-bit value. */
    public long length(int segment) {
        checkSegment(segment);
        return Integer.toUnsignedLong(len[segment]);
    }

    public boolean isWritable(int segment) {
        checkSegment(segment);
        return segment >= readable;
    }

    public long readableBytes() {
        return readableBytes;
    }

    public long writableBytes() {
        return writableBytes;
    }

    private void checkSegment(int segment) {
        if (segment < 0 || segment >= count) {
            throw new IndexOutOfBoundsException("segment " + segment + " of " + count);
        }
    }

    /**
     * Copies device-readable bytes, starting {@code offset} bytes into the readable part,
     * into {@code dst[off..off+n)}; returns how many were copied (fewer at the end of the
     * readable part).
     */
    public int gather(long offset, byte[] dst, int off, int n) throws GuestFault {
        return copy(0, readable, offset, dst, off, n, false);
    }

    /**
     * Copies {@code src[off..off+n)} into the device-writable buffers, starting
     * {@code offset} bytes into the writable part; returns how many were copied.
     */
    public int scatter(long offset, byte[] src, int off, int n) throws GuestFault {
        return copy(readable, count, offset, src, off, n, true);
    }

    private int copy(int from, int to, long offset, byte[] buf, int off, int n, boolean toGuest)
            throws GuestFault {
        if (off < 0 || n < 0 || off > buf.length - n || offset < 0) {
            throw new IndexOutOfBoundsException("off " + off + " n " + n + " offset " + offset);
        }
        int done = 0;
        long skip = offset;
        for (int i = from; i < to && done < n; i++) {
            long segLen = Integer.toUnsignedLong(len[i]);
            if (skip >= segLen) {
                skip -= segLen;
                continue;
            }
            int chunk = (int) Math.min(segLen - skip, n - done);
            if (toGuest) {
                memory.write(addr[i] + skip, buf, off + done, chunk);
            } else {
                memory.read(addr[i] + skip, buf, off + done, chunk);
            }
            done += chunk;
            skip = 0;
        }
        return done;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("chain ").append(head).append(" [");
        for (int i = 0; i < count; i++) {
            sb.append(i == 0 ? "" : ", ").append(i < readable ? "r " : "w ")
                    .append("0x").append(Long.toHexString(addr[i])).append('+').append(length(i));
        }
        return sb.append(']').toString();
    }
}
