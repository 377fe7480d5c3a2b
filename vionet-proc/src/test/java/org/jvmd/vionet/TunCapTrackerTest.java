package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.jvmd.virtio.net.TunFlags;

/** What the tap may hand, over TUNSCAP requests and answers. */
class TunCapTrackerTest {
    static final int BASE = TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.TSO_ECN;

    @Test
    void anythingUntilAnAnswerThenTheAnswerOnceTheTapReadEmpty() {
        TunCapTracker t = new TunCapTracker();
        assertEquals(TunFlags.ALL, t.mayGive(), "nothing is known before the first answer");
        t.requested(BASE);
        assertEquals(BASE, t.answered(true, BASE));
        assertEquals(BASE, t.tapFlags());
        assertEquals(TunFlags.ALL, t.mayGive(), "frames made under the old flags may still be queued");
        t.tapEmpty();
        assertEquals(BASE, t.mayGive());
    }

    @Test
    void aRequestInFlightCountsAsPossibleAndARefusalKeepsWhatTheTapKept() {
        TunCapTracker t = new TunCapTracker();
        t.requested(BASE);
        t.answered(true, BASE);
        t.tapEmpty();
        t.requested(BASE | TunCapTracker.USO);
        assertEquals(BASE | TunCapTracker.USO, t.mayGive(), "the request may already be applied");
        assertEquals(BASE | TunCapTracker.USO, t.answered(false, BASE));
        assertEquals(BASE, t.tapFlags());
        assertEquals(BASE | TunCapTracker.USO, t.mayGive(), "until the tap reads empty");
        t.tapEmpty();
        assertEquals(BASE, t.mayGive());
        assertFalse(t.usoKnown(), "a refused USO is not known");
        t.requested(BASE | TunCapTracker.USO);
        t.answered(true, 0);
        assertTrue(t.usoKnown());
    }

    @Test
    void anAnswerWithoutARequestIsIgnored() {
        TunCapTracker t = new TunCapTracker();
        assertEquals(-1, t.answered(true, 0));
        assertEquals(TunFlags.ALL, t.mayGive());
        assertEquals(0, t.inFlight());
    }

    @Test
    void whenAnswersStopOnlyTheNewestRequestsAreRemembered() {
        TunCapTracker t = new TunCapTracker();
        for (int i = 0; i < TunCapTracker.MAX_INFLIGHT + 3; i++) {
            t.requested(i);
        }
        assertEquals(TunCapTracker.MAX_INFLIGHT, t.inFlight());
        assertEquals(3, t.answered(true, 0), "the three oldest were forgotten");
    }

    record Step(int kind, int flags, boolean ok) {}

    @Provide
    Arbitrary<List<Step>> steps() {
        return Combinators.combine(Arbitraries.integers().between(0, 2), Arbitraries.integers().between(0, TunFlags.ALL),
                Arbitraries.of(true, false)).as(Step::new).list().ofMaxSize(60);
    }

    /**
     * Against a model: whatever the sequence, a frame read now can carry no flag outside
     * mayGive: not one of the tap's current flags, a request in flight, or flags the tap had
     * before the last change while it has not read empty since.
     */
    @Property(tries = 500)
    void mayGiveCoversEveryFlagAQueuedFrameCanCarry(@ForAll("steps") List<Step> steps) {
        TunCapTracker t = new TunCapTracker();
        ArrayDeque<Integer> inflight = new ArrayDeque<>();
        int tap = TunFlags.ALL;
        int queued = TunFlags.ALL;   // flags of frames that may sit in the tap
        for (Step s : steps) {
            switch (s.kind()) {
                case 0 -> {
                    t.requested(s.flags());
                    if (inflight.size() == TunCapTracker.MAX_INFLIGHT) {
                        inflight.poll();
                    }
                    inflight.add(s.flags());
                }
                case 1 -> {
                    int r = t.answered(s.ok(), s.flags() & BASE);
                    if (inflight.isEmpty()) {
                        assertEquals(-1, r);
                    } else {
                        for (int f : inflight) {
                            queued |= f;   // applied for a while, maybe: frames of it may be queued
                        }
                        int req = inflight.poll();
                        assertEquals(req, r);
                        tap = s.ok() ? req : s.flags() & BASE;
                        queued |= tap;
                    }
                }
                default -> {
                    t.tapEmpty();
                    queued = tap;
                }
            }
            int possible = queued;
            for (int f : inflight) {
                possible |= f;   // the privileged side may have applied it already
            }
            assertEquals(0, possible & ~t.mayGive(), "flags a frame may carry that mayGive misses");
            assertEquals(tap, t.tapFlags());
            assertEquals(inflight.size(), t.inFlight());
            if (inflight.isEmpty()) {
                assertEquals(queued, t.mayGive(), "with nothing in flight mayGive is exact");
            }
        }
    }
}
