package org.jvmd.vioblk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.sys.uring.IoUring;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.blk.Vioblk;
import org.jvmd.virtio.blk.VioblkLimits;
import org.jvmd.virtio.blk.VirtioBlk;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The io_uring data path under a device core, on memfd guest memory and a file (no drop, no
 * process): several requests in flight at once, scattered spans, a short read continued and
 * then failed (the file ends before the disk does), FLUSH handed to the I/O threads.
 */
class UringIoTest {
    private static final int MEM = 4 << 20;
    private static final int FILE = 64 << 10;
    /** The disk is said to be twice the file: reads past the file's end make no progress. */
    private static final int DISK = 2 * FILE;

    @TempDir
    Path dir;
    private Fd memfd;
    private MappedGuestMemory mem;
    private EventFd done;
    private IoPool pool;
    private UringIo uring;
    private Vioblk v;
    private DriverQueue q;
    private GuestAllocator a;
    private byte[] image;

    @BeforeEach
    void setUp() throws Exception {
        assumeTrue(IoUring.disabledReason() == null, "io_uring disabled by sysctl");
        Path file = dir.resolve("disk.img");
        image = new byte[FILE];
        new Random(3).nextBytes(image);
        Files.write(file, image);
        memfd = Memfd.create("guest", MEM);
        mem = MappedGuestMemory.map(memfd, MEM);
        Fd fd = LibC.open(file.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
        RawBackend raw = new RawBackend(fd, mem, DISK);
        done = EventFd.create(true);
        pool = new IoPool("test", done, 2);
        StringBuilder why = new StringBuilder();
        uring = UringIo.open(raw, pool, done, VioblkLimits.DEFAULT.segMax(), why);
        assertNotNull(uring, "no ring: " + why);
        a = new GuestAllocator(mem);
        long features = Vioblk.offeredFeatures(false);
        q = DriverQueue.create(mem, a, 64, features, 8);   // every chain in an indirect table
        v = new Vioblk(raw, false, "uring-test", VioblkLimits.DEFAULT, mem, uring, vector -> {},
                Vioblk.Listener.NONE);
        pool.start();
        v.featuresAcked(features);
        v.queueReady(0, q.layout(), 0);
        v.driverOk();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (pool != null) {
            pool.stop();
        }
        if (uring != null) {
            uring.close();
        }
        if (done != null) {
            done.close();
        }
        if (mem != null) {
            mem.close();
            memfd.close();
        }
    }

    /** Queues one request: header, data spans (each {@code spanBytes}), status; returns the status byte's address. */
    private long request(int type, long sector, long[] spans, int spanBytes) throws Exception {
        long h = a.allocate(16, 16);
        mem.writeInt(h, type);
        mem.writeLong(h + 8, sector);
        q.readable(h, 16);
        for (long s : spans) {
            if (type == VirtioBlk.T_OUT) {
                q.readable(s, spanBytes);
            } else {
                q.writable(s, spanBytes);
            }
        }
        long status = a.allocate(1, 1);
        mem.writeByte(status, (byte) 0x7f);
        q.writable(status, 1);
        q.add();
        return status;
    }

    /** Kicks the device, submits, and serves completions until nothing is in flight. */
    private void serve() throws Exception {
        q.kick();
        v.kick();
        uring.flush();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while ((v.inFlight() > 0 || v.hasPendingWork()) && System.nanoTime() < deadline) {
            if (v.hasPendingWork()) {
                v.kick();
                uring.flush();
            }
            LibC.poll(done.fd(), LibC.POLLIN, 100);
            done.read();
            int n = pool.drain(v::complete) + uring.drain(v::complete);
            if (n > 0) {
                v.completionsDone();
            }
            uring.flush();
        }
        assertEquals(0, v.inFlight(), "requests still in flight");
        while (q.reap() != DriverQueue.NONE) {
            // the driver takes its buffers back
        }
    }

    @Test
    void manyRequestsInFlightWriteAndReadBackScatteredSpans() throws Exception {
        // 16 writes of 4 KiB, each from two 2 KiB spans, then 16 reads into four 1 KiB spans each
        long[] st = new long[32];
        long[][] src = new long[16][];
        byte[] want = image.clone();
        Random r = new Random(9);
        for (int i = 0; i < 16; i++) {
            src[i] = new long[] {a.allocate(2048, 512), a.allocate(2048, 512)};
            byte[] b = new byte[4096];
            r.nextBytes(b);
            mem.write(src[i][0], b, 0, 2048);
            mem.write(src[i][1], b, 2048, 2048);
            System.arraycopy(b, 0, want, i * 4096, 4096);
            st[i] = request(VirtioBlk.T_OUT, i * 8L, src[i], 2048);
        }
        serve();
        long[][] dst = new long[16][];
        for (int i = 0; i < 16; i++) {
            dst[i] = new long[] {a.allocate(1024, 512), a.allocate(1024, 512), a.allocate(1024, 512),
                a.allocate(1024, 512)};
            st[16 + i] = request(VirtioBlk.T_IN, i * 8L, dst[i], 1024);
        }
        st = Arrays.copyOf(st, 33);
        st[32] = request(VirtioBlk.T_FLUSH, 0, new long[0], 0);
        serve();
        for (int i = 0; i < st.length; i++) {
            assertEquals(VirtioBlk.S_OK, mem.readByte(st[i]), "request " + i);
        }
        for (int i = 0; i < 16; i++) {
            byte[] back = new byte[4096];
            for (int k = 0; k < 4; k++) {
                mem.read(dst[i][k], back, k * 1024, 1024);
            }
            assertArrayEquals(Arrays.copyOfRange(want, i * 4096, i * 4096 + 4096), back, "block " + i);
        }
        assertArrayEquals(want, Files.readAllBytes(dir.resolve("disk.img")));
        assertEquals(16, v.counters().writes());
        assertEquals(16, v.counters().reads());
        assertEquals(1, v.counters().flushes());
    }

    @Test
    void aReadPastTheFileIsContinuedThenFailsWithoutProgress() throws Exception {
        // 8 KiB from 4 KiB before the file's end: 4 KiB come back, the rest makes no progress
        long[] dst = {a.allocate(8192, 512)};
        long st = request(VirtioBlk.T_IN, (FILE - 4096) / 512, dst, 8192);
        long ok = request(VirtioBlk.T_IN, 0, new long[] {a.allocate(512, 512)}, 512);
        serve();
        assertEquals(VirtioBlk.S_IOERR, mem.readByte(st));
        assertEquals(VirtioBlk.S_OK, mem.readByte(ok), "the other request is not disturbed");
        byte[] got = new byte[4096];
        mem.read(dst[0], got, 0, 4096);
        assertArrayEquals(Arrays.copyOfRange(image, FILE - 4096, FILE), got, "the part before the end was read");
        assertEquals(1L, v.counters().errorMap().values().stream().mapToLong(Long::longValue).sum(),
                "one error counted: " + v.counters().errorMap());
    }
}
