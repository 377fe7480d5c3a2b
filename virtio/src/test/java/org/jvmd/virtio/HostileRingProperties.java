package org.jvmd.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.Tuple;

/**
 * Arbitrary descriptor tables, indirect tables and available rings, written into guest
 * memory as a hostile driver would: the device must stay inside guest memory, write only
 * its used ring, do bounded work, throw nothing but GuestFault, complete every bad chain
 * with length 0 and agree with a reference walker written straight from the spec.
 */
class HostileRingProperties {
    static final int MEM = 64 * 1024;
    static final long RINGS = 0x1000;
    static final long TABLE_A = 0x8000;
    static final long TABLE_B = 0x9000;
    static final int MAX_SIZE = 64;

    record Desc(long addr, long len, int flags, int next) {}

    record Ring(int size, boolean indirect, boolean eventIdx, List<Desc> main, List<Desc> tableA,
                List<Desc> tableB, List<Integer> heads, Integer availIdx, boolean linear) {
        long features() {
            return (indirect ? 1L << Virtq.F_INDIRECT_DESC : 0) | (eventIdx ? 1L << Virtq.F_EVENT_IDX : 0);
        }
    }

    @Provide
    Arbitrary<Ring> rings() {
        Arbitrary<Integer> sizes = Arbitraries.frequency(
                Tuple.of(1, 1), Tuple.of(1, 2), Tuple.of(2, 4), Tuple.of(3, 8), Tuple.of(3, 16),
                Tuple.of(2, 32), Tuple.of(2, 64));
        return sizes.flatMap(size -> {
            Arbitrary<Desc> desc = descs(size);
            Arbitrary<Integer> head = Arbitraries.frequencyOf(
                    Tuple.of(12, Arbitraries.integers().between(0, size - 1)),
                    Tuple.of(1, Arbitraries.integers().between(0, 0xffff)));
            return Combinators.combine(
                    Arbitraries.of(true, false),
                    Arbitraries.of(true, false),
                    desc.list().ofSize(size),
                    desc.list().ofMaxSize(2 * size + 2),
                    desc.list().ofMaxSize(2 * size + 2),
                    head.list().ofMinSize(1).ofMaxSize(size),
                    Arbitraries.integers().between(0, 0xffff).injectNull(0.85),
                    Arbitraries.of(true, false)
            ).as((ind, ev, main, a, b, heads, idx, linear) -> new Ring(size, ind, ev, main, a, b, heads, idx, linear));
        });
    }

    /** Mostly plausible descriptors (so chains get long), some indirect references, some chaos. */
    private Arbitrary<Desc> descs(int size) {
        Arbitrary<Integer> index = Arbitraries.integers().between(0, size - 1);
        Arbitrary<Desc> plausible = Combinators.combine(
                Arbitraries.longs().between(0x2000, 0x7000),
                Arbitraries.longs().between(0, 512),
                Arbitraries.of(0, Virtq.DESC_F_NEXT, Virtq.DESC_F_WRITE, Virtq.DESC_F_NEXT | Virtq.DESC_F_WRITE),
                index).as(Desc::new);
        Arbitrary<Desc> indirectRef = Combinators.combine(
                Arbitraries.of(TABLE_A, TABLE_B),
                Arbitraries.integers().between(0, size + 1).map(n -> 16L * n),
                Arbitraries.frequencyOf(
                        Tuple.of(6, Arbitraries.just(Virtq.DESC_F_INDIRECT)),
                        Tuple.of(1, Arbitraries.just(Virtq.DESC_F_INDIRECT | Virtq.DESC_F_WRITE)),
                        Tuple.of(1, Arbitraries.just(Virtq.DESC_F_INDIRECT | Virtq.DESC_F_NEXT))),
                index).as(Desc::new);
        Arbitrary<Desc> chaos = Combinators.combine(
                Arbitraries.frequencyOf(
                        Tuple.of(3, Arbitraries.longs().between(0, MEM - 1)),
                        Tuple.of(1, Arbitraries.longs().between(MEM - 64, MEM + 64)),
                        Tuple.of(1, Arbitraries.longs())),
                Arbitraries.frequencyOf(
                        Tuple.of(3, Arbitraries.longs().between(0, 512)),
                        Tuple.of(1, Arbitraries.longs().between(0, 0xffffffffL))),
                Arbitraries.integers().between(0, 0xffff),
                Arbitraries.integers().between(0, 0xffff)).as(Desc::new);
        return Arbitraries.frequencyOf(Tuple.of(30, plausible), Tuple.of(4, indirectRef), Tuple.of(2, chaos));
    }

