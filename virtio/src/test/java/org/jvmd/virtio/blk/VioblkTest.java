package org.jvmd.virtio.blk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvmd.virtio.blk.BlkHarness.bit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.HeapGuestMemory;
import org.jvmd.virtio.Virtq;

class VioblkTest {
    private static final int IMAGE = 1 << 20;   // 2048 sectors

    @Test
    void offersTheIssueFeaturesAndRoOnlyForAReadOnlyDisk() {
        long rw = Vioblk.offeredFeatures(false);
        for (int b : new int[] {VirtioBlk.F_SEG_MAX, VirtioBlk.F_SIZE_MAX, VirtioBlk.F_BLK_SIZE, VirtioBlk.F_FLUSH,
                VirtioBlk.F_DISCARD, VirtioBlk.F_WRITE_ZEROES, Virtq.F_INDIRECT_DESC, Virtq.F_EVENT_IDX,
                Vioblk.F_VERSION_1}) {
            assertTrue((rw & bit(b)) != 0, "bit " + b);
        }
        assertEquals(0, rw & bit(VirtioBlk.F_RO));
        long ro = Vioblk.offeredFeatures(true);
        assertTrue((ro & bit(VirtioBlk.F_RO)) != 0);
        assertEquals(0, ro & (bit(VirtioBlk.F_DISCARD) | bit(VirtioBlk.F_WRITE_ZEROES)));
    }

    @Test
    void writeThenReadRoundTripsAcrossSegments() throws GuestFault {
        BlkHarness h = new BlkHarness(IMAGE, false, 64, BlkHarness.all());
        byte[] data = new byte[4096 + 512];
        new Random(1).nextBytes(data);
        long ws = h.write(100, data, 1000, 3096, 512);
        assertEquals(1, h.submitted.size());
        h.completeAll(false);
        assertEquals(VirtioBlk.S_OK, h.status(ws));
        byte[] onDisk = new byte[data.length];
        System.arraycopy(h.backend.image(), 100 * 512, onDisk, 0, data.length);
        assertArrayEquals(data, onDisk);

        long[] r = h.read(100, 512, 4096);
        h.completeAll(false);
        assertEquals(VirtioBlk.S_OK, h.status(r[2]));
        byte[] back = new byte[data.length];
        h.memory.read(r[0], back, 0, 512);
        h.memory.read(r[1], back, 512, 4096);
        assertArrayEquals(data, back);
        List<int[]> used = h.reap();
        assertEquals(2, used.size());
        assertEquals(1, used.get(0)[1], "a write writes only its status byte");
        assertEquals(4608 + 1, used.get(1)[1], "a read writes its data and the status byte");
        BlockCounters c = h.device.counters();
        assertEquals(1, c.reads());
        assertEquals(1, c.writes());
        assertEquals(4608, c.readBytes());
        assertEquals(4608, c.writeBytes());
        assertEquals(0, c.totalErrors());
    }

    @Test
    void severalRequestsInFlightCompleteInAnyOrder() throws GuestFault {
        BlkHarness h = new BlkHarness(IMAGE, false, 64, BlkHarness.all());
        long[] st = new long[8];
        for (int i = 0; i < 8; i++) {
            byte[] d = new byte[512];
            d[0] = (byte) i;
            st[i] = h.write(i, d, 512);
        }
        assertEquals(8, h.submitted.size());
        assertEquals(8, h.device.inFlight());
        h.completeAll(true);
        assertEquals(0, h.device.inFlight());
        for (int i = 0; i < 8; i++) {
            assertEquals(VirtioBlk.S_OK, h.status(st[i]));
            assertEquals(i, h.backend.image()[i * 512]);
        }
        assertEquals(8, h.reap().size());
    }

    @Test
    void aLoneReadOrWriteIsServedOnTheDeviceThreadAndTwoAreHandedOn() throws GuestFault {
        BlkHarness h = new BlkHarness(IMAGE, false, 64, BlkHarness.all());
        h.device.serveLoneRequestsInline(true);
        byte[] d = new byte[512];
        d[7] = 9;
        long ws = h.write(3, d, 512);
        assertTrue(h.submitted.isEmpty(), "served during the kick");
        assertEquals(VirtioBlk.S_OK, h.status(ws));
        assertEquals(9, h.backend.image()[3 * 512 + 7]);
        assertEquals(1, h.reap().size());
        // two in one round: both to the I/O threads
        h.queue.readable(h.header(VirtioBlk.T_IN, 3), 16);
        long b1 = h.buffer(512);
        h.queue.writable(b1, 512).writable(h.status(), 1);
        h.queue.add();
        h.queue.readable(h.header(VirtioBlk.T_IN, 4), 16);
        h.queue.writable(h.buffer(512), 512).writable(h.status(), 1);
        h.queue.add();
        h.queue.kick();
        h.device.kick();
        assertEquals(2, h.submitted.size());
        // a lone flush is handed on too
        h.completeAll(false);
        h.simple(VirtioBlk.T_FLUSH, 0);
        assertEquals(1, h.submitted.size());
        h.completeAll(false);
        assertEquals(9, h.memory.readByte(b1 + 7));
        assertEquals(0, h.device.inFlight());
    }

