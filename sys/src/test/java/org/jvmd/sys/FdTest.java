package org.jvmd.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class FdTest {
    static boolean isOpen(int num) {
        return Files.exists(Path.of("/proc/self/fd/" + num));
    }

    @Test
    void doubleCloseClosesOnceAndDoesNotHitAReusedNumber() throws Exception {
        Fd a = LibC.eventfd(0, LibC.EFD_CLOEXEC);
        int n = a.num();
        a.close();
        assertFalse(isOpen(n));
        // The number is free again: the next fd is likely to get it. A second close of `a`
        // must not close the new owner's descriptor.
        try (Fd b = LibC.eventfd(0, LibC.EFD_CLOEXEC)) {
            a.close();
            assertTrue(isOpen(b.num()));
            assertFalse(a.isOpen());
            assertThrows(IllegalStateException.class, a::num);
        }
    }

    @Test
    void releaseHandsTheNumberOverWithoutClosing() throws Exception {
        Fd a = LibC.eventfd(0, LibC.EFD_CLOEXEC);
        int n = a.release();
        a.close();
        assertTrue(isOpen(n));
        Fd.adopt(n).close();
        assertFalse(isOpen(n));
    }

    @Test
    void dupGivesAnIndependentCloseOnExecDescriptor() throws Exception {
        try (EventFd e = EventFd.create(true); Fd d = e.fd().dup()) {
            assertNotEquals(e.fd().num(), d.num());
            assertTrue(LibC.isCloseOnExec(d.num()));
            EventFd.signal(d, 5);
            assertEquals(5, e.read());
            assertEquals(0, e.read());
        }
    }

    @Test
    void errnoMessageNamesTheCall() {
        SysException e = assertThrows(SysException.class,
                () -> LibC.open("/nonexistent/jvmd-test", LibC.O_RDONLY));
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals("open(/nonexistent/jvmd-test): ENOENT (No such file or directory)", e.getMessage());
    }

    @Test
    void ioctlErrorNamesTheRequest() throws Exception {
        try (Fd fd = LibC.eventfd(0, LibC.EFD_CLOEXEC)) {
            SysException e = assertThrows(SysException.class,
                    () -> LibC.ioctl(fd.num(), Ioctls.TUNSETIFF, Native.scratch()));
            assertEquals("ioctl(TUNSETIFF): " + Errno.describe(e.errno()), e.getMessage());
            assertTrue(e.errno() == Errno.ENOTTY || e.errno() == Errno.EINVAL, e.getMessage());
        }
    }

    @Test
    void ioctlNumbersMatchTheKernelHeaders() {
        // Values from include/uapi/linux/if_tun.h as compiled on x86_64.
        assertEquals(0x400454caL, Ioctls.TUNSETIFF);
        assertEquals(0x800454d2L, Ioctls.TUNGETIFF);
        assertEquals(0x400454d0L, Ioctls.TUNSETOFFLOAD);
        assertEquals(0x800454cfL, Ioctls.TUNGETFEATURES);
        assertEquals(0x400454d8L, Ioctls.TUNSETVNETHDRSZ);
        assertEquals(0x800454d7L, Ioctls.TUNGETVNETHDRSZ);
        assertEquals(0x400454cbL, Ioctls.TUNSETPERSIST);
        assertEquals("TUNSETOFFLOAD", Ioctls.name(0x400454d0L));
        assertEquals("0x1234", Ioctls.name(0x1234));
    }

    @Test
    void unknownErrnoStillReads() {
        assertEquals("call: errno 4000", new SysException("call", 4000).getMessage());
    }
}
