package org.jvmd.virtio;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Guest memory in a Java byte array, guest-physical address 0 at index 0. For tests,
 * property tests and benchmarks; the device process uses the sys module's mapping of the
 * guest memfd instead.
 *
 * <p>Multi-byte accesses go through little-endian byte-array view VarHandles (virtio 1.2
 * §2.7: VERSION_1 rings are little-endian). Plain accesses may be unaligned; the acquire and
 * release accessors need a 2-aligned address, as their atomicity does (a hardware
 * 16-bit access is single-copy atomic only when aligned).
 */
public final class HeapGuestMemory implements GuestMemory {
    private static final VarHandle SHORT =
            MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT =
            MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final byte[] ram;

    public HeapGuestMemory(int size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative size " + size);
        }
        this.ram = new byte[size];
    }

    @Override
    public long size() {
        return ram.length;
    }

    @Override
    public boolean contains(long gpa, long len) {
        // No overflow: ram.length - len cannot underflow a long for len >= 0.
        return gpa >= 0 && len >= 0 && gpa <= ram.length - len;
    }

    private int at(long gpa, int len) throws GuestFault {
        if (!contains(gpa, len)) {
            throw new GuestFault(GuestFault.Reason.ADDRESS_OUT_OF_RANGE,
                    "guest access [0x" + Long.toHexString(gpa) + ", +" + len + ") outside "
                            + ram.length + " bytes of guest memory");
        }
        return (int) gpa;
    }

    private int aligned2(long gpa) throws GuestFault {
        int i = at(gpa, 2);
        if ((i & 1) != 0) {
            throw new GuestFault(GuestFault.Reason.MISALIGNED,
                    "ordered 16-bit access at odd address 0x" + Long.toHexString(gpa));
        }
        return i;
    }

    @Override
    public byte readByte(long gpa) throws GuestFault {
        return ram[at(gpa, 1)];
    }

    @Override
    public short readShort(long gpa) throws GuestFault {
        return (short) SHORT.get(ram, at(gpa, 2));
    }

    @Override
    public int readInt(long gpa) throws GuestFault {
        return (int) INT.get(ram, at(gpa, 4));
    }

    @Override
    public long readLong(long gpa) throws GuestFault {
        return (long) LONG.get(ram, at(gpa, 8));
    }

    @Override
    public void writeByte(long gpa, byte v) throws GuestFault {
        ram[at(gpa, 1)] = v;
    }

    @Override
    public void writeShort(long gpa, short v) throws GuestFault {
        SHORT.set(ram, at(gpa, 2), v);
    }

    @Override
    public void writeInt(long gpa, int v) throws GuestFault {
        INT.set(ram, at(gpa, 4), v);
    }

    @Override
    public void writeLong(long gpa, long v) throws GuestFault {
        LONG.set(ram, at(gpa, 8), v);
    }

    /**
     * Byte-array views offer only plain access for 16-bit values, so the ordering comes from
     * fences: a plain 2-aligned load (single-copy atomic, as any Java short access) followed
     * by an acquire fence, which keeps every later load and store after it.
     */
    @Override
    public short readShortAcquire(long gpa) throws GuestFault {
        short v = (short) SHORT.get(ram, aligned2(gpa));
        VarHandle.acquireFence();
        return v;
    }

    /** A release fence, which keeps every earlier load and store before it, then a plain store. */
    @Override
    public void writeShortRelease(long gpa, short v) throws GuestFault {
        int i = aligned2(gpa);
        VarHandle.releaseFence();
        SHORT.set(ram, i, v);
    }

    @Override
    public void fullFence() {
        VarHandle.fullFence();
    }

    @Override
    public void read(long gpa, byte[] dst, int off, int len) throws GuestFault {
        Objects.checkFromIndexSize(off, len, dst.length);
        System.arraycopy(ram, at(gpa, len), dst, off, len);
    }

    @Override
    public void write(long gpa, byte[] src, int off, int len) throws GuestFault {
        Objects.checkFromIndexSize(off, len, src.length);
        System.arraycopy(src, off, ram, at(gpa, len), len);
    }
}