    @Test
    void flushReachesTheBackendAndGetIdAnswersTheSerial() throws GuestFault {
        BlkHarness h = new BlkHarness(IMAGE, false, 64, BlkHarness.all());
        long fs = h.simple(VirtioBlk.T_FLUSH, 0);
        h.completeAll(false);
        assertEquals(VirtioBlk.S_OK, h.status(fs));
        assertEquals(1, h.backend.flushes());

        h.queue.readable(h.header(VirtioBlk.T_GET_ID, 0), 16);
        long id = h.buffer(20);
        h.queue.writable(id, 20);
        long s = h.status();
        h.queue.writable(s, 1);
        h.add();
        assertTrue(h.submitted.isEmpty(), "GET_ID is answered at once");
        assertEquals(VirtioBlk.S_OK, h.status(s));
        byte[] serial = new byte[20];
        h.memory.read(id, serial, 0, 20);
        byte[] want = new byte[20];
        byte[] name = "jvmd-serial-0".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(name, 0, want, 0, name.length);
        assertArrayEquals(want, serial);
        assertEquals(1, h.device.counters().getIds());
        assertEquals(1, h.device.counters().flushes());
    }

    @Test
    void discardAndWriteZeroesWorkPerSegmentAndRefuseBadFlags() throws GuestFault {
        BlkHarness h = new BlkHarness(IMAGE, false, 64, BlkHarness.all());
        java.util.Arrays.fill(h.backend.image(), (byte) 0x55);
        long z = h.ranges(VirtioBlk.T_WRITE_ZEROES, new long[] {2, 2, 0}, new long[] {10, 1, 1});
        long d = h.ranges(VirtioBlk.T_DISCARD, new long[] {20, 8, 0});
        h.completeAll(false);
        assertEquals(VirtioBlk.S_OK, h.status(z));
        assertEquals(VirtioBlk.S_OK, h.status(d));
        byte[] img = h.backend.image();
        assertEquals(0x55, img[2 * 512 - 1]);
        assertEquals(0, img[2 * 512]);
        assertEquals(0, img[4 * 512 - 1]);
        assertEquals(0x55, img[4 * 512]);
        assertEquals(0, img[10 * 512 + 511]);
        assertEquals(8 * 512, h.backend.discardedBytes());

        long unmapDiscard = h.ranges(VirtioBlk.T_DISCARD, new long[] {0, 1, 1});
        long reserved = h.ranges(VirtioBlk.T_WRITE_ZEROES, new long[] {0, 1, 2});
        long past = h.ranges(VirtioBlk.T_DISCARD, new long[] {2040, 9, 0});
        long huge = h.ranges(VirtioBlk.T_DISCARD, new long[] {0, (1L << 22) + 1, 0});
        assertTrue(h.submitted.isEmpty());
        assertEquals(VirtioBlk.S_UNSUPP, h.status(unmapDiscard));
        assertEquals(VirtioBlk.S_UNSUPP, h.status(reserved));
        assertEquals(VirtioBlk.S_IOERR, h.status(past));
        assertEquals(VirtioBlk.S_IOERR, h.status(huge));
        BlockCounters c = h.device.counters();
        assertEquals(1, c.discards());
        assertEquals(1, c.writeZeroes());
        assertEquals(2, c.unsupported());
        assertEquals(1, c.errors(BlockError.OUT_OF_RANGE));
        assertEquals(1, c.errors(BlockError.TOO_MANY_SECTORS));
    }

