package org.jvmd.sys;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;

/** preadv/pwritev between a file and mapped guest memory, fdatasync, fallocate, fstat, lseek. */
class FileIoTest {
    private static final long MEM = 1 << 20;
    private Path file;
    private Fd memfd;
    private MappedGuestMemory mem;
    private Fd fd;

    @BeforeEach
    void setUp() throws Exception {
        file = Files.createTempFile("jvmd-fileio", ".img");
        memfd = Memfd.create("jvmd-fileio", MEM);
        mem = MappedGuestMemory.map(memfd, MEM);
        fd = LibC.open(file.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
        LibC.ftruncate(fd.num(), 1 << 20);
    }

    @AfterEach
    void tearDown() throws Exception {
        fd.close();
        mem.close();
        memfd.close();
        Files.deleteIfExists(file);
    }

    @Test
    void preadAndPwriteMoveAGuestMemoryViewInPlaceAndAHeapBufferThroughTheBounce() throws Exception {
        byte[] data = new byte[200_000];   // more than the 64 KiB bounce: heap calls are short
        new Random(9).nextBytes(data);
        mem.write(0x4000, data, 0, data.length);
        java.nio.ByteBuffer view = mem.byteBuffer(0x4000, data.length);
        assertTrue(view.isDirect());
        assertEquals(data.length, FileIo.tryPwrite(fd, view, 1000));
        assertEquals(data.length, view.position(), "the position advances");
        byte[] onDisk = Files.readAllBytes(file);
        assertArrayEquals(data, java.util.Arrays.copyOfRange(onDisk, 1000, 1000 + data.length));

        java.nio.ByteBuffer heap = java.nio.ByteBuffer.allocate(data.length);
        long n = FileIo.tryPread(fd, heap, 1000);
        assertEquals(65536, n, "a heap buffer goes through the 64 KiB bounce buffer");
        while (heap.hasRemaining()) {
            assertTrue(FileIo.tryPread(fd, heap, 1000 + heap.position()) > 0);
        }
        assertArrayEquals(data, heap.array());

        java.nio.ByteBuffer into = mem.byteBuffer(0x80000, 4096);
        heap.clear().limit(4096);
        while (heap.hasRemaining()) {
            FileIo.tryPwrite(fd, heap, (1 << 20) - 2048 + heap.position());   // grows the file
        }
        assertEquals((1 << 20) + 2048, Files.size(file));
        assertEquals(4096, FileIo.tryPread(fd, into, (1 << 20) - 2048));
        byte[] back = new byte[4096];
        mem.read(0x80000, back, 0, 4096);
        assertArrayEquals(java.util.Arrays.copyOf(data, 4096), back);
        assertEquals(0, FileIo.tryPread(fd, mem.byteBuffer(0x80000, 512), 1 << 21), "end of file");
        try (Fd pathOnly = LibC.open(file.toString(), LibC.O_PATH | LibC.O_CLOEXEC, 0)) {
            // an O_PATH descriptor is open but cannot be read: pread(2) fails with EBADF
            assertEquals(-Errno.EBADF, FileIo.tryPread(pathOnly, mem.byteBuffer(0x80000, 512), 0));
        }
        assertThrows(org.jvmd.virtio.GuestFault.class, () -> mem.byteBuffer(MEM - 100, 4096));
    }

    @Test
    void pwritevAndPreadvMoveGuestMemoryToTheFileAndBack() throws Exception {
        byte[] data = new byte[4096 + 512];
        new Random(7).nextBytes(data);
        mem.write(0x1000, data, 0, 4096);
        mem.write(0x9000, data, 4096, 512);
        IoVec iov = new IoVec(4);
        iov.add(mem, 0x1000, 4096);
        iov.add(mem, 0x9000, 512);
        assertEquals(4608, FileIo.pwritev(fd, iov, 8192));
        byte[] onDisk = Files.readAllBytes(file);
        byte[] slice = java.util.Arrays.copyOfRange(onDisk, 8192, 8192 + 4608);
        assertArrayEquals(data, slice);

        iov.clear();
        iov.add(mem, 0x20000, 512);
        iov.add(mem, 0x30000, 4096);
        assertEquals(4608, FileIo.preadv(fd, iov, 8192));
        byte[] back = new byte[4608];
        mem.read(0x20000, back, 0, 512);
        mem.read(0x30000, back, 512, 4096);
        assertArrayEquals(data, back);
        FileIo.fdatasync(fd);
    }

    @Test
    void punchHoleAndZeroRangeReadBackAsZeroesAndKeepTheSize() throws Exception {
        byte[] ones = new byte[1 << 20];
        java.util.Arrays.fill(ones, (byte) 1);
        Files.write(file, ones);
        FileIo.fallocate(fd, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, 4096, 8192);
        FileIo.fallocate(fd, FileIo.FALLOC_FL_ZERO_RANGE | FileIo.FALLOC_FL_KEEP_SIZE, 65536, 512);
        byte[] now = Files.readAllBytes(file);
        assertEquals(1 << 20, now.length);
        assertEquals(1, now[4095]);
        for (int i = 4096; i < 4096 + 8192; i++) {
            assertEquals(0, now[i], "punched byte " + i);
        }
        assertEquals(1, now[4096 + 8192]);
        for (int i = 65536; i < 65536 + 512; i++) {
            assertEquals(0, now[i], "zeroed byte " + i);
        }
        assertEquals(1, now[65536 + 512]);
    }

    @Test
    void fstatAndSizeTellARegularFile() throws Exception {
        FileIo.Stat s = FileIo.fstat(fd);
        assertTrue(s.isRegular());
        assertFalse(s.isBlockDevice());
        assertEquals(1 << 20, s.size());
        assertEquals(1 << 20, FileIo.size(fd));
        assertEquals(1 << 20, FileIo.lseek(fd, 0, FileIo.SEEK_END));
        try (Fd dir = LibC.open("/", LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC)) {
            SysException e = assertThrows(SysException.class, () -> FileIo.size(dir));
            assertEquals(Errno.EINVAL, e.errno());
        }
    }

    @Test
    void failuresAreNegativeErrnoOrNamedExceptions() throws Exception {
        IoVec iov = new IoVec(1);
        iov.add(mem, 0, 512);
        try (Fd ro = LibC.open(file.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC)) {
            assertEquals(-Errno.EBADF, FileIo.tryPwritev(ro, iov, 0));
            SysException e = assertThrows(SysException.class, () -> FileIo.pwritev(ro, iov, 0));
            assertEquals("pwritev: EBADF (Bad file descriptor)", e.getMessage());
            assertEquals(-Errno.EBADF, FileIo.tryFallocate(ro, FileIo.FALLOC_FL_PUNCH_HOLE
                    | FileIo.FALLOC_FL_KEEP_SIZE, 0, 512));
        }
        assertEquals(-Errno.EINVAL, FileIo.tryPreadv(fd, iov, -512));
        assertEquals(0, FileIo.preadv(fd, iov, 2 << 20), "past the end of the file: 0 bytes");
    }
}
