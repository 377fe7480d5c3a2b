package org.jvmd.vioblk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.virtio.blk.BlockError;
import org.jvmd.virtio.blk.BlockIoException;
import org.jvmd.virtio.blk.GuestSpans;

/** The raw backend on a file and on a block device (a loop device), over memfd guest memory. */
class RawBackendTest {
    private static final int MEM = 4 << 20;
    private static final int IMAGE = 4 << 20;
    private Path file;
    private Fd memfd;
    private MappedGuestMemory mem;

    @BeforeEach
    void setUp() throws Exception {
        file = Files.createTempFile("jvmd-raw", ".img");
        byte[] ones = new byte[IMAGE];
        Arrays.fill(ones, (byte) 1);
        Files.write(file, ones);
        memfd = Memfd.create("guest", MEM);
        mem = MappedGuestMemory.map(memfd, MEM);
    }

    @AfterEach
    void tearDown() throws IOException {
        mem.close();
        memfd.close();
        Files.deleteIfExists(file);
    }

    private RawBackend open(String path) throws Exception {
        Fd fd = LibC.open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        return new RawBackend(fd, mem, RawBackend.sizeOf(fd));
    }

    private void roundTrip(RawBackend b) throws Exception {
        byte[] data = new byte[8192 + 512];
        new Random(5).nextBytes(data);
        mem.write(0x10000, data, 0, 8192);
        mem.write(0x40000, data, 8192, 512);
        GuestSpans w = new GuestSpans(4);
        w.add(0x10000, 8192);
        w.add(0x40000, 512);
        b.write(1 << 20, w);
        b.flush();
        GuestSpans r = new GuestSpans(4);
        r.add(0x80000, 512);
        r.add(0x90000, 8192);
        b.read(1 << 20, r);
        byte[] back = new byte[data.length];
        mem.read(0x80000, back, 0, 512);
        mem.read(0x90000, back, 512, 8192);
        assertArrayEquals(data, back);
    }

    @Test
    void readsAndWritesGoBetweenGuestMemoryAndTheFile() throws Exception {
        try (RawBackend b = open(file.toString())) {
            assertEquals(IMAGE, b.size());
            roundTrip(b);
        }
    }

    @Test
    void discardPunchesAndWriteZeroesZeroesWithOrWithoutUnmap() throws Exception {
        try (RawBackend b = open(file.toString())) {
            b.discard(0, 4096);
            b.writeZeroes(8192, 4096, true);
            b.writeZeroes(16384, 512, false);
        }
        byte[] now = Files.readAllBytes(file);
        assertEquals(IMAGE, now.length);
        for (int[] r : new int[][] {{0, 4096}, {8192, 4096}, {16384, 512}}) {
            assertArrayEquals(new byte[r[1]], Arrays.copyOfRange(now, r[0], r[0] + r[1]), "at " + r[0]);
            assertEquals(1, now[r[0] + r[1]], "after " + r[0]);
        }
        assertEquals(1, now[4096]);
    }

    @Test
    void failuresNameTheirReason() throws Exception {
        Fd ro = LibC.open(file.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
        try (RawBackend b = new RawBackend(ro, mem, IMAGE)) {
            GuestSpans s = new GuestSpans(1);
            s.add(0, 512);
            BlockIoException e = assertThrows(BlockIoException.class, () -> b.write(0, s));
            assertEquals(BlockError.IO_OTHER, e.reason());
            assertEquals("pwritev: EBADF (Bad file descriptor)", e.getMessage());
        }
        assertEquals(BlockError.IO_EIO, RawBackend.failure("preadv", Errno.EIO).reason());
        assertEquals(BlockError.IO_ENOSPC, RawBackend.failure("pwritev", Errno.ENOSPC).reason());
        assertEquals(BlockError.IO_ENOSPC, RawBackend.failure("pwritev", Errno.EDQUOT).reason());
    }

    @Test
    void aBlockDeviceIsSizedAndServedLikeAFile() throws Exception {
        String dev = losetup(file);
        Assumptions.assumeTrue(dev != null, "no loop device on this machine");
        try (RawBackend b = open(dev)) {
            assertEquals(IMAGE, b.size(), "lseek(SEEK_END) gives the device size");
            roundTrip(b);
            b.writeZeroes(0, 4096, true);
            b.discard(4096, 4096);
        } finally {
            run("losetup", "-d", dev);
        }
        byte[] now = Files.readAllBytes(file);
        assertArrayEquals(new byte[4096], Arrays.copyOfRange(now, 0, 4096));
    }

    private static String losetup(Path f) throws Exception {
        Process p = new ProcessBuilder("losetup", "-f", "--show", f.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        return p.waitFor() == 0 && out.startsWith("/dev/") ? out : null;
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertEquals(0, p.waitFor(), String.join(" ", cmd));
    }
}
