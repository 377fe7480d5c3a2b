package org.jvmd.vioblk;

import org.jvmd.virtio.blk.BlockBackend;
import org.jvmd.virtio.blk.BlockIoException;
import org.jvmd.virtio.blk.GuestSpans;

/**
 * A disk process backend whose read and write are one walk over the request's guest spans,
 * in one direction or the other ({@link RawBackend}: preadv/pwritev; {@link Qcow2Backend}:
 * the qcow2 library on views of guest memory).
 */
abstract class SpanBackend implements BlockBackend {
    @Override
    public final void read(long offset, GuestSpans dst) throws BlockIoException {
        transfer(offset, dst, false);
    }

    @Override
    public final void write(long offset, GuestSpans src) throws BlockIoException {
        transfer(offset, src, true);
    }

    /** Moves the spans' bytes at image {@code offset}: into guest memory, or with {@code write} out of it. */
    abstract void transfer(long offset, GuestSpans spans, boolean write) throws BlockIoException;
}
