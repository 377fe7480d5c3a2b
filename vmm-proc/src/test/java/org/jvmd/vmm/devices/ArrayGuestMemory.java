package org.jvmd.vmm.devices;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;

/** Guest memory on a byte array, for device-model tests (the virtio module's heap memory is not on main yet). */
public final class ArrayGuestMemory implements GuestMemory {
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    public final byte[] bytes;

    public ArrayGuestMemory(int size) {
        bytes = new byte[size];
    }

    @Override
    public long size() {
        return bytes.length;
    }

    @Override
    public boolean contains(long gpa, long len) {
        return gpa >= 0 && len >= 0 && gpa <= bytes.length - len;
    }

    private int at(long gpa, long len) throws GuestFault {
        if (!contains(gpa, len)) {
            throw new GuestFault(GuestFault.Reason.ADDRESS_OUT_OF_RANGE, Long.toHexString(gpa) + "+" + len);
        }
        return (int) gpa;
    }

    @Override
    public byte readByte(long gpa) throws GuestFault {
        return bytes[at(gpa, 1)];
    }

    @Override
    public short readShort(long gpa) throws GuestFault {
        return (short) SHORT.get(bytes, at(gpa, 2));
    }

    @Override
    public int readInt(long gpa) throws GuestFault {
        return (int) INT.get(bytes, at(gpa, 4));
    }

    @Override
    public long readLong(long gpa) throws GuestFault {
        return (long) LONG.get(bytes, at(gpa, 8));
    }

    @Override
    public void writeByte(long gpa, byte v) throws GuestFault {
        bytes[at(gpa, 1)] = v;
    }

    @Override
    public void writeShort(long gpa, short v) throws GuestFault {
        SHORT.set(bytes, at(gpa, 2), v);
    }

    @Override
    public void writeInt(long gpa, int v) throws GuestFault {
        INT.set(bytes, at(gpa, 4), v);
    }

    @Override
    public void writeLong(long gpa, long v) throws GuestFault {
        LONG.set(bytes, at(gpa, 8), v);
    }

    @Override
    public short readShortAcquire(long gpa) throws GuestFault {
        return (short) SHORT.getAcquire(bytes, at(gpa, 2));
    }

    @Override
    public void writeShortRelease(long gpa, short v) throws GuestFault {
        SHORT.setRelease(bytes, at(gpa, 2), v);
    }

    @Override
    public void fullFence() {
        VarHandle.fullFence();
    }

    @Override
    public void read(long gpa, byte[] dst, int off, int len) throws GuestFault {
        System.arraycopy(bytes, at(gpa, len), dst, off, len);
    }

    @Override
    public void write(long gpa, byte[] src, int off, int len) throws GuestFault {
        System.arraycopy(src, off, bytes, at(gpa, len), len);
    }
}
