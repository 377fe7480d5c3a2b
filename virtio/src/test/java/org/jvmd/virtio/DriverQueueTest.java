package org.jvmd.virtio;

import static org.jvmd.virtio.Virtq.DESC_F_INDIRECT;
import static org.jvmd.virtio.Virtq.DESC_F_NEXT;
import static org.jvmd.virtio.Virtq.DESC_F_WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DriverQueueTest {
    static final int SIZE = 8;
    static final long INDIRECT = 1L << Virtq.F_INDIRECT_DESC;
    static final long EVENT_IDX = 1L << Virtq.F_EVENT_IDX;

    final HeapGuestMemory mem = new HeapGuestMemory(1 << 20);
    final GuestAllocator alloc = new GuestAllocator(mem, 0x1000, mem.size());
    final QueueCounters counters = new QueueCounters();

    DriverQueue driver(long features) throws GuestFault {
        DriverQueue d = DriverQueue.create(mem, alloc, SIZE, features, 4);
        return d;
    }

    SplitQueue device(DriverQueue d, long features) throws GuestFault {
        SplitQueue q = new SplitQueue(mem, SIZE, counters);
        q.activate(d.layout(), features);
        return q;
    }

    long[] desc(long table, int i) throws GuestFault {
        long d = table + 16L * i;
        long rest = mem.readLong(d + 8);
        return new long[] {mem.readLong(d), rest & 0xffffffffL, (rest >>> 32) & 0xffff, (rest >>> 48) & 0xffff};
    }

    @Test
    void createZeroesTheRingsAndAlignsTheUsedRingToTheCacheLine() throws GuestFault {
        byte[] junk = new byte[0x10000];
        java.util.Arrays.fill(junk, (byte) 0x5a);
        mem.write(0x1000, junk, 0, junk.length);
        DriverQueue d = driver(0);
        RingLayout l = d.layout();
        assertEquals(0, l.desc() % 4096);
        assertEquals(l.desc() + 16 * SIZE, l.avail());
        assertEquals(0, l.used() % 64);
        assertEquals(0, mem.readLong(l.descAddr(SIZE - 1)));
        assertEquals(0, mem.readShort(l.availIdx()));
        assertEquals(0, mem.readShort(l.usedFlags()));
        assertEquals(0, mem.readShort(l.availEvent()));
        assertEquals(SIZE, d.numFree());
    }

    @Test
    void addChainsDescriptorsFromTheFreeListReadableFirst() throws GuestFault {
        DriverQueue d = driver(0);
        int head = d.readable(0x40000, 12).readable(0x40100, 100).writable(0x50000, 1500).add();
        RingLayout l = d.layout();
        assertEquals(0, head);
        assertArrayEquals(new long[] {0x40000, 12, DESC_F_NEXT, 1}, desc(l.desc(), 0));
        assertArrayEquals(new long[] {0x40100, 100, DESC_F_NEXT, 2}, desc(l.desc(), 1));
        assertEquals(0x50000, desc(l.desc(), 2)[0]);
        assertEquals(DESC_F_WRITE, desc(l.desc(), 2)[2]);   // last: no NEXT
        assertEquals(0, mem.readShort(l.availRing(0)));
        assertEquals(1, mem.readShortAcquire(l.availIdx()));
        assertEquals(SIZE - 3, d.numFree());
    }

    @Test
    void reapReturnsTheHeadAndLengthAndFreesTheDescriptors() throws GuestFault {
        DriverQueue d = driver(0);
        SplitQueue q = device(d, 0);
        d.readable(0x40000, 4).writable(0x50000, 8).add();
        int second = d.readable(0x40000, 4).add();
        assertEquals(2, second);
        assertEquals(DriverQueue.NONE, d.reap());
        DescriptorChain c = q.newChain();
        assertTrue(q.pop(c));
        q.push(c.head(), 8);
        q.publish();
        assertEquals(0, d.reap());
        assertEquals(8, d.usedLen());
        assertEquals(SIZE - 1, d.numFree());
        // A freed chain goes to the front of the free list, as in Linux.
        assertEquals(0, d.readable(0x40000, 4).add());
    }

    @Test
    void addReportsNoSpaceWhenDescriptorsRunOut() throws GuestFault {
        DriverQueue d = driver(0);
        for (int i = 0; i < SIZE / 2; i++) {
            d.readable(0x40000, 4).writable(0x50000, 4).add();
        }
        assertEquals(0, d.numFree());
        assertEquals(DriverQueue.NONE, d.readable(0x40000, 4).add());
        assertEquals(SIZE / 2, d.inFlight());
    }

    @Test
    void multiBufferChainGoesIndirectWhenNegotiated() throws GuestFault {
        DriverQueue d = driver(INDIRECT);
        int head = d.readable(0x40000, 12).writable(0x50000, 100).writable(0x50100, 200).add();
        RingLayout l = d.layout();
        long[] ind = desc(l.desc(), head);
        assertEquals(3 * 16, ind[1]);
        assertEquals(DESC_F_INDIRECT, ind[2]);
        assertEquals(SIZE - 1, d.numFree());
        assertArrayEquals(new long[] {0x40000, 12, DESC_F_NEXT, 1}, desc(ind[0], 0));
        assertArrayEquals(new long[] {0x50100, 200, DESC_F_WRITE, 3}, desc(ind[0], 2));
        SplitQueue q = device(d, INDIRECT);
        DescriptorChain c = q.newChain();
        assertTrue(q.pop(c));
        assertEquals(3, c.segments());
        assertEquals(300, c.writableBytes());
    }

    @Test
    void singleBufferOrOversizedChainStaysDirect() throws GuestFault {
        DriverQueue d = driver(INDIRECT);
        d.readable(0x40000, 12).add();
        assertEquals(SIZE - 1, d.numFree());
        assertEquals(0, desc(d.layout().desc(), 0)[2]);
        for (int i = 0; i < 5; i++) {
            d.writable(0x50000 + 0x100 * i, 10);   // more than the 4-entry tables hold
        }
        d.add();
        assertEquals(SIZE - 6, d.numFree());
    }

    @Test
    void readableAfterWritableIsADriverBug() throws GuestFault {
        DriverQueue d = driver(0);
        d.writable(0x50000, 4);
        assertThrows(IllegalStateException.class, () -> d.readable(0x40000, 4));
    }

    @Test
    void kickIsSuppressedWhileDeviceSetsNoNotify() throws GuestFault {
        DriverQueue d = driver(0);
        SplitQueue q = device(d, 0);
        d.readable(0x40000, 4).add();
        assertTrue(d.kick());
        assertFalse(d.kick(), "nothing added since the last kick");
        q.disableNotifications();
        d.readable(0x40000, 4).add();
        assertFalse(d.kick());
        assertTrue(q.enableNotifications());
        d.readable(0x40000, 4).add();
        assertTrue(d.kick());
    }

    @Test
    void kickWithEventIdxOnlyWhenAvailEventIsPassed() throws GuestFault {
        DriverQueue d = driver(EVENT_IDX);
        SplitQueue q = device(d, EVENT_IDX);
        d.readable(0x40000, 4).add();
        assertTrue(d.kick());               // avail_event 0: the first entry notifies
        d.readable(0x40000, 4).add();
        assertFalse(d.kick());              // the device has not asked again
        DescriptorChain c = q.newChain();
        assertTrue(q.pop(c));
        assertTrue(q.pop(c));               // avail_event now 2
        d.readable(0x40000, 4).add();
        d.readable(0x40000, 4).add();
        assertTrue(d.kick());               // entries 2 and 3 added, 2 was asked for
    }

    @Test
    void reapWithEventIdxAsksForTheNextInterrupt() throws GuestFault {
        DriverQueue d = driver(EVENT_IDX);
        SplitQueue q = device(d, EVENT_IDX);
        EchoDevice dev = new EchoDevice(q);
        d.readable(0x40000, 4).add();
        d.readable(0x40000, 4).add();
        dev.serve(1);
        assertTrue(q.needsInterrupt());
        assertEquals(0, d.reap());
        assertEquals(1, mem.readShort(d.layout().usedEvent()));
        dev.serve(1);
        assertTrue(q.needsInterrupt());
    }

    @Test
    void disabledInterruptsAreNotRequested() throws GuestFault {
        DriverQueue d = driver(0);
        SplitQueue q = device(d, 0);
        EchoDevice dev = new EchoDevice(q);
        d.disableInterrupts();
        d.readable(0x40000, 4).add();
        dev.serve(8);
        assertFalse(q.needsInterrupt());
        assertTrue(d.enableInterrupts(), "a used element is already pending");
        assertEquals(0, d.reap());
        assertFalse(d.enableInterrupts());
        d.readable(0x40000, 4).add();
        dev.serve(8);
        assertTrue(q.needsInterrupt());
    }

    @Test
    void disabledInterruptsWithEventIdxAreNotRequested() throws GuestFault {
        DriverQueue d = driver(EVENT_IDX);
        SplitQueue q = device(d, EVENT_IDX);
        EchoDevice dev = new EchoDevice(q);
        d.readable(0x40000, 4).add();
        dev.serve(8);
        assertTrue(q.needsInterrupt());     // used_event 0 was passed
        d.disableInterrupts();
        assertEquals(0, d.reap());
        assertEquals(0, mem.readShort(d.layout().usedEvent()));   // reap leaves it while disabled
        d.readable(0x40000, 4).add();
        dev.serve(8);
        assertFalse(q.needsInterrupt());
        assertTrue(d.enableInterrupts());
        assertEquals(1, mem.readShort(d.layout().usedEvent()));
    }

    @Test
    void echoRoundTripDeliversTheBytes() throws GuestFault {
        DriverQueue d = driver(INDIRECT);
        SplitQueue q = device(d, INDIRECT);
        EchoDevice dev = new EchoDevice(q);
        mem.write(0x40000, "hello, ".getBytes(), 0, 7);
        mem.write(0x40100, "world".getBytes(), 0, 5);
        int head = d.readable(0x40000, 7).readable(0x40100, 5).writable(0x50000, 4).writable(0x50100, 100).add();
        assertEquals(1, dev.serve(8));
        assertEquals(head, d.reap());
        assertEquals(12, d.usedLen());
        byte[] a = new byte[4];
        byte[] b = new byte[8];
        mem.read(0x50000, a, 0, 4);
        mem.read(0x50100, b, 0, 8);
        assertEquals("hell", new String(a));
        assertEquals("o, world", new String(b));
    }

    @Test
    void reapRefusesAnIdThatIsNotInFlight() throws GuestFault {
        DriverQueue d = driver(0);
        RingLayout l = d.layout();
        mem.writeLong(l.usedElem(0), 5);
        mem.writeShortRelease(l.usedIdx(), (short) 1);
        assertThrows(IllegalStateException.class, d::reap);
    }

    @Test
    void reapRefusesALengthAboveTheWritableBytes() throws GuestFault {
        DriverQueue d = driver(0);
        RingLayout l = d.layout();
        d.readable(0x40000, 4).writable(0x50000, 10).add();
        mem.writeLong(l.usedElem(0), 11L << 32);
        mem.writeShortRelease(l.usedIdx(), (short) 1);
        assertThrows(IllegalStateException.class, d::reap);
    }
    @Test
    void tamperRewritesADirectChainBeforeItIsPublished() throws GuestFault {
        DriverQueue d = driver(0);
        RingLayout l = d.layout();
        int[] seen = new int[3];
        int head = d.readable(0x40000, 4).readable(0x40100, 4).add(false, (table, idx) -> {
            assertEquals(l.desc(), table);
            assertEquals(0, mem.readShort(l.availIdx()), "not yet published");
            seen[0] = idx.length;
            seen[1] = idx[0];
            seen[2] = idx[1];
            DriverQueue.writeDescriptor(mem, table, idx[1], 0x40100, 4, DESC_F_NEXT, idx[0]);   // a loop
        });
        assertArrayEquals(new int[] {2, head, 1}, seen);
        assertEquals(1, mem.readShortAcquire(l.availIdx()));
        SplitQueue q = device(d, 0);
        assertFalse(q.pop(q.newChain()), "the looped chain is dropped");
        assertEquals(1, counters.get(GuestFault.Reason.CHAIN_LOOP));
    }

    @Test
    void tamperSeesTheIndirectTableAndFreeingIsUnchanged() throws GuestFault {
        DriverQueue d = driver(INDIRECT);
        RingLayout l = d.layout();
        long[] table = new long[1];
        int head = d.readable(0x40000, 4).readable(0x40100, 4).add(true, (t, idx) -> {
            table[0] = t;
            assertArrayEquals(new int[] {0, 1}, idx);
        });
        assertEquals(desc(l.desc(), head)[0], table[0]);
        assertEquals(SIZE - 1, d.numFree());
        SplitQueue q = device(d, INDIRECT);
        DescriptorChain c = q.newChain();
        assertTrue(q.pop(c));
        q.push(c.head(), 0);
        q.publish();
        assertEquals(head, d.reap());
        assertEquals(SIZE, d.numFree());
    }
}
