package org.jvmd.virtio.blk;

/**
 * The request limits a jvmd disk advertises in its configuration space (virtio 1.2 §5.2.4)
 * and enforces on every request: more is answered VIRTIO_BLK_S_IOERR and counted.
 *
 * @param segMax                data segments per request (seg_max)
 * @param sizeMax               bytes per data segment (size_max)
 * @param maxDiscardSectors     sectors per discard segment
 * @param maxDiscardSeg         segments per discard request
 * @param maxWriteZeroesSectors sectors per write-zeroes segment
 * @param maxWriteZeroesSeg     segments per write-zeroes request
 */
public record VioblkLimits(int segMax, int sizeMax, long maxDiscardSectors, int maxDiscardSeg,
                           long maxWriteZeroesSectors, int maxWriteZeroesSeg) {
    /**
     * seg_max 254: a 256-entry queue minus the header and status descriptors, QEMU's
     * default; size_max 1 MiB; 2 GiB and 32 segments per discard / write-zeroes request.
     */
    public static final VioblkLimits DEFAULT = new VioblkLimits(254, 1 << 20, 1L << 22, 32, 1L << 22, 32);

    public VioblkLimits {
        if (segMax <= 0 || segMax > 1024 || sizeMax < VirtioBlk.SECTOR_SIZE
                || maxDiscardSectors <= 0 || maxDiscardSectors > 0xffffffffL || maxDiscardSeg <= 0
                || maxWriteZeroesSectors <= 0 || maxWriteZeroesSectors > 0xffffffffL || maxWriteZeroesSeg <= 0) {
            throw new IllegalArgumentException("bad limits " + segMax + "/" + sizeMax);
        }
    }

    /** The most discard or write-zeroes segments one request may carry. */
    public int maxSegmentsOfRanges() {
        return Math.max(maxDiscardSeg, maxWriteZeroesSeg);
    }
}
