package org.jvmd.sys.uring;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/**
 * The ring bookkeeping against a test that plays the kernel on ordinary native memory:
 * it consumes SQEs up to the published tail, posts CQEs in any order, and the indices
 * wrap past 2^32 as the kernel's do.
 */
class UringRingsTest {
    // A ring layout of our own (the kernel's offsets differ; the class takes whatever setup says).
    static final long SQ_HEAD = 0;
    static final long SQ_TAIL = 4;
    static final long SQ_MASK = 8;
    static final long SQ_ENTRIES = 12;
    static final long SQ_ARRAY = 64;
    static final long CQ_HEAD = 16;
    static final long CQ_TAIL = 20;
    static final long CQ_MASK = 24;

    /** The kernel's side of the rings. */
    static final class FakeKernel {
        final Arena arena = Arena.ofAuto();
        final int entries;
        final MemorySegment ring;
        final MemorySegment sqes;
        final long cqes;
        int sqHead;
        int cqTail;
        final UringRings rings;

        FakeKernel(int entries, int start) {
            this.entries = entries;
            this.cqes = (SQ_ARRAY + 4L * entries + 15) & ~15L;   // the kernel aligns the CQEs too
            this.ring = arena.allocate(cqes + 16L * 2 * entries, 64);
            this.sqes = arena.allocate(64L * entries, 64);
            ring.set(JAVA_INT, SQ_MASK, entries - 1);
            ring.set(JAVA_INT, SQ_ENTRIES, entries);
            ring.set(JAVA_INT, CQ_MASK, 2 * entries - 1);
            // free-running indices that start near the wrap
            sqHead = start;
            cqTail = start;
            ring.set(JAVA_INT, SQ_HEAD, start);
            ring.set(JAVA_INT, SQ_TAIL, start);
            ring.set(JAVA_INT, CQ_HEAD, start);
            ring.set(JAVA_INT, CQ_TAIL, start);
            rings = new UringRings(ring, SQ_HEAD, SQ_TAIL, SQ_MASK, SQ_ENTRIES, SQ_ARRAY, sqes, ring, CQ_HEAD,
                    CQ_TAIL, CQ_MASK, cqes);
        }

        /** Consumes up to {@code max} published SQEs; returns their (opcode, fd, offset, userData). */
        List<long[]> consume(int max) {
            List<long[]> got = new ArrayList<>();
            int tail = ring.get(JAVA_INT, SQ_TAIL);
            while (sqHead != tail && got.size() < max) {
                int idx = ring.get(JAVA_INT, SQ_ARRAY + 4L * (sqHead & (entries - 1)));
                long at = 64L * idx;
                got.add(new long[] {sqes.get(JAVA_BYTE, at), sqes.get(JAVA_INT, at + 4),
                        sqes.get(JAVA_LONG, at + 8), sqes.get(JAVA_LONG, at + 32), sqes.get(JAVA_BYTE, at + 1)});
                sqHead++;
            }
            ring.set(JAVA_INT, SQ_HEAD, sqHead);
            return got;
        }

        void post(long userData, int res) {
            long at = cqes + 16L * (cqTail & (2 * entries - 1));
            ring.set(JAVA_LONG, at, userData);
            ring.set(JAVA_INT, at + 8, res);
            ring.set(JAVA_INT, at + 12, 0);
            cqTail++;
            ring.set(JAVA_INT, CQ_TAIL, cqTail);
        }

        int cqRoom() {
            return 2 * entries - (cqTail - ring.get(JAVA_INT, CQ_HEAD));
        }
    }

    @Test
    void anSqeCarriesWhatWasPrepared() {
        FakeKernel k = new FakeKernel(8, 0);
        k.rings.prepare(IoUring.OP_WRITEV, IoUring.SQE_FIXED_FILE | IoUring.SQE_ASYNC, 0, 4096, 0x1000, 3, 7);
        assertEquals(List.of(), k.consume(8), "nothing before publish");
        k.rings.publish();
        List<long[]> got = k.consume(8);
        assertEquals(1, got.size());
        assertEquals(IoUring.OP_WRITEV, got.get(0)[0]);
        assertEquals(0, got.get(0)[1]);
        assertEquals(4096, got.get(0)[2]);
        assertEquals(7, got.get(0)[3]);
        assertEquals(IoUring.SQE_FIXED_FILE | IoUring.SQE_ASYNC, got.get(0)[4]);
    }

