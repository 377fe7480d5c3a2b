package org.jvmd.virtio;

import java.util.ArrayList;
import java.util.List;

/**
 * Wraps guest memory and records what the device does with it: every access that is not
 * inside guest memory (it must fail, never reach the backing store), every write outside the
 * ranges the test allows, and how many accesses there were (a bound on the work done).
 */
final class CheckedMemory implements GuestMemory {
    private final GuestMemory inner;
    private final List<long[]> writable = new ArrayList<>();
    final List<String> violations = new ArrayList<>();
    long accesses;
    /** Runs before every acquire load: lets a test act as a guest running concurrently. */
    GuestAction beforeAcquire = gpa -> { };

    interface GuestAction {
        void run(long gpa) throws GuestFault;
    }

    CheckedMemory(GuestMemory inner) {
        this.inner = inner;
    }

    /** Allows device writes to {@code [gpa, gpa+len)}; with none allowed, every write is allowed. */
    CheckedMemory allowWrites(long gpa, long len) {
        writable.add(new long[] {gpa, len});
        return this;
    }

    private void read(long gpa, long len) {
        accesses++;
        if (!inner.contains(gpa, len)) {
            violations.add("read outside memory at 0x" + Long.toHexString(gpa) + "+" + len);
        }
    }

    private void write(long gpa, long len) {
        accesses++;
        if (!inner.contains(gpa, len)) {
            violations.add("write outside memory at 0x" + Long.toHexString(gpa) + "+" + len);
        }
        if (writable.isEmpty()) {
            return;
        }
        for (long[] w : writable) {
            if (gpa >= w[0] && gpa + len <= w[0] + w[1]) {
                return;
            }
        }
        violations.add("write outside the allowed ranges at 0x" + Long.toHexString(gpa) + "+" + len);
    }

    @Override public long size() { return inner.size(); }
    @Override public boolean contains(long gpa, long len) { return inner.contains(gpa, len); }
    @Override public byte readByte(long gpa) throws GuestFault { read(gpa, 1); return inner.readByte(gpa); }
    @Override public short readShort(long gpa) throws GuestFault { read(gpa, 2); return inner.readShort(gpa); }
    @Override public int readInt(long gpa) throws GuestFault { read(gpa, 4); return inner.readInt(gpa); }
    @Override public long readLong(long gpa) throws GuestFault { read(gpa, 8); return inner.readLong(gpa); }
    @Override public void writeByte(long gpa, byte v) throws GuestFault { write(gpa, 1); inner.writeByte(gpa, v); }
    @Override public void writeShort(long gpa, short v) throws GuestFault { write(gpa, 2); inner.writeShort(gpa, v); }
    @Override public void writeInt(long gpa, int v) throws GuestFault { write(gpa, 4); inner.writeInt(gpa, v); }
    @Override public void writeLong(long gpa, long v) throws GuestFault { write(gpa, 8); inner.writeLong(gpa, v); }
    @Override public short readShortAcquire(long gpa) throws GuestFault {
        beforeAcquire.run(gpa);
        read(gpa, 2);
        return inner.readShortAcquire(gpa);
    }
    @Override public void writeShortRelease(long gpa, short v) throws GuestFault { write(gpa, 2); inner.writeShortRelease(gpa, v); }
    @Override public void fullFence() { inner.fullFence(); }
    @Override public void read(long gpa, byte[] dst, int off, int len) throws GuestFault { read(gpa, len); inner.read(gpa, dst, off, len); }
    @Override public void write(long gpa, byte[] src, int off, int len) throws GuestFault { write(gpa, len); inner.write(gpa, src, off, len); }
}
