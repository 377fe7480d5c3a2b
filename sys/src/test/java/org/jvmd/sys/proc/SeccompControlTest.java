package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvmd.sys.Errno;

/** The control process's profile: accept on the socket it was handed, nothing that opens, makes or reaches anything new. */
class SeccompControlTest {
    private static final Seccomp.Program CONTROL = Seccomp.control().build();
    private static final int EPERM = Seccomp.SECCOMP_RET_ERRNO | Errno.EPERM;

    private static int x86(int nr) {
        return SeccompTest.run(CONTROL, nr, Seccomp.AUDIT_ARCH_X86_64, new long[6]);
    }

    @Test
    void refusesOpenNewSocketsConnectExecIoctlIoUringAndFileChanges() {
        for (int nr : new int[] {Seccomp.Nr.OPEN, Seccomp.Nr.OPENAT, Seccomp.Nr.OPENAT2, Seccomp.Nr.SOCKET,
                Seccomp.Nr.SOCKETPAIR, Seccomp.Nr.CONNECT, Seccomp.Nr.BIND, Seccomp.Nr.LISTEN, Seccomp.Nr.EXECVE,
                Seccomp.Nr.EXECVEAT, Seccomp.Nr.IOCTL, Seccomp.Nr.PTRACE, Seccomp.Nr.IO_URING_SETUP,
                Seccomp.Nr.IO_URING_ENTER, Seccomp.Nr.FTRUNCATE, Seccomp.Nr.FLOCK, Seccomp.Nr.UNLINKAT,
                Seccomp.Nr.RENAMEAT2, Seccomp.Nr.FCHMOD, Seccomp.Nr.FCHOWN, Seccomp.Nr.MKDIRAT}) {
            assertEquals(EPERM, x86(nr), "syscall " + nr);
        }
    }

    @Test
    void allowsAcceptAndWhatAConnectionNeeds() {
        assertEquals(Seccomp.SECCOMP_RET_ALLOW, x86(Seccomp.Nr.ACCEPT));
        assertEquals(Seccomp.SECCOMP_RET_ALLOW, x86(Seccomp.Nr.ACCEPT4));
        assertEquals(EPERM, SeccompTest.run(Seccomp.device(true).build(), Seccomp.Nr.ACCEPT4,
                Seccomp.AUDIT_ARCH_X86_64, new long[6]), "the device profiles keep refusing it");
        // read 0, write 1, close 3, shutdown 48, sendmsg 46, recvmsg 47, getsockopt 55, poll 7, futex 202
        for (int nr : new int[] {0, 1, 3, 48, 46, 47, 55, 7, 202}) {
            assertEquals(Seccomp.SECCOMP_RET_ALLOW, x86(nr), "syscall " + nr);
        }
    }
}
