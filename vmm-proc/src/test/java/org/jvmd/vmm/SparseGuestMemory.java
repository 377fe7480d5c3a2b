package org.jvmd.vmm;

import java.util.HashMap;
import java.util.Map;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;

/**
 * Guest memory for tests: pages are allocated on first write, so a test can lay out a
 * multi-GiB VM in a few KiB of heap. Accesses outside the layout's RAM fail like the real
 * mapping does.
 */
public final class SparseGuestMemory implements GuestMemory {
    private static final int PAGE = 4096;
    private final MemoryLayout layout;
    private final Map<Long, byte[]> pages = new HashMap<>();

    public SparseGuestMemory(MemoryLayout layout) {
        this.layout = layout;
    }

    public int pagesTouched() {
        return pages.size();
    }

    @Override
    public long size() {
        return layout.ramTop();
    }

    @Override
    public boolean contains(long gpa, long len) {
        return layout.isRam(gpa, len);
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

    private long getLe(long gpa, int n) throws GuestFault {
        check(gpa, n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = (v << 8) | (get(gpa + i) & 0xFF);
        }
        return v;
    }

    private void putLe(long gpa, int n, long v) throws GuestFault {
        check(gpa, n);
        for (int i = 0; i < n; i++) {
            put(gpa + i, (byte) (v >>> (8 * i)));
        }
    }

    @Override
    public byte readByte(long gpa) throws GuestFault {
        return (byte) getLe(gpa, 1);
    }

    @Override
    public short readShort(long gpa) throws GuestFault {
        return (short) getLe(gpa, 2);
    }

    @Override
    public int readInt(long gpa) throws GuestFault {
        return (int) getLe(gpa, 4);
    }

    @Override
    public long readLong(long gpa) throws GuestFault {
        return getLe(gpa, 8);
    }

    @Override
    public void writeByte(long gpa, byte v) throws GuestFault {
        putLe(gpa, 1, v);
    }

    @Override
    public void writeShort(long gpa, short v) throws GuestFault {
        putLe(gpa, 2, v);
    }

    @Override
    public void writeInt(long gpa, int v) throws GuestFault {
        putLe(gpa, 4, v);
    }

    @Override
    public void writeLong(long gpa, long v) throws GuestFault {
        putLe(gpa, 8, v);
    }

    @Override
    public short readShortAcquire(long gpa) throws GuestFault {
        return readShort(gpa);
    }

    @Override
    public void writeShortRelease(long gpa, short v) throws GuestFault {
        writeShort(gpa, v);
    }

    @Override
    public void fullFence() {
    }

    @Override
    public void read(long gpa, byte[] dst, int off, int len) throws GuestFault {
        check(gpa, len);
        for (int i = 0; i < len; i++) {
            dst[off + i] = get(gpa + i);
        }
    }

    @Override
    public void write(long gpa, byte[] src, int off, int len) throws GuestFault {
        check(gpa, len);
        for (int i = 0; i < len; i++) {
            put(gpa + i, src[off + i]);
        }
    }
}
