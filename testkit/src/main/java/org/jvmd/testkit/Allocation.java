package org.jvmd.testkit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;

/**
 * Asserts that a hot path allocates nothing per call, measured with the calling thread's
 * allocation counter.
 *
 * <p>The JDK's downcall glue and unescaped temporaries allocate until C2 has compiled the
 * path; on a loaded machine (CI, two cores, other test forks) that can take well past any
 * fixed warm-up. So batches are measured until one comes in under the budget, for at most
 * {@code maxBatches}. A real per-call allocation costs at least 16 bytes a round in every
 * batch and never passes; a one-off (a deoptimization, a lazily built table) is tolerated.
 */
public final class Allocation {
    private Allocation() {}

    /** The fewest bytes the current thread allocated in one batch of {@code rounds} calls. */
    public static long bestBatch(Runnable round, int rounds, int maxBatches, long budget) {
        com.sun.management.ThreadMXBean mx =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        long best = Long.MAX_VALUE;
        for (int batch = 0; batch < maxBatches && best >= budget; batch++) {
            long before = mx.getThreadAllocatedBytes(tid);
            for (int i = 0; i < rounds; i++) {
                round.run();
            }
            best = Math.min(best, mx.getThreadAllocatedBytes(tid) - before);
        }
        return best;
    }

    /**
     * Fails unless some batch of {@code rounds} calls allocated under {@code budget} bytes
     * (at most {@code maxBatches} tried); prints the best batch, labelled {@code what}.
     */
    public static void assertNonePerCall(String what, Runnable round, int rounds, int maxBatches, long budget) {
        long best = bestBatch(round, rounds, maxBatches, budget);
        System.out.println("allocation: " + best + " bytes in the best batch of " + rounds + " " + what);
        assertTrue(best < budget, best + " bytes allocated in the best batch of " + rounds + " " + what
                + " (budget " + budget + ")");
    }
}
