package org.jvmd.sys;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.testkit.Allocation;

/** The per-packet calls (writev/readv over guest memory, eventfd signal/read) allocate nothing. */
class HotPathAllocationTest {
    @Test
    void guestMemoryReadvWritevAndEventfdsAllocateNothingPerCall() throws Exception {
        Fd[] p = LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_SEQPACKET | LibC.SOCK_CLOEXEC, 0);
        try (Fd a = p[0]; Fd b = p[1]; Fd memfd = Memfd.create("g", 1 << 16);
                MappedGuestMemory mem = MappedGuestMemory.map(memfd, List.of(new MappedGuestMemory.Range(0, 1 << 16, 0)));
                EventFd ev = EventFd.create(true)) {
            IoVec tx = new IoVec(4);
            IoVec rx = new IoVec(4);
            Allocation.assertNonePerCall("writev + readv + eventfd rounds", () -> {
                try {
                    round(a, b, mem, ev, tx, rx);
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }, 5_000, 100, 4_000);
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
