package org.jvmd.sys.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.jvmd.sys.Fd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.NativeBuffer;
import org.jvmd.sys.SysException;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;

/**
 * Guest RAM mapped MAP_SHARED from the guest memfd: the VMM's view and every device
 * process's view of the same pages. Each access is bounds-checked against the regions and
 * fails with {@link GuestFault}; values are little-endian (virtio 1.2 §2.7).
 *
 * <p>{@link #close()} unmaps; an access racing with close fails with
 * IllegalStateException instead of touching unmapped memory (the shared arena guarantees it).
 */
public final class MappedGuestMemory implements GuestMemory, AutoCloseable {
    /** One guest-physical range backed by {@code [memfdOffset, memfdOffset+size)} of the memfd. */
    public record Range(long gpa, long size, long memfdOffset) {
        public Range {
            if (size <= 0 || gpa < 0 || memfdOffset < 0 || gpa + size < gpa) {
                throw new IllegalArgumentException("bad guest memory range " + Long.toHexString(gpa) + "+" + size);
            }
        }
    }

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Aligned 16-bit view for acquire/release (coordinates: segment, base offset). */
    private static final VarHandle SHORT_ATOMIC =
            ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    private record Region(long gpa, long end, MemorySegment seg) {}

    private final Region[] regions;
    private final Arena arena;
    private final long size;

    private MappedGuestMemory(Region[] regions, Arena arena) {
        this.regions = regions;
        this.arena = arena;
        long top = 0;
        for (Region r : regions) {
            top = Math.max(top, r.end);
        }
        this.size = top;
    }

    /** Maps each range of {@code memfd}. The memfd may be closed afterwards; the mapping stays. */
    public static MappedGuestMemory map(Fd memfd, List<Range> ranges) throws SysException {
        if (ranges.isEmpty()) {
            throw new IllegalArgumentException("no guest memory ranges");
        }
        for (int i = 0; i < ranges.size(); i++) {
            for (int j = i + 1; j < ranges.size(); j++) {
                Range a = ranges.get(i);
                Range b = ranges.get(j);
                if (a.gpa < b.gpa + b.size && b.gpa < a.gpa + a.size) {
                    throw new IllegalArgumentException("guest memory ranges overlap: " + a + ", " + b);
                }
            }
        }
        Arena arena = Arena.ofShared();
        Region[] regions = new Region[ranges.size()];
        try {
            for (int i = 0; i < regions.length; i++) {
                Range r = ranges.get(i);
                MemorySegment seg = Memfd.map(memfd, r.memfdOffset, r.size, arena);
                regions[i] = new Region(r.gpa, r.gpa + r.size, seg);
            }
        } catch (SysException | RuntimeException e) {
            arena.close();
            throw e;
        }
        return new MappedGuestMemory(regions, arena);
    }

    /** Maps one range at guest-physical 0 covering the first {@code size} bytes of {@code memfd}. */
    public static MappedGuestMemory map(Fd memfd, long size) throws SysException {
        return map(memfd, List.of(new Range(0, size, 0)));
    }

