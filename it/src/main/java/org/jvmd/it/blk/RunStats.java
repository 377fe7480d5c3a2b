package org.jvmd.it.blk;

import org.jvmd.virtio.blk.VirtioBlk;

/**
 * What one {@link BlkSim#run} did: requests and data bytes completed, wall time, the mean
 * and the largest completion latency, the kicks and interrupts it took.
 */
public record RunStats(long requests, long bytes, long nanos, long latencySumNanos, long latencyMaxNanos,
                       long kicks, long interrupts) {
    public double iops() {
        return nanos == 0 ? 0 : requests * 1e9 / nanos;
    }

    /** MB/s, 10^6 bytes (fio's MB/s). */
    public double mbPerSecond() {
        return nanos == 0 ? 0 : bytes * 1e3 / nanos;
    }

    public double meanLatencyMicros() {
        return requests == 0 ? 0 : latencySumNanos / 1e3 / requests;
    }

    @Override
    public String toString() {
        return String.format("%d requests, %d bytes in %.3f s: %.0f IOPS, %.1f MB/s, latency mean %.1f us max %.1f us,"
                        + " %d kicks, %d interrupts", requests, bytes, nanos / 1e9, iops(), mbPerSecond(),
                meanLatencyMicros(), latencyMaxNanos / 1e3, kicks, interrupts);
    }

    /** Adds up the completions of one run. */
    static final class Tally {
        private long requests;
        private long bytes;
        private long latencySum;
        private long latencyMax;

        /** {@code r} completed after {@code latencyNanos}; IN and OUT count their data bytes. */
        void completed(BlkRequest r, long latencyNanos) {
            requests++;
            if (r.type == VirtioBlk.T_IN || r.type == VirtioBlk.T_OUT) {
                bytes += r.len;
            }
            latencySum += latencyNanos;
            latencyMax = Math.max(latencyMax, latencyNanos);
        }

        RunStats stats(long nanos, long kicks, long interrupts) {
            return new RunStats(requests, bytes, nanos, latencySum, latencyMax, kicks, interrupts);
        }
    }
}