    /**
     * Writes the ring into guest memory. A "linear" ring links every table entry to the next
     * one (wrapping), mostly with NEXT, the first half readable and the second writable: long chains,
     * wrap-around loops and chains longer than the queue become likely.
     */
    private static RingLayout write(HeapGuestMemory mem, Ring r) throws GuestFault {
        RingLayout layout = RingLayout.linux(r.size(), RINGS, 64);
        RawDriver d = new RawDriver(mem, layout);
        writeTable(mem, layout.desc(), r.main(), r.linear());
        writeTable(mem, TABLE_A, r.tableA(), r.linear());
        writeTable(mem, TABLE_B, r.tableB(), r.linear());
        d.offer(r.heads().stream().mapToInt(Integer::intValue).toArray());
        if (r.availIdx() != null) {
            d.setAvailIdx(r.availIdx());
        }
        return layout;
    }

    private static void writeTable(GuestMemory mem, long table, List<Desc> descs, boolean linear) throws GuestFault {
        int n = descs.size();
        for (int i = 0; i < n; i++) {
            Desc x = descs.get(i);
            int flags = x.flags();
            int next = x.next();
            if (linear) {
                // Continue the chain unless the (random) length says stop: about 1 in 8 ends.
                if ((flags & Virtq.DESC_F_INDIRECT) == 0) {
                    flags = x.len() % 8 == 0 ? flags & ~Virtq.DESC_F_NEXT : flags | Virtq.DESC_F_NEXT;
                }
                flags = i < n / 2 ? flags & ~Virtq.DESC_F_WRITE : flags | Virtq.DESC_F_WRITE;
                next = (i + 1) % n;
            }
            DriverQueue.writeDescriptor(mem, table, i, x.addr(), (int) x.len(), flags, next);
        }
    }

    @Property(tries = 400, edgeCases = EdgeCasesMode.NONE)   // edge cases would be mostly size-1 rings
    void hostileRingsNeverTakeTheDeviceOutsideGuestMemoryOrIntoALoop(@ForAll("rings") Ring r) throws GuestFault {
        HeapGuestMemory raw = new HeapGuestMemory(MEM);
        RingLayout layout = write(raw, r);
        CheckedMemory mem = new CheckedMemory(raw).allowWrites(layout.used(), RingLayout.usedBytes(r.size()));
        QueueCounters counters = new QueueCounters();
        SplitQueue queue = new SplitQueue(mem, MAX_SIZE, counters);
        queue.activate(layout, r.features());
        DescriptorChain chain = queue.newChain();

        int pending = ((raw.readShort(layout.availIdx()) & 0xffff));
        boolean bogus = pending > r.size();
        int popped = 0;
        int longest = 0;
        boolean faulted = false;
        for (int calls = 0; calls <= r.size() + 1; calls++) {
            try {
                if (!queue.pop(chain)) {
                    break;
                }
            } catch (GuestFault f) {
                assertEquals(GuestFault.Reason.BAD_AVAIL_INDEX, f.reason());
                faulted = true;
                break;
            }
            assertWellFormed(chain, r.size(), raw);
            longest = Math.max(longest, chain.segments());
            queue.push(chain.head(), (int) Math.min(chain.writableBytes(), 7));
            popped++;
        }
        queue.publish();
        queue.needsInterrupt();
        try {
            queue.enableNotifications();
        } catch (GuestFault f) {
            assertEquals(GuestFault.Reason.BAD_AVAIL_INDEX, f.reason());   // re-reads the bogus index
        }

        assertEquals(List.of(), mem.violations);
        assertEquals(bogus, faulted);
        for (GuestFault.Reason reason : GuestFault.Reason.values()) {
            if (counters.get(reason) > 0) {
                Statistics.label("faults").collect(reason);
            }
        }
        Statistics.label("accepted chains").collect(popped == 0 ? "none" : popped < 3 ? "1-2" : "3+");
        Statistics.label("longest accepted").collect(longest < 2 ? "0-1" : longest < 5 ? "2-4" : "5+");
        if (!bogus) {
            assertEquals(pending, queue.lastAvailIdx(), "every available entry is consumed");
            long chainFaults = counters.total();
            assertEquals(pending - popped, chainFaults, counters.toString());
            int used = raw.readShortAcquire(layout.usedIdx()) & 0xffff;
            long badHeads = counters.get(GuestFault.Reason.BAD_DESCRIPTOR_INDEX);
            assertTrue(used >= pending - badHeads && used <= pending, "one used entry per named chain");
        }
        // Bounded work: per available entry at most the queue size of main and indirect
        // descriptors, two reads each, plus ring bookkeeping.
        long bound = 64 + (long) (r.size() + 1) * (4L * r.size() + 16);
        assertTrue(mem.accesses <= bound, mem.accesses + " accesses > " + bound);
    }

    private static void assertWellFormed(DescriptorChain c, int size, GuestMemory mem) {
        assertTrue(c.segments() >= 1 && c.segments() <= size, c.toString());
        long total = 0;
        for (int i = 0; i < c.segments(); i++) {
            assertTrue(mem.contains(c.address(i), c.length(i)), c.toString());
            assertEquals(i >= c.readableSegments(), c.isWritable(i));
            total += c.length(i);
        }
        assertEquals(total, c.readableBytes() + c.writableBytes());
        assertTrue(total <= Virtq.MAX_CHAIN_BYTES);
    }

