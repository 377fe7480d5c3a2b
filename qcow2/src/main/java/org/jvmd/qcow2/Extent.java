package org.jvmd.qcow2;

/**
 * One piece of a guest range as {@link DiskImage#map} resolves it: where its bytes lie, for a
 * caller that moves the data itself (the disk process, on its io_uring, straight between a
 * layer's file and guest memory).
 */
public sealed interface Extent permits Extent.Data, Extent.Zero, Extent.Sync {
    /** Guest bytes this extent covers. */
    long length();

    /**
     * {@code length} bytes at {@code position} of layer {@code layer}'s file (0 the disk's own
     * image, 1.. its bases in chain order, as {@link DiskImage#open} numbers them). A read that
     * meets the end of the file reads zeros for the rest, as {@link ImageFile#readOrZero} does.
     */
    record Data(int layer, long position, long length) implements Extent {}

    /** {@code length} bytes that read as zeros (nothing to read). */
    record Zero(long length) implements Extent {}

    /**
     * The rest of the range, which only {@link DiskImage#read}/{@link DiskImage#write} serve:
     * a write that needs a new cluster (allocation, copy-on-write from a base, a zero or
     * shared cluster), a compressed cluster, or an image busy at the moment of mapping.
     */
    record Sync(long length) implements Extent {}
}
