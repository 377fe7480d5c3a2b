package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/** An in-memory {@link ImageFile} for property tests: grows on write, counts flushes. */
public final class MemImageFile implements ImageFile {
    private byte[] data;
    private long size;
    private final long maxSize;
    int flushes;
    boolean closed;

    public MemImageFile(byte[] initial) {
        this(initial, 1L << 30);
    }

    public MemImageFile(byte[] initial, long maxSize) {
        this.data = initial.clone();
        this.size = initial.length;
        this.maxSize = maxSize;
    }

    public MemImageFile() {
        this(new byte[0]);
    }

    public synchronized byte[] bytes() {
        return Arrays.copyOf(data, (int) size);
    }

    @Override
    public synchronized int read(ByteBuffer dst, long position) {
        if (position >= size) {
            return -1;
        }
        int n = (int) Math.min(dst.remaining(), size - position);
        dst.put(data, (int) position, n);
        return n;
    }

    @Override
    public synchronized int write(ByteBuffer src, long position) throws IOException {
        int n = src.remaining();
        ensure(position + n);
        src.get(data, (int) position, n);
        size = Math.max(size, position + n);
        return n;
    }

    private void ensure(long end) throws IOException {
        if (end > maxSize) {
            throw new IOException("file would exceed " + maxSize + " bytes");
        }
        if (end > data.length) {
            data = Arrays.copyOf(data, (int) Math.max(end, Math.min(maxSize, data.length * 2L)));
        }
    }

    @Override
    public synchronized long size() {
        return size;
    }

    @Override
    public synchronized void setSize(long s) throws IOException {
        ensure(s);
        if (s < size) {
            Arrays.fill(data, (int) s, (int) size, (byte) 0);
        }
        size = s;
    }

    @Override
    public synchronized void flush() {
        flushes++;
    }

    /** Punched ranges read as zeros, like fallocate(PUNCH_HOLE | KEEP_SIZE). */
    boolean punchHoles = true;
    long punched;

    @Override
    public synchronized boolean punchHole(long offset, long length) {
        if (!punchHoles) {
            return false;
        }
        long end = Math.min(size, offset + length);
        if (offset < end) {
            Arrays.fill(data, (int) offset, (int) end, (byte) 0);
            punched += end - offset;
        }
        return true;
    }

    @Override
    public String name() {
        return "mem";
    }

    @Override
    public synchronized void close() {
        closed = true;
    }
}