    @Test
    void malformedRequestsAreAnsweredAndCountedAndTheDeviceGoesOn() throws GuestFault {
        BlkHarness h = new BlkHarness(IMAGE, false, 64, BlkHarness.all());
        // header too short
        long hdr = h.buffer(8);
        h.queue.readable(hdr, 8);
        long s1 = h.status();
        h.queue.writable(s1, 1);
        h.add();
        // no status byte: readable only
        h.queue.readable(h.header(VirtioBlk.T_IN, 0), 16);
        int noStatus = h.add();
        // data in the wrong direction: a read with readable data
        h.queue.readable(h.header(VirtioBlk.T_IN, 0), 16).readable(h.buffer(512), 512);
        long s3 = h.status();
        h.queue.writable(s3, 1);
        h.add();
        // a write with writable data
        h.queue.readable(h.header(VirtioBlk.T_OUT, 0), 16).writable(h.buffer(512), 512);
        long s4 = h.status();
        h.queue.writable(s4, 1);
        h.add();
        // past the end, overflowing, unaligned, unknown type
        long s5 = h.read(2047, 1024)[1];
        long s6 = h.read(-1L, 512)[1];
        long s7 = h.read(0, 100)[1];
        long s8 = h.simple(99, 0);
        for (long s : new long[] {s1, s3, s4, s5, s6, s7}) {
            assertEquals(VirtioBlk.S_IOERR, h.status(s));
        }
        assertEquals(VirtioBlk.S_UNSUPP, h.status(s8));
        assertTrue(h.submitted.isEmpty());
        List<int[]> used = h.reap();
        assertEquals(8, used.size());
        for (int[] u : used) {
            assertEquals(u[0] == noStatus ? 0 : 1, u[1]);
        }
        BlockCounters c = h.device.counters();
        assertEquals(1, c.errors(BlockError.HEADER_TOO_SHORT));
        assertEquals(1, c.errors(BlockError.NO_STATUS));
        assertEquals(2, c.errors(BlockError.WRONG_DIRECTION));
        assertEquals(2, c.errors(BlockError.OUT_OF_RANGE));
        assertEquals(1, c.errors(BlockError.UNALIGNED_LENGTH));
        assertEquals(1, c.unsupported());
        // and it still serves
        long ok = h.read(2047, 512)[1];
        h.completeAll(false);
        assertEquals(VirtioBlk.S_OK, h.status(ok));
    }

    @Test
    void tooManyOrTooLargeSegmentsAreRefused() throws GuestFault {
        VioblkLimits small = new VioblkLimits(4, 4096, 1 << 22, 4, 1 << 22, 4);
        BlkHarness h = new BlkHarness(IMAGE, false, 64, BlkHarness.all(), small);
        long many = h.read(0, 512, 512, 512, 512, 512)[5];
        long large = h.read(0, 8192)[1];
        long fits = h.read(0, 512, 512, 512, 4096)[4];
        assertEquals(VirtioBlk.S_IOERR, h.status(many));
        assertEquals(VirtioBlk.S_IOERR, h.status(large));
        h.completeAll(false);
        assertEquals(VirtioBlk.S_OK, h.status(fits));
        assertEquals(1, h.device.counters().errors(BlockError.TOO_MANY_SEGMENTS));
        assertEquals(1, h.device.counters().errors(BlockError.SEGMENT_TOO_LARGE));
    }

    @Test
    void aReadOnlyDiskRefusesWritesWithIoerrAndDiscardsWithUnsupp() throws GuestFault {
        BlkHarness h = new BlkHarness(IMAGE, true, 64, BlkHarness.all() | bit(VirtioBlk.F_DISCARD));
        assertTrue((h.device.acked() & bit(VirtioBlk.F_RO)) != 0);
        long w = h.write(0, new byte[512], 512);
        long d = h.ranges(VirtioBlk.T_DISCARD, new long[] {0, 1, 0});
        assertEquals(VirtioBlk.S_IOERR, h.status(w));
        assertEquals(VirtioBlk.S_UNSUPP, h.status(d));
        assertEquals(1, h.device.counters().errors(BlockError.READ_ONLY));
        long r = h.read(0, 512)[1];
        h.completeAll(false);
        assertEquals(VirtioBlk.S_OK, h.status(r));
    }

