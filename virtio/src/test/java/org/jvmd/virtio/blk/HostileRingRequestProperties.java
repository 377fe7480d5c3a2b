package org.jvmd.virtio.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.Virtq;

/**
 * Block requests whose descriptors a hostile driver rewrote before publishing them:
 * addresses outside guest memory, lengths of 0 or 4 GiB, any flags (INDIRECT where not
 * allowed, WRITE before READ), next indices that loop or leave the table. The queue and
 * the device together must throw nothing, use every chain exactly once, and count each
 * one once: as a good request, UNSUPP, an error by reason, or a chain the queue dropped.
 */
class HostileRingRequestProperties {
    static final int IMAGE = 64 * 1024;

    @Property(tries = 300)
    void tamperedChainsAreEachUsedAndCountedOnce(@ForAll long seed, @ForAll @IntRange(min = 1, max = 40) int n)
            throws GuestFault {
        Random rnd = new Random(seed);
        boolean ring = rnd.nextBoolean();
        long driver = Vioblk.offeredFeatures(false) & (ring ? ~0L : ~BlkHarness.RING);
        BlkHarness h = new BlkHarness(IMAGE, false, 64, driver, HostileRequestProperties.LIMITS);
        h.device.serveLoneRequestsInline(rnd.nextBoolean());
        int size = h.queue.size();
        int added = 0;
        for (int i = 0; i < n; i++) {
            h.queue.readable(h.header(rnd.nextInt(3) == 0 ? rnd.nextInt(16) : VirtioBlk.T_IN, rnd.nextInt(130)), 16);
            int data = rnd.nextInt(4);
            for (int k = 0; k < data; k++) {
                h.queue.writable(h.buffer(512), 512);
            }
            h.queue.writable(h.status(), 1);
            boolean indirect = ring && rnd.nextBoolean();
            int head = h.queue.add(indirect, (table, indices) -> {
                for (int idx : indices) {
                    if (rnd.nextInt(3) == 0) {
                        tamper(h, table, idx, size, rnd);
                    }
                }
            });
            if (head == DriverQueue.NONE) {
                break;
            }
            added++;
        }
        h.queue.kick();
        h.device.kick();
        List<BlockRequest> io = new ArrayList<>(h.submitted);
        h.submitted.clear();
        Collections.shuffle(io, rnd);
        for (BlockRequest r : io) {
            r.execute();
            h.device.complete(r);
        }
        h.device.completionsDone();
        assertEquals(0, h.device.inFlight());

        // The used ring, read raw (the driver's own bookkeeping cannot follow rewritten chains).
        int usedIdx = h.memory.readShort(h.queue.layout().usedIdx()) & 0xffff;
        assertEquals(added, usedIdx, "every chain used");
        Set<Integer> heads = new HashSet<>();
        for (int i = 0; i < usedIdx; i++) {
            heads.add(h.memory.readInt(h.queue.layout().usedElem(i)));
        }
        assertEquals(added, heads.size(), "each exactly once");
        BlockCounters c = h.device.counters();
        net.jqwik.api.statistics.Statistics.label("queue dropped some").collect(h.device.ringCounters().total() > 0);
        net.jqwik.api.statistics.Statistics.label("device answered errors").collect(c.totalErrors() > 0);
        assertEquals(added, c.completedOk() + c.unsupported() + c.totalErrors() + h.device.ringCounters().total(),
                c + " / " + h.device.ringCounters());
    }

    /** Rewrites one descriptor: an address, a length, flags or next, as a hostile driver might. */
    private static void tamper(BlkHarness h, long table, int idx, int size, Random rnd) throws GuestFault {
        long d = table + (long) Virtq.DESC_SIZE * idx;
        switch (rnd.nextInt(4)) {
            case 0 -> h.memory.writeLong(d, switch (rnd.nextInt(4)) {
                case 0 -> BlkHarness.MEM - 1L;
                case 1 -> BlkHarness.MEM + 4096L;
                case 2 -> 1L << 62;
                default -> BlkHarness.BUFFERS + rnd.nextInt(1 << 20);
            });
            case 1 -> h.memory.writeInt(d + 8, switch (rnd.nextInt(4)) {
                case 0 -> 0;
                case 1 -> -1;
                case 2 -> rnd.nextInt(5000);
                default -> 1 + rnd.nextInt(16);
            });
            case 2 -> h.memory.writeShort(d + 12, (short) rnd.nextInt(8));
            default -> h.memory.writeShort(d + 14, (short) rnd.nextInt(size + 3));
        }
    }
}