    @Property(tries = 400, edgeCases = EdgeCasesMode.NONE)   // edge cases would be mostly size-1 rings
    void deviceAcceptsExactlyTheChainsTheSpecAllows(@ForAll("rings") Ring r) throws GuestFault {
        if (r.availIdx() != null) {
            return;   // only the rings whose available entries are the listed heads
        }
        HeapGuestMemory mem = new HeapGuestMemory(MEM);
        RingLayout layout = write(mem, r);
        // The reference reads the ring before the device writes anything.
        List<List<long[]>> expected = new ArrayList<>();
        for (int head : r.heads()) {
            expected.add(referenceWalk(mem, layout, r, head));
        }
        QueueCounters counters = new QueueCounters();
        SplitQueue queue = new SplitQueue(mem, MAX_SIZE, counters);
        queue.activate(layout, r.features());
        DescriptorChain chain = queue.newChain();
        List<List<long[]>> accepted = new ArrayList<>();
        while (queue.pop(chain)) {
            List<long[]> segs = new ArrayList<>();
            for (int i = 0; i < chain.segments(); i++) {
                segs.add(new long[] {chain.address(i), chain.length(i), chain.isWritable(i) ? 1 : 0});
            }
            accepted.add(segs);
            queue.push(chain.head(), 0x1234);
        }
        queue.publish();

        List<List<long[]>> want = expected.stream().filter(e -> e != null).toList();
        assertEquals(want.size(), accepted.size(), "accepted chains");
        for (int i = 0; i < want.size(); i++) {
            assertEquals(render(want.get(i)), render(accepted.get(i)));
        }
        assertEquals(r.heads().size() - want.size(), counters.total());
        // Used ring: one entry per head inside the table, in order, length 0 for the bad ones.
        int slot = 0;
        for (int i = 0; i < r.heads().size(); i++) {
            int head = r.heads().get(i);
            if (head >= r.size()) {
                continue;
            }
            long elem = layout.usedElem(slot++ & (r.size() - 1));
            assertEquals(head, mem.readInt(elem));
            assertEquals(expected.get(i) == null ? 0 : 0x1234, mem.readInt(elem + 4));
        }
        assertEquals(slot, mem.readShort(layout.usedIdx()) & 0xffff);
    }

    private static String render(List<long[]> segs) {
        StringBuilder sb = new StringBuilder();
        for (long[] s : segs) {
            sb.append(Long.toHexString(s[0])).append('+').append(s[1]).append(s[2] == 1 ? "w " : "r ");
        }
        return sb.toString();
    }

    /**
     * The spec's rules (virtio 1.2 §2.7.4.2, §2.7.5.2, §2.7.5.3.1), checked with a visited
     * set instead of counting: returns the (addr, len, writable) segments, or null if the
     * chain is not one a driver may create.
     */
    private static List<long[]> referenceWalk(GuestMemory mem, RingLayout layout, Ring r, int head)
            throws GuestFault {
        int size = r.size();
        if (head >= size) {
            return null;
        }
        List<long[]> segs = new ArrayList<>();
        Set<Long> visited = new HashSet<>();
        long table = layout.desc();
        long entries = size;
        boolean inIndirect = false;
        boolean sawWritable = false;
        long total = 0;
        long index = head;
        while (true) {
            if (!visited.add((inIndirect ? 1L << 32 : 0) | index)) {
                return null;   // a loop
            }
            long d = table + 16 * index;
            long addr = mem.readLong(d);
            long len = Integer.toUnsignedLong(mem.readInt(d + 8));
            int flags = mem.readShort(d + 12) & 0xffff;
            int next = mem.readShort(d + 14) & 0xffff;
            boolean next_ = (flags & Virtq.DESC_F_NEXT) != 0;
            if ((flags & Virtq.DESC_F_INDIRECT) != 0) {
                if (inIndirect || !r.indirect() || next_ || len == 0 || len % 16 != 0 || len / 16 > size
                        || !mem.contains(addr, len)) {
                    return null;
                }
                table = addr;
                entries = len / 16;
                inIndirect = true;
                index = 0;
                continue;
            }
            if (!mem.contains(addr, len)) {
                return null;
            }
            boolean writable = (flags & Virtq.DESC_F_WRITE) != 0;
            if (!writable && sawWritable) {
                return null;
            }
            sawWritable |= writable;
            segs.add(new long[] {addr, len, writable ? 1 : 0});
            total += len;
            if (segs.size() > size || total > (1L << 32)) {
                return null;
            }
            if (!next_) {
                return segs;
            }
            if (next >= entries) {
                return null;
            }
            index = next;
        }
    }
}