    @Test
    void backendFailuresBecomeIoerrCountedByReason() throws GuestFault {
        HeapGuestMemory mem = new HeapGuestMemory(BlkHarness.MEM);
        BlockBackend failing = new BlockBackend() {
            public long size() {
                return IMAGE;
            }

            public void read(long offset, GuestSpans dst) throws IOException {
                throw new BlockIoException(BlockError.IO_EIO, "pread: EIO");
            }

            public void write(long offset, GuestSpans src) throws IOException {
                throw new BlockIoException(BlockError.IO_ENOSPC, "pwrite: ENOSPC");
            }

            public void flush() throws IOException {
                throw new IOException("fdatasync: something");
            }

            public void discard(long offset, long length) {
                throw new IllegalStateException("a bug in a backend");
            }

            public void writeZeroes(long offset, long length, boolean unmap) {
            }
        };
        java.util.List<BlockRequest> sub = new java.util.ArrayList<>();
        Vioblk v = new Vioblk(failing, false, "x", VioblkLimits.DEFAULT, mem, sub::add, x -> { }, null);
        org.jvmd.virtio.GuestAllocator a = new org.jvmd.virtio.GuestAllocator(mem);
        org.jvmd.virtio.DriverQueue q = org.jvmd.virtio.DriverQueue.create(mem, a, 16, 0, 1);
        v.featuresAcked(Vioblk.offeredFeatures(false));
        v.queueReady(0, q.layout(), 0);
        v.driverOk();
        long[] status = new long[4];
        int[] types = {VirtioBlk.T_IN, VirtioBlk.T_OUT, VirtioBlk.T_FLUSH, VirtioBlk.T_DISCARD};
        for (int i = 0; i < 4; i++) {
            long hd = a.allocate(16, 16);
            mem.writeInt(hd, types[i]);
            q.readable(hd, 16);
            if (types[i] == VirtioBlk.T_IN) {
                q.writable(a.allocate(512, 16), 512);
            } else if (types[i] == VirtioBlk.T_OUT) {
                q.readable(a.allocate(512, 16), 512);
            } else if (types[i] == VirtioBlk.T_DISCARD) {
                long seg = a.allocate(16, 16);
                mem.writeInt(seg + 8, 1);
                q.readable(seg, 16);
            }
            status[i] = a.allocate(1, 1);
            q.writable(status[i], 1);
            q.add();
        }
        v.kick();
        assertEquals(4, sub.size());
        for (BlockRequest r : sub) {
            r.execute();
            v.complete(r);
        }
        v.completionsDone();
        for (long s : status) {
            assertEquals(VirtioBlk.S_IOERR, mem.readByte(s));
        }
        BlockCounters c = v.counters();
        assertEquals(1, c.errors(BlockError.IO_EIO));
        assertEquals(1, c.errors(BlockError.IO_ENOSPC));
        assertEquals(2, c.errors(BlockError.IO_OTHER));
        assertEquals(0, c.completedOk());
    }

    @Test
    void resetAndPauseWaitForRequestsInFlight() throws GuestFault {
        BlkHarness h = new BlkHarness(IMAGE, false, 64, BlkHarness.all());
        h.read(0, 512);
        h.device.pause();
        assertEquals(0, h.paused, "a request is in flight");
        long queued = h.read(1, 512)[1];
        assertEquals(1, h.submitted.size(), "nothing is taken while paused");
        h.completeAll(false);
        assertEquals(1, h.paused);
        h.device.unpause();
        assertEquals(1, h.submitted.size(), "the request queued during the pause is served");
        h.device.reset();
        assertEquals(0, h.resetDone);
        h.completeAll(false);
        assertEquals(1, h.resetDone);
        assertEquals(0x7f, h.status(queued), "a request completing after the reset is not answered");
        assertEquals(2, h.device.counters().reads(), "the I/O happened and is counted");
    }

    @Test
    void eventIdxSuppressesInterruptsUntilTheDriverAsks() throws GuestFault {
        BlkHarness h = new BlkHarness(IMAGE, false, 64, BlkHarness.all());
        h.read(0, 512);
        h.completeAll(false);
        assertEquals(List.of(1), h.interrupts, "used_event 0 asks for the first use");
        h.queue.disableInterrupts();
        h.read(0, 512);
        h.completeAll(false);
        assertEquals(List.of(1), h.interrupts, "used_event left at 0: no interrupt for the second");
        h.reap();
        assertFalse(h.queue.enableInterrupts());
        h.read(0, 512);
        h.completeAll(false);
        assertEquals(List.of(1, 1), h.interrupts);
    }

    @Test
    void aQueueOutsideMemoryOrOfAnotherIndexStaysDisabled() throws GuestFault {
        BlkHarness h = new BlkHarness(IMAGE, false, 64, BlkHarness.all());
        assertTrue(h.device.queueReady(1, h.queue.layout(), 0) != null);
        assertTrue(h.device.queueReady(0, new org.jvmd.virtio.RingLayout(64, 1L << 40, 0, 0), 0) != null);
        h.read(0, 512);
        assertTrue(h.submitted.isEmpty());
    }
}
