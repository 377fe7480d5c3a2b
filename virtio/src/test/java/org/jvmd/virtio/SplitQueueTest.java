package org.jvmd.virtio;

import static org.jvmd.virtio.GuestFault.Reason.ADDRESS_OUT_OF_RANGE;
import static org.jvmd.virtio.GuestFault.Reason.BAD_AVAIL_INDEX;
import static org.jvmd.virtio.GuestFault.Reason.BAD_DESCRIPTOR_INDEX;
import static org.jvmd.virtio.GuestFault.Reason.BAD_INDIRECT;
import static org.jvmd.virtio.GuestFault.Reason.BAD_QUEUE_LAYOUT;
import static org.jvmd.virtio.GuestFault.Reason.CHAIN_LOOP;
import static org.jvmd.virtio.GuestFault.Reason.CHAIN_TOO_LONG;
import static org.jvmd.virtio.GuestFault.Reason.NESTED_INDIRECT;
import static org.jvmd.virtio.GuestFault.Reason.WRITABLE_BEFORE_READABLE;
import static org.jvmd.virtio.Virtq.DESC_F_INDIRECT;
import static org.jvmd.virtio.Virtq.DESC_F_NEXT;
import static org.jvmd.virtio.Virtq.DESC_F_WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SplitQueueTest {
    static final int SIZE = 8;
    static final long INDIRECT = 1L << Virtq.F_INDIRECT_DESC;
    static final long EVENT_IDX = 1L << Virtq.F_EVENT_IDX;
    static final long BUF = 0x10000;
    static final long TABLE = 0x20000;

    final HeapGuestMemory mem = new HeapGuestMemory(1 << 20);
    final RingLayout layout = RingLayout.linux(SIZE, 0x1000, 64);
    final QueueCounters counters = new QueueCounters();
    final SplitQueue queue = new SplitQueue(mem, 256, counters);
    final DescriptorChain chain = queue.newChain();
    final RawDriver driver = new RawDriver(mem, layout);

    SplitQueueTest() throws GuestFault {
        queue.activate(layout, INDIRECT);
    }

    // ---- layout and life cycle ----

    @Test
    void activateRejectsQueueLargerThanOffered() {
        SplitQueue small = new SplitQueue(mem, 4, counters);
        GuestFault f = assertThrows(GuestFault.class, () -> small.activate(layout, 0));
        assertEquals(BAD_QUEUE_LAYOUT, f.reason());
        assertFalse(small.isReady());
    }

    @Test
    void activateRejectsMisalignedRingsAndLeavesQueueDisabled() throws GuestFault {
        GuestFault f = assertThrows(GuestFault.class,
                () -> queue.activate(new RingLayout(SIZE, 0x1008, 0x2000, 0x3000), 0));
        assertEquals(BAD_QUEUE_LAYOUT, f.reason());
        assertFalse(queue.isReady());
        driver.desc(0, BUF, 10, 0, 0).offer(0);
        assertFalse(queue.pop(chain));
    }

    @Test
    void popOnEmptyQueueReturnsFalse() throws GuestFault {
        assertFalse(queue.pop(chain));
        assertEquals(0, counters.total());
    }

    @Test
    void resetForgetsIndicesAndDisablesQueue() throws GuestFault {
        driver.desc(0, BUF, 10, 0, 0).offer(0);
        assertTrue(queue.pop(chain));
        queue.push(0, 0);
        queue.reset();
        assertFalse(queue.isReady());
        assertFalse(queue.pop(chain));
        // The driver re-initialises its rings after a reset; indices restart at 0.
        int avail = (int) RingLayout.availBytes(SIZE);
        int used = (int) RingLayout.usedBytes(SIZE);
        mem.write(layout.avail(), new byte[avail], 0, avail);
        mem.write(layout.used(), new byte[used], 0, used);
        queue.activate(layout, 0);
        assertEquals(0, queue.lastAvailIdx());
        assertEquals(0, queue.usedIdx());
        assertEquals(0, queue.outstanding());
        driver.availIdx = 0;
        driver.desc(3, BUF, 10, 0, 0).offer(3);
        assertTrue(queue.pop(chain));
        assertEquals(3, chain.head());
        queue.push(3, 0);
        queue.publish();
        assertEquals(1, driver.usedIdx());
    }

    // ---- chains ----

    @Test
    void popSplitsReadableAndWritableSegments() throws GuestFault {
        driver.desc(5, BUF, 12, DESC_F_NEXT, 2)
                .desc(2, BUF + 100, 1500, DESC_F_NEXT, 7)
                .desc(7, BUF + 2000, 64, DESC_F_WRITE | DESC_F_NEXT, 1)
                .desc(1, BUF + 3000, 4000, DESC_F_WRITE, 0)
                .offer(5);
        assertTrue(queue.pop(chain));
        assertEquals(5, chain.head());
        assertEquals(4, chain.segments());
        assertEquals(2, chain.readableSegments());
        assertEquals(2, chain.writableSegments());
        assertEquals(BUF + 100, chain.address(1));
        assertEquals(1500, chain.length(1));
        assertFalse(chain.isWritable(1));
        assertTrue(chain.isWritable(2));
        assertEquals(1512, chain.readableBytes());
        assertEquals(4064, chain.writableBytes());
        assertEquals(0, counters.total());
    }

    @Test
    void gatherAndScatterCrossSegmentBoundaries() throws GuestFault {
        mem.write(BUF, new byte[] {1, 2, 3}, 0, 3);
        mem.write(BUF + 100, new byte[] {4, 5}, 0, 2);
        driver.desc(0, BUF, 3, DESC_F_NEXT, 1)
                .desc(1, BUF + 100, 2, DESC_F_NEXT, 2)
                .desc(2, BUF + 200, 2, DESC_F_WRITE | DESC_F_NEXT, 3)
                .desc(3, BUF + 300, 8, DESC_F_WRITE, 0)
                .offer(0);
        assertTrue(queue.pop(chain));
        byte[] got = new byte[8];
        assertEquals(4, chain.gather(1, got, 0, 8));
        assertArrayEquals(new byte[] {2, 3, 4, 5, 0, 0, 0, 0}, got);
        assertEquals(3, chain.scatter(1, new byte[] {7, 8, 9}, 0, 3));
        assertEquals(7, mem.readByte(BUF + 201));
        assertEquals(8, mem.readByte(BUF + 300));
        assertEquals(9, mem.readByte(BUF + 301));
        assertEquals(0, mem.readByte(BUF + 200));
    }

    @Test
    void readableAfterWritableIsCompletedWithZeroLength() throws GuestFault {
        driver.desc(0, BUF, 10, DESC_F_WRITE | DESC_F_NEXT, 1)
                .desc(1, BUF + 100, 10, DESC_F_NEXT, 2)
                .desc(2, BUF + 200, 10, DESC_F_WRITE, 0)
                .offer(0);
        assertDropped(WRITABLE_BEFORE_READABLE, 0);
    }

    @Test
    void descriptorLoopEndsAsChainLoop() throws GuestFault {
        driver.desc(0, BUF, 10, DESC_F_NEXT, 1)
                .desc(1, BUF, 10, DESC_F_NEXT, 2)
                .desc(2, BUF, 10, DESC_F_NEXT, 1)
                .offer(0);
        assertDropped(CHAIN_LOOP, 0);
    }

    @Test
    void selfLoopEndsAsChainLoop() throws GuestFault {
        driver.desc(4, BUF, 10, DESC_F_NEXT, 4).offer(4);
        assertDropped(CHAIN_LOOP, 4);
    }

    @Test
    void chainUsingEveryDescriptorIsAccepted() throws GuestFault {
        for (int i = 0; i < SIZE; i++) {
            driver.desc(i, BUF + 16L * i, 16, i + 1 < SIZE ? DESC_F_NEXT : 0, i + 1);
        }
        driver.offer(0);
        assertTrue(queue.pop(chain));
        assertEquals(SIZE, chain.segments());
    }

    @Test
    void nextIndexOutsideTableIsBadDescriptorIndex() throws GuestFault {
        driver.desc(0, BUF, 10, DESC_F_NEXT, SIZE).offer(0);
        assertDropped(BAD_DESCRIPTOR_INDEX, 0);
    }

    @Test
    void headOutsideTableIsCountedAndSkippedWithoutUsedEntry() throws GuestFault {
        driver.desc(1, BUF, 10, 0, 0).offer(SIZE + 3, 1);
        assertTrue(queue.pop(chain));
        assertEquals(1, chain.head());
        assertEquals(1, counters.get(BAD_DESCRIPTOR_INDEX));
        queue.push(1, 0);
        queue.publish();
        assertEquals(1, driver.usedIdx());
        assertEquals(1, driver.usedId(0));
    }

    @Test
    void segmentOutsideGuestMemoryIsOutOfRange() throws GuestFault {
        driver.desc(0, mem.size() - 8, 9, 0, 0).offer(0);
        assertDropped(ADDRESS_OUT_OF_RANGE, 0);
    }

    @Test
    void segmentWhoseEndWrapsAroundIsOutOfRange() throws GuestFault {
        driver.desc(0, -16L, 0xffffffffL, 0, 0).offer(0);
        assertDropped(ADDRESS_OUT_OF_RANGE, 0);
        driver.desc(0, Long.MAX_VALUE - 4, 16, 0, 0).offer(0);
        assertDropped(ADDRESS_OUT_OF_RANGE, 0);
    }

    @Test
    void chainOfMoreThan4GiBIsTooLong() throws GuestFault {
        SparseGuestMemory huge = new SparseGuestMemory(1L << 40);
        SplitQueue q = new SplitQueue(huge, SIZE, counters);
        q.activate(layout, 0);
        RawDriver d = new RawDriver(huge, layout);
        // 0xffffffff + 1 bytes is exactly 2^32: allowed (virtio 1.2 §2.7.5.2).
        d.desc(0, 1L << 33, 0xffffffffL, DESC_F_NEXT, 1).desc(1, 1L << 35, 1, 0, 0).offer(0);
        assertTrue(q.pop(chain));
        assertEquals((1L << 32), chain.readableBytes());
        q.push(0, 0);
        // One byte more is not.
        d.desc(0, 1L << 33, 0xffffffffL, DESC_F_NEXT, 1).desc(1, 1L << 35, 2, DESC_F_WRITE, 0).offer(0);
        assertFalse(q.pop(chain));
        assertEquals(1, counters.get(CHAIN_TOO_LONG));
    }

    @Test
    void badChainDoesNotStallTheChainsBehindIt() throws GuestFault {
        driver.desc(0, BUF, 10, DESC_F_NEXT, 0)          // loop
                .desc(1, BUF, 10, DESC_F_WRITE, 0)       // good
                .offer(0, 1);
        assertTrue(queue.pop(chain));
        assertEquals(1, chain.head());
        queue.push(1, 7);
        queue.publish();
        assertEquals(2, driver.usedIdx());
        assertEquals(0, driver.usedId(0));
        assertEquals(0, driver.usedLen(0));
        assertEquals(1, driver.usedId(1));
        assertEquals(7, driver.usedLen(1));
    }

    // ---- indirect ----

    @Test
    void popFlattensAnIndirectTable() throws GuestFault {
        driver.indirectDesc(TABLE, 0, BUF, 12, DESC_F_NEXT, 2)
                .indirectDesc(TABLE, 2, BUF + 100, 100, DESC_F_NEXT | DESC_F_WRITE, 1)
                .indirectDesc(TABLE, 1, BUF + 300, 200, DESC_F_WRITE, 0)
                .desc(6, TABLE, 3 * 16, DESC_F_INDIRECT | DESC_F_WRITE, 0)   // WRITE is ignored here
                .offer(6);
        assertTrue(queue.pop(chain));
        assertEquals(6, chain.head());
        assertEquals(3, chain.segments());
        assertEquals(1, chain.readableSegments());
        assertEquals(BUF + 300, chain.address(2));
        assertEquals(300, chain.writableBytes());
    }

    @Test
    void directDescriptorsMayPrecedeTheIndirectOne() throws GuestFault {
        driver.indirectDesc(TABLE, 0, BUF + 100, 100, DESC_F_WRITE, 0)
                .desc(0, BUF, 12, DESC_F_NEXT, 3)
                .desc(3, TABLE, 16, DESC_F_INDIRECT, 0)
                .offer(0);
        assertTrue(queue.pop(chain));
        assertEquals(2, chain.segments());
        assertEquals(1, chain.readableSegments());
        assertEquals(BUF + 100, chain.address(1));
    }

    @Test
    void indirectWithoutTheFeatureIsBadIndirect() throws GuestFault {
        queue.activate(layout, 0);
        driver.indirectDesc(TABLE, 0, BUF, 12, 0, 0).desc(0, TABLE, 16, DESC_F_INDIRECT, 0).offer(0);
        assertDropped(BAD_INDIRECT, 0);
    }

    @Test
    void indirectTogetherWithNextIsBadIndirect() throws GuestFault {
        driver.indirectDesc(TABLE, 0, BUF, 12, 0, 0)
                .desc(0, TABLE, 16, DESC_F_INDIRECT | DESC_F_NEXT, 1)
                .desc(1, BUF, 12, 0, 0)
                .offer(0);
        assertDropped(BAD_INDIRECT, 0);
    }

    @Test
    void indirectTableLengthMustBeAWholeNumberOfDescriptors() throws GuestFault {
        driver.indirectDesc(TABLE, 0, BUF, 12, 0, 0).desc(0, TABLE, 24, DESC_F_INDIRECT, 0).offer(0);
        assertDropped(BAD_INDIRECT, 0);
        driver.desc(0, TABLE, 0, DESC_F_INDIRECT, 0).offer(0);
        assertDropped(BAD_INDIRECT, 0);
    }

    @Test
    void indirectTableLargerThanQueueSizeIsBadIndirect() throws GuestFault {
        driver.indirectDesc(TABLE, 0, BUF, 12, 0, 0).desc(0, TABLE, 16 * (SIZE + 1), DESC_F_INDIRECT, 0).offer(0);
        assertDropped(BAD_INDIRECT, 0);
    }

    @Test
    void indirectTableOutsideMemoryIsOutOfRange() throws GuestFault {
        driver.desc(0, mem.size() - 16, 32, DESC_F_INDIRECT, 0).offer(0);
        assertDropped(ADDRESS_OUT_OF_RANGE, 0);
    }

    @Test
    void indirectInsideIndirectIsNested() throws GuestFault {
        driver.indirectDesc(TABLE, 0, BUF, 12, DESC_F_NEXT, 1)
                .indirectDesc(TABLE, 1, TABLE + 0x100, 16, DESC_F_INDIRECT, 0)
                .indirectDesc(TABLE + 0x100, 0, BUF, 12, 0, 0)
                .desc(0, TABLE, 32, DESC_F_INDIRECT, 0)
                .offer(0);
        assertDropped(NESTED_INDIRECT, 0);
    }

    @Test
    void loopInsideIndirectTableEndsAsChainLoop() throws GuestFault {
        driver.indirectDesc(TABLE, 0, BUF, 12, DESC_F_NEXT, 1)
                .indirectDesc(TABLE, 1, BUF, 12, DESC_F_NEXT, 0)
                .desc(0, TABLE, 32, DESC_F_INDIRECT, 0)
                .offer(0);
        assertDropped(CHAIN_LOOP, 0);
    }

    @Test
    void indirectNextOutsideItsTableIsBadDescriptorIndex() throws GuestFault {
        driver.indirectDesc(TABLE, 0, BUF, 12, DESC_F_NEXT, 2)
                .indirectDesc(TABLE, 2, BUF, 12, 0, 0)   // exists in memory, not in the 2-entry table
                .desc(0, TABLE, 32, DESC_F_INDIRECT, 0)
                .offer(0);
        assertDropped(BAD_DESCRIPTOR_INDEX, 0);
    }

    @Test
    void directPlusIndirectLongerThanQueueSizeIsTooLong() throws GuestFault {
        for (int i = 0; i < SIZE; i++) {
            driver.indirectDesc(TABLE, i, BUF, 1, i + 1 < SIZE ? DESC_F_NEXT : 0, i + 1);
        }
        driver.desc(0, BUF, 1, DESC_F_NEXT, 1).desc(1, TABLE, 16 * SIZE, DESC_F_INDIRECT, 0).offer(0);
        assertDropped(CHAIN_TOO_LONG, 0);
    }

    @Test
    void aGuestAddingBadChainsForeverCannotHoldThePopCall() throws GuestFault {
        CheckedMemory racing = new CheckedMemory(mem);
        SplitQueue q = new SplitQueue(racing, SIZE, counters);
        q.activate(layout, 0);
        driver.desc(0, BUF, 10, DESC_F_NEXT, 0);     // a self loop
        driver.offer(0);
        racing.beforeAcquire = gpa -> driver.offer(0);   // every look at avail.idx finds one more
        assertFalse(q.pop(chain));
        assertEquals(SIZE, counters.get(CHAIN_LOOP));
        racing.beforeAcquire = gpa -> { };
        driver.desc(1, BUF, 10, 0, 0).offer(1);
        assertTrue(q.enableNotifications(), "the rest is still reported");
    }

    // ---- available index ----

    @Test
    void availIndexMoreThanQueueSizeAheadIsFaultedAndNothingIsConsumed() throws GuestFault {
        driver.setAvailIdx(SIZE + 1);
        GuestFault f = assertThrows(GuestFault.class, () -> queue.pop(chain));
        assertEquals(BAD_AVAIL_INDEX, f.reason());
        assertEquals(1, counters.get(BAD_AVAIL_INDEX));
        assertEquals(0, queue.lastAvailIdx());
        // A driver that puts the index right again is served.
        driver.desc(2, BUF, 10, 0, 0);
        driver.setAvailIdx(0);
        driver.offer(2);
        assertTrue(queue.pop(chain));
        assertEquals(2, chain.head());
    }

    @Test
    void availIndexWrapsAt65536() throws GuestFault {
        driver.desc(0, BUF, 10, 0, 0);
        for (int round = 0; round < 70000; round++) {
            driver.offer(0);
            assertTrue(queue.pop(chain));
            queue.push(0, 0);
            queue.publish();
        }
        assertEquals(70000 & 0xffff, queue.lastAvailIdx());
        assertEquals(70000 & 0xffff, driver.usedIdx());
        assertEquals(0, counters.total());
    }

    @Test
    void aFullRingIsNotBogus() throws GuestFault {
        driver.desc(0, BUF, 10, 0, 0);
        int[] heads = new int[SIZE];
        driver.offer(heads);
        for (int i = 0; i < SIZE; i++) {
            assertTrue(queue.pop(chain));
        }
        assertFalse(queue.pop(chain));
    }

    // ---- used ring ----

    @Test
    void usedEntriesBecomeVisibleOnlyOnPublish() throws GuestFault {
        driver.desc(0, BUF, 10, DESC_F_WRITE, 0).desc(1, BUF, 10, DESC_F_WRITE, 0).offer(0, 1);
        assertTrue(queue.pop(chain));
        queue.push(chain.head(), 3);
        assertTrue(queue.pop(chain));
        queue.push(chain.head(), 4);
        assertEquals(0, driver.usedIdx());
        queue.publish();
        assertEquals(2, driver.usedIdx());
        assertEquals(3, driver.usedLen(0));
        assertEquals(4, driver.usedLen(1));
    }

    @Test
    void pushWithoutAPoppedChainIsADeviceBug() {
        assertThrows(IllegalStateException.class, () -> queue.push(0, 0));
    }

    @Test
    void dropCompletesWithZeroLengthAndCounts() throws GuestFault {
        driver.desc(0, BUF, 10, DESC_F_WRITE, 0).offer(0);
        assertTrue(queue.pop(chain));
        queue.drop(chain, GuestFault.Reason.BAD_HEADER);
        queue.publish();
        assertEquals(1, counters.get(GuestFault.Reason.BAD_HEADER));
        assertEquals(1, driver.usedIdx());
        assertEquals(0, driver.usedLen(0));
        assertEquals(0, queue.outstanding());
    }

    // ---- notification suppression ----

    @Test
    void interruptIsNeededUnlessDriverSetNoInterrupt() throws GuestFault {
        completeOne(0);
        assertTrue(queue.needsInterrupt());
        driver.setAvailFlags(Virtq.AVAIL_F_NO_INTERRUPT);
        completeOne(0);
        assertFalse(queue.needsInterrupt());
    }

    @Test
    void noInterruptWhenNothingWasPublishedSinceTheLastCheck() throws GuestFault {
        completeOne(0);
        assertTrue(queue.needsInterrupt());
        assertFalse(queue.needsInterrupt());
    }

    @Test
    void eventIdxInterruptsExactlyWhenUsedEventIsPassed() throws GuestFault {
        queue.activate(layout, EVENT_IDX);
        driver.setAvailFlags(Virtq.AVAIL_F_NO_INTERRUPT);   // must be ignored with EVENT_IDX
        driver.setUsedEvent(2);
        completeOne(0);                                     // used 0 -> 1
        assertFalse(queue.needsInterrupt());
        completeOne(0);                                     // 1 -> 2
        assertFalse(queue.needsInterrupt());
        completeOne(0);                                     // 2 -> 3 writes the entry at index 2
        assertTrue(queue.needsInterrupt());
        completeOne(0);                                     // 3 -> 4, event 2 already passed
        assertFalse(queue.needsInterrupt());
    }

    @Test
    void eventIdxCountsABatchThatJumpsOverUsedEvent() throws GuestFault {
        queue.activate(layout, EVENT_IDX);
        driver.setUsedEvent(1);
        driver.desc(0, BUF, 10, 0, 0).offer(0, 0, 0);
        for (int i = 0; i < 3; i++) {
            assertTrue(queue.pop(chain));
            queue.push(0, 0);
        }
        queue.publish();                                    // 0 -> 3 in one go
        assertTrue(queue.needsInterrupt());
    }

    @Test
    void disableNotificationsSetsNoNotifyAndEnableClearsIt() throws GuestFault {
        queue.disableNotifications();
        assertEquals(Virtq.USED_F_NO_NOTIFY, driver.usedFlags());
        assertFalse(queue.enableNotifications());
        assertEquals(0, driver.usedFlags());
    }

    @Test
    void enableNotificationsReportsBuffersAddedWhileDisabled() throws GuestFault {
        queue.disableNotifications();
        driver.desc(0, BUF, 10, 0, 0).offer(0);
        assertTrue(queue.enableNotifications());
        assertTrue(queue.pop(chain));
        assertFalse(queue.enableNotifications());
    }

    @Test
    void eventIdxPublishesAvailEventAsTheDeviceConsumes() throws GuestFault {
        queue.activate(layout, EVENT_IDX);
        driver.desc(0, BUF, 10, 0, 0).offer(0, 0);
        assertTrue(queue.pop(chain));
        assertEquals(1, driver.availEvent());
        assertTrue(queue.pop(chain));
        assertEquals(2, driver.availEvent());
        assertEquals(0, driver.usedFlags());
    }

    @Test
    void eventIdxDisableLeavesAvailEventBehindAndEnableCatchesUp() throws GuestFault {
        queue.activate(layout, EVENT_IDX);
        queue.disableNotifications();
        assertEquals(0, driver.usedFlags());                // flags stay 0 with EVENT_IDX (§2.7.10)
        driver.desc(0, BUF, 10, 0, 0).offer(0, 0);
        assertTrue(queue.pop(chain));
        assertTrue(queue.pop(chain));
        assertEquals(0, driver.availEvent());
        assertFalse(queue.enableNotifications());
        assertEquals(2, driver.availEvent());
    }

    @Test
    void quietWithEventIdxPutsAvailEventBehindSoThatNoAddPassesIt() throws GuestFault {
        queue.activate(layout, EVENT_IDX);
        driver.desc(0, BUF, 10, 0, 0).offer(0, 0);
        assertTrue(queue.pop(chain));
        assertTrue(queue.pop(chain));
        assertFalse(queue.enableNotifications());
        assertEquals(2, driver.availEvent());
        queue.quiet();
        assertEquals(1, driver.availEvent());
        assertEquals(0, driver.usedFlags());
        assertFalse(queue.hasAvailable());
        driver.offer(0, 0, 0);   // avail.idx 2 -> 5: no index from 3 to 5 passes 1
        for (int old = 2; old < 5; old++) {
            assertFalse(Virtq.needEvent(driver.availEvent(), old + 1, old), "a kick for index " + (old + 1));
        }
        assertTrue(queue.hasAvailable(), "the ring is read without a kick");
        assertTrue(queue.enableNotifications(), "and reported when kicks come back on");
        assertEquals(2, driver.availEvent());
    }

    @Test
    void quietWithoutEventIdxSetsNoNotify() throws GuestFault {
        queue.quiet();
        assertEquals(Virtq.USED_F_NO_NOTIFY, driver.usedFlags());
        driver.desc(0, BUF, 10, 0, 0).offer(0);
        assertTrue(queue.hasAvailable());
        assertTrue(queue.hasAvailable(), "looking takes nothing");
        assertTrue(queue.pop(chain));
        assertFalse(queue.hasAvailable());
        assertFalse(queue.enableNotifications());
        assertEquals(0, driver.usedFlags());
    }

    @Test
    void hasAvailableFaultsAnIndexTooFarAhead() throws GuestFault {
        queue.quiet();
        driver.setAvailIdx(SIZE + 1);
        GuestFault f = assertThrows(GuestFault.class, queue::hasAvailable);
        assertEquals(BAD_AVAIL_INDEX, f.reason());
        assertEquals(0, queue.lastAvailIdx());
    }

    @Test
    void aQueueNotReadyIsNeverAvailableAndQuietWritesNothing() throws GuestFault {
        SplitQueue idle = new SplitQueue(mem, SIZE, counters);
        idle.quiet();
        assertFalse(idle.hasAvailable());
        assertEquals(0, driver.usedFlags());
    }

    private void completeOne(int head) throws GuestFault {
        driver.desc(head, BUF, 10, 0, 0).offer(head);
        assertTrue(queue.pop(chain));
        queue.push(head, 0);
        queue.publish();
    }

    /** The chain at {@code head} was completed with length 0 and counted once as {@code reason}. */
    private void assertDropped(GuestFault.Reason reason, int head) throws GuestFault {
        long before = counters.get(reason);
        long total = counters.total();
        int used = queue.usedIdx();
        assertFalse(queue.pop(chain), "a bad chain must not reach the device");
        assertEquals(before + 1, counters.get(reason), counters.toString());
        assertEquals(total + 1, counters.total(), counters.toString());
        queue.publish();
        assertEquals((used + 1) & 0xffff, driver.usedIdx());
        assertEquals(head, driver.usedId(used));
        assertEquals(0, driver.usedLen(used));
    }
}
