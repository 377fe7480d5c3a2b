package org.jvmd.it.blk;

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
}
