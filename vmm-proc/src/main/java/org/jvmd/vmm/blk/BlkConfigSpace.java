package org.jvmd.vmm.blk;

import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_BLK_SIZE;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_CAPACITY;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_DISCARD_SECTOR_ALIGNMENT;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_MAX_DISCARD_SECTORS;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_MAX_DISCARD_SEG;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_MAX_WRITE_ZEROES_SECTORS;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_MAX_WRITE_ZEROES_SEG;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_NUM_QUEUES;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_SEG_MAX;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_SIZE;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_SIZE_MAX;
import static org.jvmd.virtio.blk.VirtioBlk.CONFIG_WRITE_ZEROES_MAY_UNMAP;

import org.jvmd.proto.VioblkReady;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.blk.VirtioBlk;
import org.jvmd.vmm.proxy.ConfigBytes;

/**
 * The virtio-blk device configuration space (virtio 1.2 §5.2.4), answered in vmm-proc from
 * the geometry vioblk reported in {@link VioblkReady}: capacity (in 512-byte sectors,
 * whatever blk_size says), size_max, seg_max, blk_size 512, num_queues 1 and, for a
 * writable disk, the discard and write-zeroes limits. No geometry and no topology
 * (GEOMETRY, TOPOLOGY not offered); writeback 0 (CONFIG_WCE not offered: the device is
 * always write-back and FLUSH is honest). Read-only for the driver. Pure: no I/O.
 */
public final class BlkConfigSpace {
    /** The logical block size shown to the guest: the sector (§5.2.4 blk_size). */
    public static final int BLK_SIZE = VirtioBlk.SECTOR_SIZE;
    /**
     * discard_sector_alignment in sectors (§5.2.4): 4 KiB, the page and the usual host
     * file-system block, so that Linux splits discards where a hole punch frees whole blocks.
     */
    public static final int DISCARD_ALIGNMENT_SECTORS = 4096 / VirtioBlk.SECTOR_SIZE;

    private final ConfigBytes bytes = new ConfigBytes(CONFIG_SIZE);
    private final long features;

    /** The space for a disk vioblk described as {@code ready}; {@code readOnly} also if the config says so. */
    public BlkConfigSpace(VioblkReady ready, boolean readOnly) {
        this.features = offeredFeatures(readOnly || ready.getReadOnly());
        bytes.put(CONFIG_CAPACITY, 8, ready.getCapacitySectors())
                .put(CONFIG_SIZE_MAX, 4, ready.getSizeMax())
                .put(CONFIG_SEG_MAX, 4, ready.getSegMax())
                .put(CONFIG_BLK_SIZE, 4, BLK_SIZE)
                .put(CONFIG_NUM_QUEUES, 2, 1); // no VIRTIO_BLK_F_MQ: one request queue
        if (has(VirtioBlk.F_DISCARD)) {
            bytes.put(CONFIG_MAX_DISCARD_SECTORS, 4, ready.getMaxDiscardSectors())
                    .put(CONFIG_MAX_DISCARD_SEG, 4, 1) // one segment per request
                    .put(CONFIG_DISCARD_SECTOR_ALIGNMENT, 4, DISCARD_ALIGNMENT_SECTORS);
        }
        if (has(VirtioBlk.F_WRITE_ZEROES)) {
            bytes.put(CONFIG_MAX_WRITE_ZEROES_SECTORS, 4, ready.getMaxWriteZeroesSectors())
                    .put(CONFIG_MAX_WRITE_ZEROES_SEG, 4, 1)
                    .put(CONFIG_WRITE_ZEROES_MAY_UNMAP, 1, 1); // the unmap flag may punch a hole
        }
    }

    /**
     * The features a disk offers: virtio-blk's ({@link VirtioBlk#offeredFeatures}), VERSION_1
     * and the ring features INDIRECT_DESC and EVENT_IDX (virtio 1.2 §6), as vionet's.
     */
    public static long offeredFeatures(boolean readOnly) {
        return VirtioBlk.offeredFeatures(readOnly) | 1L << VERSION_1 | 1L << Virtq.F_INDIRECT_DESC
                | 1L << Virtq.F_EVENT_IDX;
    }

    /** VIRTIO_F_VERSION_1 (virtio 1.2 §6). */
    static final int VERSION_1 = 32;

    private boolean has(int bit) {
        return (features & 1L << bit) != 0;
    }

    public long features() {
        return features;
    }

    public boolean readOnly() {
        return has(VirtioBlk.F_RO);
    }

    public long capacitySectors() {
        return bytes.read(CONFIG_CAPACITY, 8);
    }

    /** Little-endian read of {@code size} bytes at {@code offset}; bytes past the end read 0. */
    public long read(int offset, int size) {
        return bytes.read(offset, size);
    }
}
