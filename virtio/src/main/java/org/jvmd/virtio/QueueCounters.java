package org.jvmd.virtio;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Requests a device dropped, counted per {@link GuestFault.Reason}. Written by the device
 * thread, readable from any thread (statistics, tests). Faults are rare on a well-behaved
 * guest, so an atomic increment costs nothing on the data path.
 */
public final class QueueCounters {
    private static final GuestFault.Reason[] REASONS = GuestFault.Reason.values();

    private final AtomicLongArray faults = new AtomicLongArray(REASONS.length);

    public void count(GuestFault.Reason reason) {
        faults.incrementAndGet(reason.ordinal());
    }

    public long get(GuestFault.Reason reason) {
        return faults.get(reason.ordinal());
    }

    /** All faults, whatever the reason. */
    public long total() {
        long sum = 0;
        for (int i = 0; i < REASONS.length; i++) {
            sum += faults.get(i);
        }
        return sum;
    }

    /** The non-zero counters, e.g. {@code {CHAIN_LOOP=2, BAD_INDIRECT=1}}. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("{");
        for (GuestFault.Reason r : REASONS) {
            long n = get(r);
            if (n != 0) {
                sb.append(sb.length() > 1 ? ", " : "").append(r).append('=').append(n);
            }
        }
        return sb.append('}').toString();
    }
}