    private Region find(long gpa, long len) throws GuestFault {
        if (len >= 0) {
            for (Region r : regions) {
                if (inside(r, gpa, len)) {
                    return r;
                }
            }
        }
        throw new GuestFault(GuestFault.Reason.ADDRESS_OUT_OF_RANGE,
                "guest address 0x" + Long.toHexString(gpa) + "+" + len + " outside guest memory");
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean contains(long gpa, long len) {
        if (len < 0) {
            return false;
        }
        for (Region r : regions) {
            if (inside(r, gpa, len)) {
                return true;
            }
        }
        return false;
    }

    /** {@code [gpa, gpa+len)} within {@code r}; an empty range may sit at the region's end. */
    private static boolean inside(Region r, long gpa, long len) {
        return gpa >= r.gpa && gpa <= r.end && len <= r.end - gpa && (gpa < r.end || len == 0);
    }

    /**
     * The native memory of {@code [gpa, gpa+len)}, which must lie inside one region; for
     * zero-copy I/O within this module (outside it, use {@link IoVec#add(MappedGuestMemory, long, long)}).
     */
    public MemorySegment slice(long gpa, long len) throws GuestFault {
        Region r = find(gpa, len);
        return r.seg.asSlice(gpa - r.gpa, len);
    }

    /**
     * A direct ByteBuffer over {@code [gpa, gpa+len)} (inside one region, len at most 2 GiB):
     * for a library that moves bytes through ByteBuffers (the qcow2 image) to read into and
     * write from guest memory in place. Valid until {@link #close()}; an access after it
     * fails with IllegalStateException.
     */
    public ByteBuffer byteBuffer(long gpa, int len) throws GuestFault {
        if (len < 0) {
            throw new GuestFault(GuestFault.Reason.ADDRESS_OUT_OF_RANGE, "negative length " + len);
        }
        return slice(gpa, len).asByteBuffer();
    }

    /** Zeros {@code [gpa, gpa+len)}, which must lie inside one region (a read that finds nothing to copy). */
    public void zero(long gpa, long len) throws GuestFault {
        slice(gpa, len).fill((byte) 0);
    }

    /** The host virtual address of {@code [gpa, gpa+len)} (inside one region), e.g. for KVM memory slots. */
    public long hostAddress(long gpa, long len) throws GuestFault {
        Region r = find(gpa, len);
        return r.seg.address() + (gpa - r.gpa);
    }

    /** The mapped ranges, in the order given to {@link #map}, with their host addresses. */
    public List<long[]> regions() {
        java.util.ArrayList<long[]> out = new java.util.ArrayList<>();
        for (Region r : regions) {
            out.add(new long[] {r.gpa, r.end - r.gpa, r.seg.address()});
        }
        return out;
    }

    @Override
    public byte readByte(long gpa) throws GuestFault {
        Region r = find(gpa, 1);
        return r.seg.get(ValueLayout.JAVA_BYTE, gpa - r.gpa);
    }

    @Override
    public short readShort(long gpa) throws GuestFault {
        Region r = find(gpa, 2);
        return r.seg.get(SHORT, gpa - r.gpa);
    }

    @Override
    public int readInt(long gpa) throws GuestFault {
        Region r = find(gpa, 4);
        return r.seg.get(INT, gpa - r.gpa);
    }

    @Override
    public long readLong(long gpa) throws GuestFault {
        Region r = find(gpa, 8);
        return r.seg.get(LONG, gpa - r.gpa);
    }

    @Override
    public void writeByte(long gpa, byte v) throws GuestFault {
        Region r = find(gpa, 1);
        r.seg.set(ValueLayout.JAVA_BYTE, gpa - r.gpa, v);
    }

    @Override
    public void writeShort(long gpa, short v) throws GuestFault {
        Region r = find(gpa, 2);
        r.seg.set(SHORT, gpa - r.gpa, v);
    }

    @Override
    public void writeInt(long gpa, int v) throws GuestFault {
        Region r = find(gpa, 4);
        r.seg.set(INT, gpa - r.gpa, v);
    }

    @Override
    public void writeLong(long gpa, long v) throws GuestFault {
        Region r = find(gpa, 8);
        r.seg.set(LONG, gpa - r.gpa, v);
    }

    @Override
    public short readShortAcquire(long gpa) throws GuestFault {
        checkAligned(gpa);
        Region r = find(gpa, 2);
        return (short) SHORT_ATOMIC.getAcquire(r.seg, gpa - r.gpa);
    }

    @Override
    public void writeShortRelease(long gpa, short v) throws GuestFault {
        checkAligned(gpa);
        Region r = find(gpa, 2);
        SHORT_ATOMIC.setRelease(r.seg, gpa - r.gpa, v);
    }

    private static void checkAligned(long gpa) throws GuestFault {
        if ((gpa & 1) != 0) {
            throw new GuestFault(GuestFault.Reason.MISALIGNED,
                    "16-bit atomic access at odd guest address 0x" + Long.toHexString(gpa));
        }
    }

    @Override
    public void fullFence() {
        VarHandle.fullFence();
    }

    @Override
    public void read(long gpa, byte[] dst, int off, int len) throws GuestFault {
        java.util.Objects.checkFromIndexSize(off, len, dst.length);
        Region r = find(gpa, len);
        MemorySegment.copy(r.seg, ValueLayout.JAVA_BYTE, gpa - r.gpa, dst, off, len);
    }

    @Override
    public void write(long gpa, byte[] src, int off, int len) throws GuestFault {
        java.util.Objects.checkFromIndexSize(off, len, src.length);
        Region r = find(gpa, len);
        MemorySegment.copy(src, off, r.seg, ValueLayout.JAVA_BYTE, gpa - r.gpa, len);
    }

    /**
     * Copies {@code len} bytes of {@code src} from {@code srcOff} into guest memory at
     * {@code gpa} (inside one region), native to native: a device that must look at a
     * frame before the guest may see it stages it outside guest memory, then copies once.
     */
    public void write(long gpa, NativeBuffer src, long srcOff, int len) throws GuestFault {
        java.util.Objects.checkFromIndexSize(srcOff, len, src.size());
        Region r = find(gpa, len);
        MemorySegment.copy(src.segment(), srcOff, r.seg, gpa - r.gpa, len);
    }

    /** Unmaps guest memory. Device threads must have stopped using it. */
    @Override
    public void close() {
        arena.close();
    }
}
