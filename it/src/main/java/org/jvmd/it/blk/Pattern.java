package org.jvmd.it.blk;

import java.util.SplittableRandom;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.blk.VirtioBlk;

/**
 * A benchmark pattern as fio names it (rw=randread, randwrite, read, write): requests of
 * {@code blockBytes} over the first {@code spanBytes} of the disk, at offsets aligned to
 * the block size, uniformly random (fio's norandommap) or sequential with wrap-around.
 * Every request must complete with VIRTIO_BLK_S_OK; anything else stops the run (a used
 * length other than the bytes written is counted). The data
 * written is whatever the slot's buffer holds (fio writes its own buffers without
 * refilling them either).
 */
public final class Pattern implements Workload {
    public enum Kind {
        RANDREAD("randread", VirtioBlk.T_IN, true),
        RANDWRITE("randwrite", VirtioBlk.T_OUT, true),
        READ("read", VirtioBlk.T_IN, false),
        WRITE("write", VirtioBlk.T_OUT, false);

        final String fio;
        final int type;
        final boolean random;

        Kind(String fio, int type, boolean random) {
            this.fio = fio;
            this.type = type;
            this.random = random;
        }

        /** fio's --rw name. */
        public String fioName() {
            return fio;
        }

        public static Kind of(String fioName) {
            for (Kind k : values()) {
                if (k.fio.equals(fioName)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown pattern " + fioName + " (randread, randwrite, read, write)");
        }
    }

    private final Kind kind;
    private final int blockBytes;
    private final long blocks;
    private final SplittableRandom random;
    private long nextBlock;
    private long wrongUsedLength;
    private String firstWrongUsedLength;

    public Pattern(Kind kind, int blockBytes, long spanBytes, long seed) {
        if (blockBytes <= 0 || blockBytes % VirtioBlk.SECTOR_SIZE != 0) {
            throw new IllegalArgumentException("block size " + blockBytes + " is not a multiple of 512");
        }
        if (spanBytes < blockBytes) {
            throw new IllegalArgumentException("span " + spanBytes + " smaller than a block");
        }
        this.kind = kind;
        this.blockBytes = blockBytes;
        this.blocks = spanBytes / blockBytes;
        this.random = new SplittableRandom(seed);
    }

    @Override
    public boolean next(BlkRequest r) {
        long block;
        if (kind.random) {
            block = random.nextLong(blocks);
        } else {
            block = nextBlock;
            nextBlock = nextBlock + 1 == blocks ? 0 : nextBlock + 1;
        }
        r.set(kind.type, block * blockBytes / VirtioBlk.SECTOR_SIZE, blockBytes);
        return true;
    }

    @Override
    public void done(BlkRequest r, int status, int usedLen, long latencyNanos) throws GuestFault {
        if (status != VirtioBlk.S_OK) {
            throw new IllegalStateException(r + " completed with status " + status);
        }
        // virtio 1.2 §2.7.8: len is what the device wrote, the data of an IN and the status byte
        int expect = r.deviceWrites() ? r.len + 1 : 1;
        if (usedLen != expect) {
            if (wrongUsedLength++ == 0) {
                firstWrongUsedLength = r + " used with length " + usedLen + ", expected " + expect;
            }
        }
    }

    /** Completions whose used length was not what the device wrote (data of an IN plus the status byte). */
    public long wrongUsedLength() {
        return wrongUsedLength;
    }

    /** The first of {@link #wrongUsedLength()}, or null. */
    public String firstWrongUsedLength() {
        return firstWrongUsedLength;
    }
}
