package org.jvmd.virtio;

import java.util.HashMap;
import java.util.Map;

/**
 * A huge guest (terabytes) backed only where it was written, 4 KiB at a time: lets tests
 * build chains of several gigabytes, or lay out a multi-GiB VM, without the memory. The one
 * sparse guest memory of the tests (other modules take it from virtio's test-jar; it cannot
 * live in the testkit, which sits below virtio).
 */
public final class SparseGuestMemory implements GuestMemory {
    private static final int PAGE = 4096;
    private final long size;
    private final Region ram;
    private final Map<Long, byte[]> pages = new HashMap<>();

    /** Which ranges are RAM: accesses elsewhere fail as they do on the real mapping. */
    @FunctionalInterface
    public interface Region {
        boolean contains(long gpa, long len);
    }

    /** {@code size} bytes of RAM from 0. */
    public SparseGuestMemory(long size) {
        this(size, (gpa, len) -> gpa >= 0 && len >= 0 && gpa <= size - len);
    }

    /** {@code size} is the top of RAM; {@code ram} says which ranges below it are RAM (holes of a VM's layout). */
    public SparseGuestMemory(long size, Region ram) {
        this.size = size;
        this.ram = ram;
    }

    /** How many 4 KiB pages were written. */
    public int pagesTouched() {
        return pages.size();
    }

    @Override public long size() { return size; }

    @Override public boolean contains(long gpa, long len) {
        return ram.contains(gpa, len);
    }

    private void check(long gpa, long len) throws GuestFault {
        if (!contains(gpa, len)) {
            throw new GuestFault(GuestFault.Reason.ADDRESS_OUT_OF_RANGE, "0x" + Long.toHexString(gpa) + "+" + len);
        }
    }

    private byte get(long gpa) {
        byte[] p = pages.get(gpa / PAGE);
        return p == null ? 0 : p[(int) (gpa % PAGE)];
    }

    private void put(long gpa, byte v) {
        pages.computeIfAbsent(gpa / PAGE, k -> new byte[PAGE])[(int) (gpa % PAGE)] = v;
    }

    private long load(long gpa, int n) throws GuestFault {
        check(gpa, n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = (v << 8) | (get(gpa + i) & 0xff);
        }
        return v;
    }

    private void store(long gpa, int n, long v) throws GuestFault {
        check(gpa, n);
        for (int i = 0; i < n; i++) {
            put(gpa + i, (byte) (v >>> (8 * i)));
        }
    }

    @Override public byte readByte(long gpa) throws GuestFault { return (byte) load(gpa, 1); }
    @Override public short readShort(long gpa) throws GuestFault { return (short) load(gpa, 2); }
    @Override public int readInt(long gpa) throws GuestFault { return (int) load(gpa, 4); }
    @Override public long readLong(long gpa) throws GuestFault { return load(gpa, 8); }
    @Override public void writeByte(long gpa, byte v) throws GuestFault { store(gpa, 1, v); }
    @Override public void writeShort(long gpa, short v) throws GuestFault { store(gpa, 2, v); }
    @Override public void writeInt(long gpa, int v) throws GuestFault { store(gpa, 4, v); }
    @Override public void writeLong(long gpa, long v) throws GuestFault { store(gpa, 8, v); }
    @Override public short readShortAcquire(long gpa) throws GuestFault { return readShort(gpa); }
    @Override public void writeShortRelease(long gpa, short v) throws GuestFault { writeShort(gpa, v); }
    @Override public void fullFence() {}

    @Override public void read(long gpa, byte[] dst, int off, int len) throws GuestFault {
        check(gpa, len);
        for (int i = 0; i < len; i++) {
            dst[off + i] = get(gpa + i);
        }
    }

    @Override public void write(long gpa, byte[] src, int off, int len) throws GuestFault {
        check(gpa, len);
        for (int i = 0; i < len; i++) {
            put(gpa + i, src[off + i]);
        }
    }
}