    @Test
    void aFullSqRefusesAnotherEntry() {
        FakeKernel k = new FakeKernel(4, -2);
        for (int i = 0; i < 4; i++) {
            k.rings.prepare(IoUring.OP_READV, 1, 0, 0, 0, 1, i);
        }
        assertEquals(0, k.rings.sqSpace());
        assertThrows(IllegalStateException.class, () -> k.rings.prepare(IoUring.OP_READV, 1, 0, 0, 0, 1, 9));
        k.rings.publish();
        k.consume(1);
        assertEquals(1, k.rings.sqSpace());
    }

    @Test
    void submittedCannotExceedWhatWasFilled() {
        FakeKernel k = new FakeKernel(4, 0);
        k.rings.prepare(IoUring.OP_READV, 1, 0, 0, 0, 1, 1);
        assertThrows(IllegalStateException.class, () -> k.rings.submitted(2));
        k.rings.submitted(1);
        assertEquals(0, k.rings.unsubmitted());
    }

    /**
     * Random interleavings of fill, publish, kernel consumption, out-of-order completion
     * and reaping, with indices starting anywhere (also just below the 32-bit wrap): every
     * user_data prepared comes back exactly once with its result, the SQ never holds more
     * than its size, and nothing is reaped that was not posted.
     */
    @Property(tries = 300)
    void everyPreparedEntryCompletesOnceAcrossTheWrap(@ForAll @IntRange(min = 0, max = 4) int log2,
            @ForAll int start, @ForAll @Size(max = 300) List<@IntRange(min = 0, max = 4) Integer> steps) {
        int entries = 1 << log2;
        FakeKernel k = new FakeKernel(entries, start);
        ArrayDeque<Long> inKernel = new ArrayDeque<>();
        List<Long> completedOrder = new ArrayList<>();
        java.util.Map<Long, Integer> results = new java.util.HashMap<>();
        long next = 0;
        int outstanding = 0;   // prepared and not reaped: what the device bounds by its slots
        for (int step : steps) {
            switch (step) {
                case 0 -> {
                    if (k.rings.sqSpace() > 0 && outstanding < entries) {
                        k.rings.prepare(IoUring.OP_READV, 1, 0, next * 512, 0, 1, next);
                        next++;
                        outstanding++;
                    }
                }
                case 1 -> {
                    k.rings.publish();
                    k.rings.submitted(k.rings.unsubmitted());
                }
                case 2 -> {
                    for (long[] sqe : k.consume(entries)) {
                        assertEquals(sqe[3] * 512, sqe[2], "offset travels with its user_data");
                        inKernel.add(sqe[3]);
                    }
                }
                case 3 -> {
                    // complete the newest first: order is the kernel's choice
                    if (!inKernel.isEmpty() && k.cqRoom() > 0) {
                        long u = inKernel.pollLast();
                        k.post(u, (int) (u % 1000));
                    }
                }
                default -> {
                    int n = k.rings.reap((u, res, flags) -> {
                        assertEquals((int) (u % 1000), res);
                        assertEquals(null, results.put(u, res), "user_data " + u + " completed twice");
                        completedOrder.add(u);
                    });
                    outstanding -= n;
                    assertEquals(0, k.rings.cqReady());
                }
            }
            assertEquals(true, k.rings.sqSpace() >= 0 && k.rings.sqSpace() <= entries);
        }
        // drain everything
        k.rings.publish();
        k.rings.submitted(k.rings.unsubmitted());
        for (long[] sqe : k.consume(entries)) {
            inKernel.add(sqe[3]);
        }
        while (!inKernel.isEmpty()) {
            long u = inKernel.poll();
            k.post(u, (int) (u % 1000));
        }
        k.rings.reap((u, res, flags) -> assertEquals(null, results.put(u, res)));
        assertEquals(next, results.size(), "every prepared entry came back once");
    }
}
