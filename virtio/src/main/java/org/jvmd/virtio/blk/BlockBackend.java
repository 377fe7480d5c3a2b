package org.jvmd.virtio.blk;

import java.io.IOException;

/**
 * A disk image as the virtio-blk device uses it (vmd's {@code struct virtio_backing}:
 * vioraw.c, vioqcow2.c). Offsets and lengths are in bytes and always inside
 * {@link #size()} and sector-aligned: the device validated the request first.
 *
 * <p>Called from several I/O threads at once (more than one request in flight), so an
 * implementation is thread-safe. Failures are {@link IOException}s; a
 * {@link BlockIoException} names the reason the device counts (EIO, ENOSPC, ...). Either
 * way the guest gets VIRTIO_BLK_S_IOERR and the device goes on.
 */
public interface BlockBackend extends AutoCloseable {
    /** The guest-visible size in bytes (the capacity is {@code size() / 512}, virtio 1.2 §5.2.4). */
    long size();

    /** Reads {@code dst.bytes()} bytes at {@code offset} of the image into the guest spans. */
    void read(long offset, GuestSpans dst) throws IOException;

    /** Writes the guest spans' bytes at {@code offset} of the image. */
    void write(long offset, GuestSpans src) throws IOException;

    /** Makes every completed write durable (VIRTIO_BLK_T_FLUSH; for a file, fdatasync(2)). */
    void flush() throws IOException;

    /**
     * VIRTIO_BLK_T_DISCARD: the range's contents may be dropped (a hint: a backend that
     * cannot deallocate may do nothing, virtio 1.2 §5.2.6.2).
     */
    void discard(long offset, long length) throws IOException;

    /**
     * VIRTIO_BLK_T_WRITE_ZEROES: the range reads back as zeroes afterwards; with
     * {@code unmap} the backend may deallocate it.
     */
    void writeZeroes(long offset, long length, boolean unmap) throws IOException;

    @Override
    default void close() throws IOException {}
}
