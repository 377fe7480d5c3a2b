package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvmd.sys.Errno;

/** The disk profile: the device profile's refusals, no file changes but block writes, block I/O allowed. */
class SeccompDiskTest {
    private static final Seccomp.Program DISK = Seccomp.disk().build();
    private static final int EPERM = Seccomp.SECCOMP_RET_ERRNO | Errno.EPERM;

    private static int x86(int nr) {
        return SeccompTest.run(DISK, nr, Seccomp.AUDIT_ARCH_X86_64, new long[6]);
    }

    @Test
    void refusesOpenSocketExecIoctlAndFileChanges() {
        for (int nr : new int[] {Seccomp.Nr.OPEN, Seccomp.Nr.OPENAT, Seccomp.Nr.OPENAT2, Seccomp.Nr.SOCKET,
                Seccomp.Nr.EXECVE, Seccomp.Nr.EXECVEAT, Seccomp.Nr.IOCTL, Seccomp.Nr.IO_URING_SETUP,
                Seccomp.Nr.FTRUNCATE, Seccomp.Nr.TRUNCATE, Seccomp.Nr.FLOCK, Seccomp.Nr.UNLINK,
                Seccomp.Nr.UNLINKAT, Seccomp.Nr.RENAMEAT2, Seccomp.Nr.FCHMOD, Seccomp.Nr.FCHOWN}) {
            assertEquals(EPERM, x86(nr), "syscall " + nr);
        }
    }

    @Test
    void allowsBlockIo() {
        // pread64 17, pwrite64 18, preadv 295, pwritev 296, preadv2 327, pwritev2 328, fdatasync 75,
        // fallocate 285, fstat 5, lseek 8, read 0, write 1, epoll_wait 232, sendmsg 46, recvmsg 47, futex 202
        for (int nr : new int[] {17, 18, 295, 296, 327, 328, 75, 285, 5, 8, 0, 1, 232, 46, 47, 202}) {
            assertEquals(Seccomp.SECCOMP_RET_ALLOW, x86(nr), "syscall " + nr);
        }
    }
}
