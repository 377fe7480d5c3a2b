package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Random;

/**
 * An {@link ImageFile} that models a disk with a volatile write cache: what was written before
 * the last flush is durable; at a power loss each 512-byte sector written since then holds
 * either its durable content or its latest, independently (writes reach the platter in any
 * order between barriers, a sector is written whole).
 */
final class PowerLossFile implements ImageFile {
    static final int SECTOR = 512;
    final MemImageFile current = new MemImageFile();
    private byte[] durable = new byte[0];
    private final BitSet unflushed = new BitSet();
    private final Random random;
    private long callsLeft;
    long calls;
    byte[] crashed;

    /** Thrown at every call once the power failed: the process is as good as dead. */
    static final class PowerLost extends IOException {
        private static final long serialVersionUID = 1L;

        PowerLost() {
            super("power lost");
        }
    }

    /** The power fails before write or flush call number crashAfter (never if negative). */
    PowerLossFile(byte[] initial, long crashAfter, Random random) throws IOException {
        this.random = random;
        this.callsLeft = crashAfter;
        current.write(ByteBuffer.wrap(initial), 0);
        durable = initial.clone();
    }

    private void tick() throws PowerLost {
        if (crashed != null) {
            throw new PowerLost();
        }
        calls++;
        if (callsLeft >= 0 && callsLeft-- == 0) {
            crashed = crash(random);
            throw new PowerLost();
        }
    }

    PowerLossFile(byte[] initial) throws IOException {
        this.random = null;
        this.callsLeft = -1;
        current.write(ByteBuffer.wrap(initial), 0);
        durable = initial.clone();
    }

    @Override
    public int read(ByteBuffer dst, long position) {
        return current.read(dst, position);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        tick();
        int n = src.remaining();
        current.write(src, position);
        if (n > 0) {
            unflushed.set((int) (position / SECTOR), (int) ((position + n - 1) / SECTOR) + 1);
        }
        return n;
    }

    @Override
    public long size() {
        return current.size();
    }

    @Override
    public void setSize(long size) throws IOException {
        current.setSize(size);
        unflushed.set(0, (int) (size / SECTOR) + 1);
    }

    @Override
    public void flush() throws IOException {
        tick();
        durable = current.bytes();
        unflushed.clear();
    }

    /** The file as the disk holds it after a power loss now. */
    byte[] crash(Random r) {
        byte[] latest = current.bytes();
        byte[] out = Arrays.copyOf(durable, Math.max(durable.length, latest.length));
        for (int s = unflushed.nextSetBit(0); s >= 0; s = unflushed.nextSetBit(s + 1)) {
            if (r.nextBoolean()) {
                int from = s * SECTOR;
                int to = Math.min(latest.length, from + SECTOR);
                if (from < to) {
                    System.arraycopy(latest, from, out, from, to - from);
                }
            }
        }
        return out;
    }

    @Override
    public String name() {
        return "mem";
    }

    @Override
    public void close() {
    }
}
