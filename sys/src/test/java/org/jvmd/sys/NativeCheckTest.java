package org.jvmd.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** Native.check names the failed call and its errno; Native.result hands -errno back. */
class NativeCheckTest {
    @Test
    void failedOpenNamesItsPathAndErrno() {
        SysException e = assertThrows(SysException.class, () -> LibC.open("/nonexistent/jvmd", LibC.O_RDONLY));
        assertEquals("open(/nonexistent/jvmd)", e.call());
        assertEquals(Errno.ENOENT, e.errno());
    }

    @Test
    void failedIoctlNamesItsRequest() throws SysException {
        try (Fd devNull = LibC.open("/dev/null", LibC.O_RDWR)) {
            SysException e = assertThrows(SysException.class,
                    () -> LibC.ioctl(devNull.num(), Ioctls.TUNSETIFF, Native.scratch()));
            assertEquals("ioctl(TUNSETIFF)", e.call());
            assertEquals(Errno.ENOTTY, e.errno());
        }
    }

    @Test
    void failedEpollCtlNamesItsOperationAndDescriptor() throws SysException {
        try (Epoll ep = new Epoll(1); EventFd unwatched = EventFd.create(true)) {
            SysException e = assertThrows(SysException.class,
                    () -> LibC.epollCtl(ep.fd().num(), LibC.EPOLL_CTL_DEL, unwatched.fd().num(), MemorySegment.NULL));
            assertEquals("epoll_ctl(DEL, " + unwatched.fd().num() + ")", e.call());
            assertEquals(Errno.ENOENT, e.errno());
        }
    }

    @Test
    void tryCallsReturnMinusErrnoAndSuccessUnchanged() throws SysException {
        try (Fd pathOnly = LibC.open("/dev/null", LibC.O_PATH | LibC.O_CLOEXEC, 0);
                Fd devNull = LibC.open("/dev/null", LibC.O_RDONLY)) {
            assertEquals(-Errno.EBADF, LibC.tryRead(pathOnly.num(), Native.scratch(), 8));
            assertEquals(0, LibC.tryRead(devNull.num(), Native.scratch(), 8), "end of file");
        }
    }
}
