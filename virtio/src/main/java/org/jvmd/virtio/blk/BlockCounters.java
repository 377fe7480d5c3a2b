package org.jvmd.virtio.blk;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The disk's counters (DiskStats): requests completed OK by type, bytes moved, UNSUPP
 * answers, and failures by {@link BlockError}. Updated on the device thread only; read
 * there too (the stats request is served by that thread).
 */
public final class BlockCounters {
    long reads;
    long writes;
    long flushes;
    long discards;
    long writeZeroes;
    long getIds;
    long readBytes;
    long writeBytes;
    long unsupported;
    private final long[] errors = new long[BlockError.values().length];

    void error(BlockError e) {
        errors[e.ordinal()]++;
    }

    public long reads() {
        return reads;
    }

    public long writes() {
        return writes;
    }

    public long flushes() {
        return flushes;
    }

    public long discards() {
        return discards;
    }

    public long writeZeroes() {
        return writeZeroes;
    }

    public long getIds() {
        return getIds;
    }

    public long readBytes() {
        return readBytes;
    }

    public long writeBytes() {
        return writeBytes;
    }

    public long unsupported() {
        return unsupported;
    }

    public long errors(BlockError e) {
        return errors[e.ordinal()];
    }

    /** Requests completed OK, of every type. */
    public long completedOk() {
        return reads + writes + flushes + discards + writeZeroes + getIds;
    }

    public long totalErrors() {
        long n = 0;
        for (long e : errors) {
            n += e;
        }
        return n;
    }

    /** The non-zero error counters by key ("out_of_range" -> 3). */
    public Map<String, Long> errorMap() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (BlockError e : BlockError.values()) {
            if (errors[e.ordinal()] != 0) {
                m.put(e.key(), errors[e.ordinal()]);
            }
        }
        return m;
    }

    @Override
    public String toString() {
        return "reads " + reads + " writes " + writes + " flushes " + flushes + " discards " + discards
                + " write_zeroes " + writeZeroes + " get_ids " + getIds + " read_bytes " + readBytes
                + " write_bytes " + writeBytes + " unsupported " + unsupported + " errors " + errorMap();
    }
}
