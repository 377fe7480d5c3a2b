package org.jvmd.sys;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;

/** The per-packet calls (writev/readv over guest memory, eventfd signal/read) allocate nothing. */
class HotPathAllocationTest {
    @Test
    void guestMemoryReadvWritevAndEventfdsAllocateNothingPerCall() throws Exception {
        ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        Fd[] p = LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_SEQPACKET | LibC.SOCK_CLOEXEC, 0);
        try (Fd a = p[0]; Fd b = p[1]; Fd memfd = Memfd.create("g", 1 << 16);
                MappedGuestMemory mem = MappedGuestMemory.map(memfd, List.of(new MappedGuestMemory.Range(0, 1 << 16, 0)));
                EventFd ev = EventFd.create(true)) {
            IoVec tx = new IoVec(4);
            IoVec rx = new IoVec(4);
            // The JDK's downcall glue allocates until C2 has compiled it (escape analysis then
            // removes the temporaries); on a busy machine that takes a while, so measure
            // batches until one is clean. Per-call garbage would cost >= 16 bytes a round
            // (80 kB a batch) in every batch; a one-off (a deoptimization) is tolerated.
            long best = Long.MAX_VALUE;
            for (int batch = 0; batch < 100 && best >= 4_000; batch++) {
                long before = mx.getThreadAllocatedBytes(tid);
                for (int i = 0; i < 5_000; i++) {
                    round(a, b, mem, ev, tx, rx);
                }
                best = Math.min(best, mx.getThreadAllocatedBytes(tid) - before);
            }
            assertTrue(best < 4_000, best + " bytes allocated in the best batch of 5000 rounds");
        }
    }

    private static void round(Fd a, Fd b, MappedGuestMemory mem, EventFd ev, IoVec tx, IoVec rx)
            throws Exception {
        tx.clear();
        tx.add(mem, 0, 12);
        tx.add(mem, 100, 1000);
        if (LibC.tryWritev(a.num(), tx) != 1012) {
            throw new AssertionError("writev");
        }
        rx.clear();
        rx.add(mem, 4096, 12);
        rx.add(mem, 8192, 2048);
        if (LibC.tryReadv(b.num(), rx) != 1012) {
            throw new AssertionError("readv");
        }
        ev.signal();
        if (ev.read() != 1) {
            throw new AssertionError("eventfd");
        }
    }
}
