package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.jvmd.sys.Errno;

/** Runs built filters through a small classic-BPF interpreter, as the kernel would. */
class SeccompTest {
    private static final Seccomp.Program VIONET = Seccomp.device(true).build();
    private static final Seccomp.Program VMM = Seccomp.device(false).build();
    private static final int ALLOW = Seccomp.SECCOMP_RET_ALLOW;
    private static final int EPERM = Seccomp.SECCOMP_RET_ERRNO | Errno.EPERM;
    private static final int ENOSYS = Seccomp.SECCOMP_RET_ERRNO | Errno.ENOSYS;

    /** Evaluates {@code p} on a {@code struct seccomp_data} (nr, arch, args). */
    static int run(Seccomp.Program p, int nr, int arch, long[] args) {
        int a = 0;
        int pc = 0;
        for (int steps = 0; steps < 10_000; steps++) {
            assertTrue(pc >= 0 && pc < p.length(), "jump out of the program: " + pc);
            int code = p.code()[pc];
            int k = p.k()[pc];
            switch (code) {
                case Seccomp.BPF_LD | Seccomp.BPF_W | Seccomp.BPF_ABS -> {
                    a = switch (k) {
                        case Seccomp.DATA_NR -> nr;
                        case Seccomp.DATA_ARCH -> arch;
                        default -> {
                            int i = (k - Seccomp.DATA_ARGS) / 8;
                            boolean high = (k - Seccomp.DATA_ARGS) % 8 == 4;
                            yield (int) (high ? args[i] >>> 32 : args[i]);
                        }
                    };
                    pc++;
                }
                case Seccomp.BPF_JMP | Seccomp.BPF_JEQ | Seccomp.BPF_K ->
                        pc += 1 + (a == k ? Byte.toUnsignedInt(p.jt()[pc]) : Byte.toUnsignedInt(p.jf()[pc]));
                case Seccomp.BPF_JMP | Seccomp.BPF_JSET | Seccomp.BPF_K ->
                        pc += 1 + ((a & k) != 0 ? Byte.toUnsignedInt(p.jt()[pc]) : Byte.toUnsignedInt(p.jf()[pc]));
                case Seccomp.BPF_RET | Seccomp.BPF_K -> {
                    return k;
                }
                default -> throw new AssertionError("unexpected opcode " + code);
            }
        }
        throw new AssertionError("no return");
    }

    private static int x86(Seccomp.Program p, int nr, long... args) {
        long[] a = new long[6];
        System.arraycopy(args, 0, a, 0, args.length);
        return run(p, nr, Seccomp.AUDIT_ARCH_X86_64, a);
    }

    @Example
    void theDeviceProfileRefusesWhatTheIssueNames() {
        for (int nr : new int[] {Seccomp.Nr.EXECVE, Seccomp.Nr.EXECVEAT, Seccomp.Nr.FORK, Seccomp.Nr.VFORK,
                Seccomp.Nr.SOCKET, Seccomp.Nr.CONNECT, Seccomp.Nr.BIND, Seccomp.Nr.OPEN, Seccomp.Nr.OPENAT,
                Seccomp.Nr.OPENAT2, Seccomp.Nr.PTRACE, Seccomp.Nr.MOUNT, Seccomp.Nr.IO_URING_SETUP}) {
            assertEquals(EPERM, x86(VMM, nr), "syscall " + nr);
        }
        assertEquals(ALLOW, x86(VMM, Seccomp.Nr.IOCTL));
        assertEquals(EPERM, x86(VIONET, Seccomp.Nr.IOCTL));
        for (int nr : new int[] {0, 1, 3, 9, 11, 19, 20, 202 /* futex */, 232 /* epoll_wait */, 46 /* sendmsg */,
                47 /* recvmsg */, 28 /* madvise */, 14 /* rt_sigprocmask */, 231 /* exit_group */}) {
            assertEquals(ALLOW, x86(VIONET, nr), "syscall " + nr);
        }
    }

    @Example
    void cloneMakesThreadsButNotProcessesAndClone3FallsBackToIt() {
        long pthreadFlags = 0x3d0f00; // glibc pthread_create: VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|*TID
        assertEquals(ALLOW, x86(VIONET, Seccomp.Nr.CLONE, pthreadFlags));
        assertEquals(EPERM, x86(VIONET, Seccomp.Nr.CLONE, 0x11 /* fork(): SIGCHLD */));
        assertEquals(EPERM, x86(VIONET, Seccomp.Nr.CLONE, 0x4111 /* posix_spawn: VM|VFORK|SIGCHLD */));
        // CLONE_THREAD in the high half of the 64-bit argument is not CLONE_THREAD
        assertEquals(EPERM, x86(VIONET, Seccomp.Nr.CLONE, (long) Seccomp.CLONE_THREAD << 32));
        assertEquals(ENOSYS, x86(VIONET, Seccomp.Nr.CLONE3));
    }

    @Example
    void otherArchitecturesAreKilledAndX32NumbersRefused() {
        assertEquals(Seccomp.SECCOMP_RET_KILL_PROCESS, run(VIONET, 0, 0x40000003 /* i386 */, new long[6]));
        assertEquals(ENOSYS, x86(VIONET, 0x40000000 | Seccomp.Nr.EXECVE));
        assertEquals(ENOSYS, x86(VIONET, 0x40000000));
    }

    private static final Set<Integer> DENIED = Set.of(2, 16, 41, 42, 43, 49, 50, 53, 57, 58, 59, 85, 101, 133, 135,
            155, 161, 165, 166, 169, 175, 176, 246, 248, 249, 250, 257, 259, 272, 288, 298, 304, 308, 310, 311,
            313, 320, 321, 322, 323, 425, 426, 427, 428, 429, 430, 431, 432, 437);

    /** Every syscall number and argument: the filter answers exactly the model's verdict. */
    @Property(tries = 2000)
    void verdictMatchesTheModel(@ForAll @IntRange(min = 0, max = 600) int nr, @ForAll long flags) {
        int expected;
        if (nr == Seccomp.Nr.CLONE) {
            expected = (flags & Seccomp.CLONE_THREAD) != 0 ? ALLOW : EPERM;
        } else if (nr == Seccomp.Nr.CLONE3) {
            expected = ENOSYS;
        } else {
            expected = DENIED.contains(nr) ? EPERM : ALLOW;
        }
        assertEquals(expected, x86(VIONET, nr, flags));
    }

    @Example
    void customFiltersCarryTheirErrno() {
        Seccomp.Program p = Seccomp.builder().deny(Seccomp.Nr.SOCKET, Errno.EACCES).build();
        assertEquals(Seccomp.SECCOMP_RET_ERRNO | Errno.EACCES, x86(p, Seccomp.Nr.SOCKET));
        assertEquals(ALLOW, x86(p, Seccomp.Nr.CLONE, 0x11));
        assertEquals(ALLOW, x86(p, Seccomp.Nr.OPEN));
    }
}
