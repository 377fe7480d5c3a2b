package org.jvmd.sys;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.jvmd.sys.memory.MappedGuestMemory;

/**
 * A reusable {@code struct iovec} array for readv/writev. Filled per call with
 * {@link #clear()} and {@code add}, it allocates nothing after construction.
 * Not thread-safe: one per I/O thread.
 */
public final class IoVec {
    /** sizeof(struct iovec) on x86_64: {@code void *iov_base; size_t iov_len}. */
    private static final long IOVEC_BYTES = 16;
    /** UIO_MAXIOV (include/uapi/linux/uio.h). */
    public static final int MAX = 1024;

    private final MemorySegment array;
    private final int capacity;
    private int count;
    private long bytes;

    public IoVec(int capacity) {
        if (capacity <= 0 || capacity > MAX) {
            throw new IllegalArgumentException("iovec capacity " + capacity + " outside 1.." + MAX);
        }
        this.capacity = capacity;
        this.array = Arena.ofAuto().allocate(IOVEC_BYTES * capacity, 8);
    }

    public void clear() {
        count = 0;
        bytes = 0;
    }

    public int count() {
        return count;
    }

    public int capacity() {
        return capacity;
    }

    public boolean isFull() {
        return count == capacity;
    }

    /** Sum of the lengths added since {@link #clear()}. */
    public long bytes() {
        return bytes;
    }

    /** Adds a whole native segment. */
    public void add(MemorySegment seg) {
        add(seg, 0, seg.byteSize());
    }

    /** Adds {@code seg[off, off+len)}; heap segments cannot be handed to the kernel. */
    public void add(MemorySegment seg, long off, long len) {
        if (!seg.isNative()) {
            throw new IllegalArgumentException("readv/writev need native memory");
        }
        if (off < 0 || len < 0 || off + len > seg.byteSize()) {
            throw new IndexOutOfBoundsException(off + "+" + len + " outside a " + seg.byteSize() + "-byte segment");
        }
        addRaw(seg.address() + off, len);
    }

    /** Adds {@code buf[off, off+len)}. */
    public void add(NativeBuffer buf, long off, long len) {
        add(buf.segment(), off, len);
    }

    /** Adds guest memory {@code [gpa, gpa+len)}, which must lie in one region. */
    public void add(MappedGuestMemory mem, long gpa, long len) throws org.jvmd.virtio.GuestFault {
        addRaw(mem.hostAddress(gpa, len), len);
    }

    void addRaw(long address, long len) {
        if (count == capacity) {
            throw new IllegalStateException("iovec full (" + capacity + " entries)");
        }
        long at = count * IOVEC_BYTES;
        array.set(JAVA_LONG, at, address);
        array.set(JAVA_LONG, at + 8, len);
        count++;
        bytes += len;
    }

    MemorySegment segment() {
        return array;
    }
}
