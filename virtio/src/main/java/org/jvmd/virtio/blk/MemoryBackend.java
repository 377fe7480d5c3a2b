package org.jvmd.virtio.blk;

import java.io.IOException;
import java.util.Arrays;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;

/**
 * An image in a byte array, copying to and from guest memory through {@link GuestMemory}:
 * for tests, the property tests' reference, and vioblk-proc's warm-up before its drop.
 * Thread-safe (one lock). Counts flushes, discards and zeroed ranges so tests can see them.
 */
public final class MemoryBackend extends SpanBackend {
    private final GuestMemory memory;
    private final byte[] image;
    private long flushes;
    private long discarded;

    public MemoryBackend(GuestMemory memory, int size) {
        this.memory = memory;
        this.image = new byte[size];
    }

    @Override
    public long size() {
        return image.length;
    }

    /** The image (not a copy): tests look at and seed it. */
    public byte[] image() {
        return image;
    }

    public synchronized long flushes() {
        return flushes;
    }

    public synchronized long discardedBytes() {
        return discarded;
    }

    /** Copies between the image array and each span in turn. */
    @Override
    protected synchronized void transfer(long offset, GuestSpans spans, boolean write) throws BlockIoException {
        long at = check(offset, spans.bytes());
        try {
            for (int i = 0; i < spans.count(); i++) {
                if (write) {
                    memory.read(spans.address(i), image, (int) at, spans.length(i));
                } else {
                    memory.write(spans.address(i), image, (int) at, spans.length(i));
                }
                at += spans.length(i);
            }
        } catch (GuestFault f) {
            throw new BlockIoException(BlockError.GUEST_FAULT, f.getMessage());
        }
    }

    @Override
    public synchronized void flush() {
        flushes++;
    }

    @Override
    public synchronized void discard(long offset, long length) throws IOException {
        check(offset, length);
        discarded += length;
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, boolean unmap) throws IOException {
        long at = check(offset, length);
        Arrays.fill(image, (int) at, (int) (at + length), (byte) 0);
    }

    private long check(long offset, long length) throws BlockIoException {
        if (offset < 0 || length < 0 || offset > image.length - length) {
            throw new BlockIoException(BlockError.IO_OTHER, "range " + offset + "+" + length + " outside the image");
        }
        return offset;
    }
}
