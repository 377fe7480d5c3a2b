package org.jvmd.vioblk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.sys.uring.IoUring;
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
    private UringRig rig;
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
        rig = new UringRig(mem, raw, 64, "uring-test",   // every chain in an indirect table
                (pool, done, why) -> UringIo.open(raw, pool, done, VioblkLimits.DEFAULT.segMax(), why));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (rig != null) {
            rig.close();
        }
        if (mem != null) {
            mem.close();
            memfd.close();
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
            src[i] = new long[] {rig.a.allocate(2048, 512), rig.a.allocate(2048, 512)};
            byte[] b = new byte[4096];
            r.nextBytes(b);
            mem.write(src[i][0], b, 0, 2048);
            mem.write(src[i][1], b, 2048, 2048);
            System.arraycopy(b, 0, want, i * 4096, 4096);
            st[i] = rig.request(VirtioBlk.T_OUT, i * 8L, src[i], 2048);
        }
        rig.serve();
        long[][] dst = new long[16][];
        for (int i = 0; i < 16; i++) {
            dst[i] = new long[] {rig.a.allocate(1024, 512), rig.a.allocate(1024, 512), rig.a.allocate(1024, 512),
                rig.a.allocate(1024, 512)};
            st[16 + i] = rig.request(VirtioBlk.T_IN, i * 8L, dst[i], 1024);
        }
        st = Arrays.copyOf(st, 33);
        st[32] = rig.request(VirtioBlk.T_FLUSH, 0, new long[0], 0);
        rig.serve();
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
        assertEquals(16, rig.v.counters().writes());
        assertEquals(16, rig.v.counters().reads());
        assertEquals(1, rig.v.counters().flushes());
    }

    @Test
    void aReadPastTheFileIsContinuedThenFailsWithoutProgress() throws Exception {
        // 8 KiB from 4 KiB before the file's end: 4 KiB come back, the rest makes no progress
        long[] dst = {rig.a.allocate(8192, 512)};
        long st = rig.request(VirtioBlk.T_IN, (FILE - 4096) / 512, dst, 8192);
        long ok = rig.request(VirtioBlk.T_IN, 0, new long[] {rig.a.allocate(512, 512)}, 512);
        rig.serve();
        assertEquals(VirtioBlk.S_IOERR, mem.readByte(st));
        assertEquals(VirtioBlk.S_OK, mem.readByte(ok), "the other request is not disturbed");
        byte[] got = new byte[4096];
        mem.read(dst[0], got, 0, 4096);
        assertArrayEquals(Arrays.copyOfRange(image, FILE - 4096, FILE), got, "the part before the end was read");
        assertEquals(1L, rig.v.counters().errorMap().values().stream().mapToLong(Long::longValue).sum(),
                "one error counted: " + rig.v.counters().errorMap());
    }
}
