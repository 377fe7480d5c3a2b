package org.jvmd.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * A driver and a device over shared memory, with random chain shapes and random
 * interleavings of add, serve, publish and reap: every chain comes back once, with the
 * length the device wrote, its writable buffers holding exactly the readable bytes, its
 * readable buffers untouched, and the device never writing outside the used ring and the
 * writable buffers.
 */
class RoundTripProperties {
    static final int MEM = 1 << 21;
    static final long READABLE = 0x40000;
    static final long WRITABLE = 0x100000;

    record Shape(List<Integer> readable, List<Integer> writable) {
        int segments() {
            return readable.size() + writable.size();
        }
    }

    /** A chain the driver added: its buffers and the bytes it put in the readable ones. */
    record InFlight(Shape shape, long[] addrs, byte[] sent) {}

    @Provide
    Arbitrary<List<Shape>> shapes() {
        Arbitrary<List<Integer>> lens = Arbitraries.integers().between(0, 300).list().ofMaxSize(4);
        return Combinators.combine(lens, lens).as(Shape::new)
                .filter(s -> s.segments() > 0)
                .list().ofMinSize(1).ofMaxSize(40);
    }

    @Property(tries = 150)
    void driverAndDeviceRoundTripsDeliverExactlyTheBytes(
            @ForAll("shapes") List<Shape> shapes,
            @ForAll @IntRange(min = 3, max = 6) int sizeExp,
            @ForAll boolean indirect,
            @ForAll boolean eventIdx,
            @ForAll long seed) throws GuestFault {
        int size = 1 << sizeExp;
        long features = (indirect ? 1L << Virtq.F_INDIRECT_DESC : 0) | (eventIdx ? 1L << Virtq.F_EVENT_IDX : 0);
        HeapGuestMemory raw = new HeapGuestMemory(MEM);
        GuestAllocator ringAlloc = new GuestAllocator(raw, 0x1000, READABLE);
        GuestAllocator readAlloc = new GuestAllocator(raw, READABLE, WRITABLE);
        GuestAllocator writeAlloc = new GuestAllocator(raw, WRITABLE, MEM);
        DriverQueue driver = DriverQueue.create(raw, ringAlloc, size, features, 8);
        CheckedMemory deviceView = new CheckedMemory(raw)
                .allowWrites(driver.layout().used(), RingLayout.usedBytes(size))
                .allowWrites(WRITABLE, MEM - WRITABLE);
        QueueCounters counters = new QueueCounters();
        SplitQueue queue = new SplitQueue(deviceView, size, counters);
        queue.activate(driver.layout(), features);
        EchoDevice device = new EchoDevice(queue);

        Random random = new Random(seed);
        Map<Integer, InFlight> inFlight = new HashMap<>();
        int next = 0;
        int reaped = 0;
        while (reaped < shapes.size()) {
            int action = random.nextInt(4);
            if (action <= 1 && next < shapes.size()) {
                Shape s = shapes.get(next);
                InFlight f = stage(driver, s, raw, readAlloc, writeAlloc, random);
                int head = driver.add();
                if (head != DriverQueue.NONE) {
                    assertEquals(null, inFlight.put(head, f), "head reused while in flight");
                    next++;
                }
            } else if (action == 2) {
                device.serve(1 + random.nextInt(size));
            } else {
                int head;
                while ((head = driver.reap()) != DriverQueue.NONE) {
                    check(inFlight.remove(head), driver.usedLen(), raw);
                    reaped++;
                    if (random.nextBoolean()) {
                        break;
                    }
                }
            }
        }
        assertEquals(List.of(), deviceView.violations);
        assertEquals(0, counters.total(), counters.toString());
        assertEquals(size, driver.numFree());
        assertEquals(0, queue.outstanding());
    }

    private static InFlight stage(DriverQueue driver, Shape s, GuestMemory mem, GuestAllocator readAlloc,
                                  GuestAllocator writeAlloc, Random random) throws GuestFault {
        long[] addrs = new long[s.segments()];
        int total = s.readable().stream().mapToInt(Integer::intValue).sum();
        byte[] sent = new byte[total];
        random.nextBytes(sent);
        int at = 0;
        int i = 0;
        for (int len : s.readable()) {
            addrs[i] = readAlloc.allocate(len, 1);
            mem.write(addrs[i], sent, at, len);
            driver.readable(addrs[i++], len);
            at += len;
        }
        for (int len : s.writable()) {
            addrs[i] = writeAlloc.allocate(len, 1);
            byte[] junk = new byte[len];
            random.nextBytes(junk);
            mem.write(addrs[i], junk, 0, len);
            driver.writable(addrs[i++], len);
        }
        return new InFlight(s, addrs, sent);
    }

    private static void check(InFlight f, int usedLen, GuestMemory mem) throws GuestFault {
        int writable = f.shape().writable().stream().mapToInt(Integer::intValue).sum();
        int expected = Math.min(f.sent().length, writable);
        assertEquals(expected, usedLen);
        byte[] got = new byte[f.sent().length];
        byte[] echoed = new byte[writable];
        int r = 0;
        int w = 0;
        int i = 0;
        for (int len : f.shape().readable()) {
            mem.read(f.addrs()[i++], got, r, len);
            r += len;
        }
        for (int len : f.shape().writable()) {
            mem.read(f.addrs()[i++], echoed, w, len);
            w += len;
        }
        assertArrayEquals(f.sent(), got, "readable buffers must be untouched");
        assertArrayEquals(java.util.Arrays.copyOf(f.sent(), expected), java.util.Arrays.copyOf(echoed, expected));
    }
}
