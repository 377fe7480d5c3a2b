package org.jvmd.virtio.blk;

/**
 * A backend whose read and write are one walk over the request's guest spans, in one
 * direction or the other (vioblk-proc's raw backend: preadv/pwritev; its qcow2 backend: the
 * qcow2 library on views of guest memory; {@link MemoryBackend}: array copies).
 */
public abstract class SpanBackend implements BlockBackend {
    @Override
    public final void read(long offset, GuestSpans dst) throws BlockIoException {
        transfer(offset, dst, false);
    }

    @Override
    public final void write(long offset, GuestSpans src) throws BlockIoException {
        transfer(offset, src, true);
    }

    /** Moves the spans' bytes at image {@code offset}: into guest memory, or with {@code write} out of it. */
    protected abstract void transfer(long offset, GuestSpans spans, boolean write) throws BlockIoException;
}
