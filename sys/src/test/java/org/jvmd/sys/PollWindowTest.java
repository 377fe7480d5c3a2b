package org.jvmd.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class PollWindowTest {
    private static final long US = 1_000;

    @Test
    void shortWaitsOpenTheWindowAndDoubleItUpToTheMaximum() {
        PollWindow w = new PollWindow(50 * US);
        assertEquals(0, w.nanos());
        w.slept(30 * US);
        assertEquals(10 * US, w.nanos());
        w.slept(30 * US);
        assertEquals(20 * US, w.nanos());
        w.slept(30 * US);
        assertEquals(40 * US, w.nanos());
        w.slept(45 * US);
        assertEquals(50 * US, w.nanos());
        w.slept(50 * US);
        assertEquals(50 * US, w.nanos());
        assertEquals(5, w.sleeps());
    }

    @Test
    void aWaitInsideTheWindowKeepsItAndOneLongerThanTheMaximumClosesIt() {
        PollWindow w = new PollWindow(50 * US);
        w.slept(5 * US);
        assertEquals(10 * US, w.nanos());
        w.slept(5 * US);
        assertEquals(10 * US, w.nanos());
        w.slept(15 * US);
        assertEquals(20 * US, w.nanos());
        w.slept(15 * US);   // slept after all (the poll gave up a moment too early)
        assertEquals(20 * US, w.nanos());
        w.polled();
        assertEquals(20 * US, w.nanos());
        assertEquals(1, w.pollHits());
        w.slept(51 * US);
        assertEquals(0, w.nanos());
    }

    @Test
    void aMaximumOfZeroNeverPolls() {
        PollWindow w = new PollWindow(0);
        for (long waited : new long[] {0, 1, 10 * US, 1_000_000 * US}) {
            w.slept(waited);
            assertEquals(0, w.nanos());
        }
        assertThrows(IllegalArgumentException.class, () -> new PollWindow(-1));
    }

    @Test
    void aMaximumBelowTheFirstWindowIsTheWindow() {
        PollWindow w = new PollWindow(3 * US);
        w.slept(2 * US);
        assertEquals(3 * US, w.nanos());
    }

    @Property
    void theWindowStaysWithinZeroAndTheMaximumAndAnIdleWaitClosesIt(
            @ForAll @LongRange(min = 0, max = 500_000) long max,
            @ForAll @Size(max = 60) List<@LongRange(min = 0, max = 2_000_000) Long> waits) {
        PollWindow w = new PollWindow(max);
        for (long waited : waits) {
            long before = w.nanos();
            w.slept(waited);
            assertTrue(w.nanos() >= 0 && w.nanos() <= max, "window " + w.nanos() + " outside [0, " + max + "]");
            if (waited > max) {
                assertEquals(0, w.nanos());
            } else if (waited <= before) {
                assertEquals(before, w.nanos(), "a wait inside the window changed it");
            } else {
                assertTrue(w.nanos() > before || before == max, "a short wait did not grow the window");
            }
        }
    }
}
