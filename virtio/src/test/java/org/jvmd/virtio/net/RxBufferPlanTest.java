package org.jvmd.virtio.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class RxBufferPlanTest {
    private final RxBufferPlan plan = new RxBufferPlan();

    @Test
    void withoutMergeableBuffersTheFrameTakesOneBufferAndNumBuffersIsOne() {
        plan.begin(12, 1514, false, 256);
        assertEquals(1526, plan.place(2048));
        assertTrue(plan.done());
        assertEquals(1, plan.numBuffers());
    }

    @Test
    void withoutMergeableBuffersABufferTooSmallRefusesTheFrame() {
        plan.begin(12, 1514, false, 256);
        assertEquals(-1, plan.place(1525));
        assertEquals(DropReason.RX_BUFFER_TOO_SMALL, plan.dropReason());
        assertFalse(plan.done());
    }

    @Test
    void mergeableBuffersAreFilledInOrderAndCounted() {
        plan.begin(12, 5000, true, 256);
        assertEquals(1500, plan.place(1500));
        assertEquals(1500, plan.place(1500));
        assertEquals(1500, plan.place(1500));
        assertFalse(plan.done());
        assertEquals(512, plan.place(1500));
        assertTrue(plan.done());
        assertEquals(4, plan.numBuffers());
        byte[] hdr = new byte[12];
        VirtioNetHdr.putNumBuffers(hdr, 0, plan.numBuffers());
        assertEquals(4, new VirtioNetHdr().read(hdr, 0, 12).numBuffers);
    }

    @Test
    void theFirstMergeableBufferMustHoldTheHeader() {
        plan.begin(12, 100, true, 256);
        assertEquals(-1, plan.place(11));
        assertEquals(DropReason.RX_BUFFER_TOO_SMALL, plan.dropReason());
    }

    @Test
    void anEmptyBufferIsRefused() {
        plan.begin(12, 100, true, 256);
        assertEquals(50, plan.place(50));
        assertEquals(-1, plan.place(0));
        assertEquals(DropReason.RX_BUFFER_TOO_SMALL, plan.dropReason());
    }

    @Test
    void mergingStopsAtTheQueueSize() {
        plan.begin(12, 5000, true, 3);
        assertEquals(1500, plan.place(1500));
        assertEquals(1500, plan.place(1500));
        assertEquals(-1, plan.place(1500));
        assertEquals(DropReason.RX_TOO_MANY_BUFFERS, plan.dropReason());
    }

    @Test
    void placingAfterTheFrameIsPlacedIsABug() {
        plan.begin(12, 10, true, 4);
        plan.place(100);
        assertThrows(IllegalStateException.class, () -> plan.place(100));
    }

    @Property(tries = 500)
    void placedBytesAddUpToHeaderAndFrameWithinTheQueueSize(@ForAll @IntRange(max = 70000) int frameLen,
                                                            @ForAll boolean mergeable,
                                                            @ForAll @IntRange(min = 1, max = 64) int maxBuffers,
                                                            @ForAll @Size(min = 1, max = 64) List<@IntRange(max = 70000) Integer> caps) {
        plan.begin(12, frameLen, mergeable, maxBuffers);
        long placed = 0;
        for (int cap : caps) {
            int n = plan.place(cap);
            if (n < 0) {
                assertTrue(plan.dropReason() != DropReason.NONE);
                return;
            }
            assertTrue(n <= cap && n > 0);
            placed += n;
            if (plan.done()) {
                break;
            }
        }
        if (plan.done()) {
            assertEquals(12L + frameLen, placed);
            assertTrue(plan.numBuffers() <= maxBuffers);
            if (!mergeable) {
                assertEquals(1, plan.numBuffers());
            }
        }
    }
}
