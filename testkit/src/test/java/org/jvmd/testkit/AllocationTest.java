package org.jvmd.testkit;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AllocationTest {
    static volatile Object sink;
    static volatile long counter;

    @Test
    void aRoundThatAllocatesFailsInEveryBatch() {
        Runnable garbage = () -> sink = new byte[16];
        assertTrue(Allocation.bestBatch(garbage, 1_000, 5, 1_000) >= 16_000);
        AssertionError e = assertThrows(AssertionError.class,
                () -> Allocation.assertNonePerCall("rounds", garbage, 1_000, 5, 1_000));
        assertTrue(e.getMessage().contains("best batch of 1000 rounds"), e.getMessage());
    }

    @Test
    void aRoundThatAllocatesNothingPassesAndStopsAtTheFirstCleanBatch() {
        Runnable clean = () -> counter++;
        long start = counter;
        Allocation.assertNonePerCall("rounds", clean, 10_000, 50, 1_000);
        assertTrue(counter - start < 50 * 10_000L, "measured until the last batch");
    }
}
