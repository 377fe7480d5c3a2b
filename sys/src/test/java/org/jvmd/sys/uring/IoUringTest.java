package org.jvmd.sys.uring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.sys.Errno;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.LibC;
import org.jvmd.sys.NativeBuffer;
import org.jvmd.sys.SysException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A confined ring on this kernel: READV/WRITEV on its fixed file work and signal the
 * eventfd; everything else is refused by the kernel's restrictions (another opcode, a
 * descriptor that is not a fixed file, any io_uring_register after enabling).
 */
class IoUringTest {
    @TempDir
    Path dir;
    private Fd file;
    private Fd other;
    private EventFd done;
    private IoUring ring;

    @BeforeEach
    void open() throws Exception {
        assumeTrue(IoUring.disabledReason() == null, "io_uring disabled by sysctl");
        Path p = dir.resolve("image");
        Files.write(p, new byte[8192]);
        Files.write(dir.resolve("other"), "secret".getBytes());
        file = LibC.open(p.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
        other = LibC.open(dir.resolve("other").toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
        done = EventFd.create(true);
        ring = IoUring.confined(8, java.util.List.of(file), done.fd(),
                new int[] {IoUring.OP_READV, IoUring.OP_WRITEV}, IoUring.SQE_ASYNC);
    }

    @AfterEach
    void close() {
        if (ring != null) {
            ring.close();
        }
        for (AutoCloseable c : new AutoCloseable[] {file, other}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        if (done != null) {
            done.close();
        }
    }

    /** Waits (bounded) for {@code n} completions; returns {user_data, res} of each. */
    private List<long[]> await(int n) throws Exception {
        List<long[]> got = new ArrayList<>();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (got.size() < n && System.nanoTime() < deadline) {
            LibC.poll(done.fd().num(), LibC.POLLIN, 100);
            ring.rings().reap((u, res, flags) -> got.add(new long[] {u, res}));
        }
        assertEquals(n, got.size(), "completions");
        return got;
    }

    @Test
    void writevThenReadvThroughTheFixedFile() throws Exception {
        NativeBuffer out = new NativeBuffer(4096);
        NativeBuffer in = new NativeBuffer(4096);
        byte[] data = new byte[4096];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7 + 3);
        }
        out.put(0, data, 0, data.length);
        IoVec w = new IoVec(2);
        w.add(out, 0, 1000);
        w.add(out, 1000, 3096);
        ring.rings().prepare(IoUring.OP_WRITEV, IoUring.SQE_FIXED_FILE, 0, 4096, w.address(), w.count(), 11);
        assertEquals(1, ring.submit());
        assertEquals(4096, await(1).get(0)[1]);
        IoVec r = new IoVec(1);
        r.add(in, 0, 4096);
        ring.rings().prepare(IoUring.OP_READV, IoUring.SQE_FIXED_FILE | IoUring.SQE_ASYNC, 0, 4096, r.address(),
                r.count(), 12);
        assertEquals(1, ring.submit());
        long[] c = await(1).get(0);
        assertEquals(12, c[0]);
        assertEquals(4096, c[1]);
        byte[] back = new byte[4096];
        in.get(0, back, 0, back.length);
        assertArrayEquals(data, back);
        assertArrayEquals(data, java.util.Arrays.copyOfRange(Files.readAllBytes(dir.resolve("image")), 4096, 8192));
    }

    @Test
    void anOpcodeNotAllowedIsRefused() {
        assertEquals(-Errno.EACCES, ring.probeRefused(IoUring.OP_NOP, file));
        assertEquals(-Errno.EACCES, ring.probeRefused(IoUring.OP_FSYNC, file));
        assertEquals(-Errno.EACCES, ring.probeRefused(IoUring.OP_OPENAT, -100));
    }

    @Test
    void aDescriptorThatIsNotAFixedFileIsRefused() throws Exception {
        NativeBuffer in = new NativeBuffer(64);
        IoVec r = new IoVec(1);
        r.add(in, 0, 64);
        // READV is allowed, but without IOSQE_FIXED_FILE: the raw descriptor of another open file
        ring.rings().prepare(IoUring.OP_READV, 0, other.num(), 0, r.address(), 1, 5);
        assertEquals(1, ring.submit());
        assertEquals(-Errno.EACCES, await(1).get(0)[1]);
        // fixed-file index 1 does not exist: only the image was registered
        ring.rings().prepare(IoUring.OP_READV, IoUring.SQE_FIXED_FILE, 1, 0, r.address(), 1, 6);
        assertEquals(1, ring.submit());
        assertEquals(-Errno.EBADF, await(1).get(0)[1]);
        assertEquals(0, in.getByte(0), "nothing of the other file was read");
    }

    @Test
    void theRingCannotBeChangedOnceEnabled() {
        assertEquals(-Errno.EACCES, ring.tryRegister(IoUring.REGISTER_FILES, new int[] {other.num()}));
        assertEquals(-Errno.EACCES, ring.tryRegister(IoUring.REGISTER_RESTRICTIONS, new int[4]));
    }

    @Test
    void aRingNeedsItsFilesBeforeItRuns() {
        // sanity of the test itself: an unrestricted ring would run the NOP
        try (IoUring open = IoUring.setup(2, 0)) {
            assertEquals(0, open.probeRefused(IoUring.OP_NOP, -1));
        } catch (SysException e) {
            throw new AssertionError(e);
        }
        assertTrue(IoUring.trySetup() >= 0, "no seccomp filter in the test JVM");
    }
}
