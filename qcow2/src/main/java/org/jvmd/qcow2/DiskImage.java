package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * A virtual disk as the disk process serves it: raw ({@link RawImage}) or qcow2 with its base
 * chain ({@link Qcow2Image}). Offsets are guest bytes; a request must lie inside {@link #size()}.
 *
 * <p>Thread safety: every method may be called from several threads; an implementation
 * serialises what must be (a qcow2 image holds one lock per request).
 *
 * <p>Errors: an {@link ImageException} for anything the image's content or the request is
 * responsible for, another {@link IOException} when the file itself fails; the disk process
 * answers either with VIRTIO_BLK_S_IOERR.
 */
public interface DiskImage extends AutoCloseable {
    /** Virtual size in bytes. */
    long size();

    /** Whether writes, discards and write-zeroes are refused. */
    boolean readOnly();

    /** The granularity below which {@link #discard} does nothing (the cluster size; 1 for raw). */
    int discardGranularity();

    /** Reads dst.remaining() bytes at offset into dst (advancing its position). */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes src.remaining() bytes at offset (advancing src's position). */
    void write(long offset, ByteBuffer src) throws IOException;

    /**
     * Resolves {@code [offset, offset+length)} into where its bytes lie, for a caller that
     * moves the data itself: a read (write false) or a write in place (write true) of
     * {@link Extent.Data} extents at the given positions of the layers' files, zeros for
     * {@link Extent.Zero}, and a final {@link Extent.Sync} for the rest where the range needs
     * what only {@link #read}/{@link #write} do (allocation, copy-on-write, decompression;
     * or the image was busy: this never waits for another request). Nothing is changed. The
     * mapping must be closed once the caller's transfers have ended, and before
     * {@link #close}. A write that {@link #flush} must make durable goes to layer 0's file.
     */
    Mapping map(long offset, long length, boolean write) throws IOException;

    /** Makes every completed write durable (VIRTIO_BLK_T_FLUSH). */
    void flush() throws IOException;

    /**
     * VIRTIO_BLK_T_DISCARD: the whole granules inside the range may be given back; they then read
     * as zeros (a qcow2 v2 image over a base keeps them: it has no zero clusters). Parts of a
     * granule are left as they are.
     */
    void discard(long offset, long length) throws IOException;

    /** VIRTIO_BLK_T_WRITE_ZEROES: the range reads as zeros afterwards. */
    void writeZeroes(long offset, long length) throws IOException;

    /** Flushes (if writable) and closes every file of the chain. Idempotent. */
    @Override
    void close() throws IOException;

    /**
     * Opens a disk from its layers: layer 0 is the disk's own image (written unless readOnly),
     * layers 1.. its read-only bases in chain order, as {@link BackingChain#resolve} lists them.
     * Ownership of every file passes to the returned image. On failure nothing is closed.
     */
    static DiskImage open(List<Layer> layers, boolean readOnly) throws IOException {
        if (layers.isEmpty()) {
            throw new ImageException("no image given");
        }
        Layer top = layers.get(0);
        List<Layer> bases = layers.subList(1, layers.size());
        return switch (top.format()) {
            case RAW -> {
                if (!bases.isEmpty()) {
                    throw new ImageException(top.file().name() + ": a raw image has no base, but "
                            + bases.size() + " base layer(s) were given");
                }
                yield new RawImage(top.file(), readOnly);
            }
            case QCOW2 -> Qcow2Image.open(top.file(), bases, readOnly);
        };
    }

    /** Checks that [offset, offset+length) lies inside a disk of this size. */
    static void checkRange(String name, long size, long offset, long length) throws ImageException {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new ImageException(name + ": request at " + offset + " of " + length
                    + " bytes lies outside the disk (" + size + " bytes)");
        }
    }
}
