package org.jvmd.sys.proc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jvmd.sys.Errno;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/**
 * A small classic-BPF builder for seccomp filters (pledge's counterpart) and its installer.
 *
 * <p>A filter checks the architecture (anything but x86_64, and x32 syscall numbers, are
 * refused), then matches the syscall number against a deny list; everything else is
 * allowed, because a JVM needs a long and changing list of calls (futex, mmap, madvise,
 * clone with CLONE_THREAD, ...) that an allow list would break. Denied calls return an
 * errno (default EPERM) rather than killing, so Java code sees a SysException/IOException.
 *
 * <p>Layout of {@code struct seccomp_data} and the return values: include/uapi/linux/seccomp.h;
 * BPF opcodes: include/uapi/linux/bpf_common.h and filter.h.
 */
public final class Seccomp {
    private Seccomp() {}

    // bpf_common.h
    static final int BPF_LD = 0x00;
    static final int BPF_JMP = 0x05;
    static final int BPF_RET = 0x06;
    static final int BPF_W = 0x00;
    static final int BPF_ABS = 0x20;
    static final int BPF_JEQ = 0x10;
    static final int BPF_JGE = 0x30;
    static final int BPF_JSET = 0x40;
    static final int BPF_K = 0x00;

    // seccomp.h
    public static final int SECCOMP_RET_KILL_PROCESS = 0x80000000;
    public static final int SECCOMP_RET_ERRNO = 0x00050000;
    public static final int SECCOMP_RET_ALLOW = 0x7fff0000;
    static final int SECCOMP_SET_MODE_FILTER = 1;
    static final int SECCOMP_FILTER_FLAG_TSYNC = 1;
    static final int SECCOMP_MODE_FILTER = 2;
    /** offsetof(struct seccomp_data, nr / arch / args[0]). */
    static final int DATA_NR = 0;
    static final int DATA_ARCH = 4;
    static final int DATA_ARGS = 16;
    /** AUDIT_ARCH_X86_64 = EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE (include/uapi/linux/audit.h). */
    public static final int AUDIT_ARCH_X86_64 = 0xC000003E;
    /** __X32_SYSCALL_BIT (arch/x86/include/uapi/asm/unistd.h). */
    static final int X32_SYSCALL_BIT = 0x40000000;
    /** CLONE_THREAD (include/uapi/linux/sched.h). */
    public static final int CLONE_THREAD = 0x00010000;
    /** seccomp(2) on x86_64. */
    static final long SYS_SECCOMP = 317;

    /** x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl) of the calls filters name. */
    public static final class Nr {
        private Nr() {}

        public static final int OPEN = 2;
        public static final int IOCTL = 16;
        public static final int SOCKET = 41;
        public static final int CONNECT = 42;
        public static final int ACCEPT = 43;
        public static final int BIND = 49;
        public static final int LISTEN = 50;
        public static final int SOCKETPAIR = 53;
        public static final int CLONE = 56;
        public static final int FORK = 57;
        public static final int VFORK = 58;
        public static final int EXECVE = 59;
        public static final int CREAT = 85;
        public static final int PTRACE = 101;
        public static final int MKNOD = 133;
        public static final int PERSONALITY = 135;
        public static final int PIVOT_ROOT = 155;
        public static final int CHROOT = 161;
        public static final int MOUNT = 165;
        public static final int UMOUNT2 = 166;
        public static final int REBOOT = 169;
        public static final int INIT_MODULE = 175;
        public static final int DELETE_MODULE = 176;
        public static final int KEXEC_LOAD = 246;
        public static final int ADD_KEY = 248;
        public static final int REQUEST_KEY = 249;
        public static final int KEYCTL = 250;
        public static final int OPENAT = 257;
        public static final int MKNODAT = 259;
        public static final int UNSHARE = 272;
        public static final int ACCEPT4 = 288;
        public static final int PERF_EVENT_OPEN = 298;
        public static final int OPEN_BY_HANDLE_AT = 304;
        public static final int SETNS = 308;
        public static final int PROCESS_VM_READV = 310;
        public static final int PROCESS_VM_WRITEV = 311;
        public static final int FINIT_MODULE = 313;
        public static final int KEXEC_FILE_LOAD = 320;
        public static final int BPF = 321;
        public static final int EXECVEAT = 322;
        public static final int USERFAULTFD = 323;
        public static final int IO_URING_SETUP = 425;
        public static final int IO_URING_ENTER = 426;
        public static final int IO_URING_REGISTER = 427;
        public static final int OPEN_TREE = 428;
        public static final int MOVE_MOUNT = 429;
        public static final int FSOPEN = 430;
        public static final int FSCONFIG = 431;
        public static final int FSMOUNT = 432;
        public static final int CLONE3 = 435;
        public static final int OPENAT2 = 437;
        // The file-changing calls the disk profile adds.
        public static final int FLOCK = 73;
        public static final int TRUNCATE = 76;
        public static final int FTRUNCATE = 77;
        public static final int RENAME = 82;
        public static final int MKDIR = 83;
        public static final int RMDIR = 84;
        public static final int LINK = 86;
        public static final int UNLINK = 87;
        public static final int SYMLINK = 88;
        public static final int CHMOD = 90;
        public static final int FCHMOD = 91;
        public static final int CHOWN = 92;
        public static final int FCHOWN = 93;
        public static final int LCHOWN = 94;
        public static final int MKDIRAT = 258;
        public static final int FCHOWNAT = 260;
        public static final int UNLINKAT = 263;
        public static final int RENAMEAT = 264;
        public static final int LINKAT = 265;
        public static final int SYMLINKAT = 266;
        public static final int FCHMODAT = 268;
        public static final int RENAMEAT2 = 316;
    }

    /** One compiled filter: {@code struct sock_filter[]} as (code, jt, jf, k) tuples. */
    public record Program(int[] code, byte[] jt, byte[] jf, int[] k) {
        public int length() {
            return code.length;
        }
    }

    /** What a filter denies. Build with {@link #builder()} or start from {@link #device(boolean)}. */
    public static final class Builder {
        private final Map<Integer, Integer> deny = new LinkedHashMap<>();
        private int cloneErrno = -1;

        /** Denies syscall {@code nr} with {@code errno}. */
        public Builder deny(int nr, int errno) {
            if (nr == Nr.CLONE) {
                throw new IllegalArgumentException("use denyProcessClone() for clone");
            }
            deny.put(nr, errno);
            return this;
        }

        public Builder deny(int... nrs) {
            for (int nr : nrs) {
                deny(nr, Errno.EPERM);
            }
            return this;
        }

        /** Takes {@code nr} off the deny list again (a profile built on another). */
        public Builder allow(int nr) {
            deny.remove(nr);
            return this;
        }

        /**
         * Denies clone(2) unless its flags have CLONE_THREAD (new threads of this process
         * stay possible; new processes do not), and makes clone3(2) fail with ENOSYS so
         * that glibc falls back to clone, whose flags a filter can read (clone3 passes them
         * in memory, which seccomp cannot inspect).
         */
        public Builder denyProcessClone() {
            cloneErrno = Errno.EPERM;
            deny.put(Nr.CLONE3, Errno.ENOSYS);
            return this;
        }

        public Program build() {
            List<int[]> ins = new ArrayList<>(); // {code, jt, jf, k}
            ins.add(new int[] {BPF_LD | BPF_W | BPF_ABS, 0, 0, DATA_ARCH});
            ins.add(new int[] {BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64});
            ins.add(new int[] {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS});
            ins.add(new int[] {BPF_LD | BPF_W | BPF_ABS, 0, 0, DATA_NR});
            // x32 ABI numbers would alias the x86_64 ones the list names
            ins.add(new int[] {BPF_JMP | BPF_JSET | BPF_K, 0, 1, X32_SYSCALL_BIT});
            ins.add(new int[] {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | Errno.ENOSYS});
            for (Map.Entry<Integer, Integer> e : deny.entrySet()) {
                ins.add(new int[] {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, e.getKey()});
                ins.add(new int[] {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | (e.getValue() & 0xffff)});
            }
            if (cloneErrno >= 0) {
                ins.add(new int[] {BPF_JMP | BPF_JEQ | BPF_K, 0, 4, Nr.CLONE});
                // args[0] is clone's flags (x86_64 argument order); its low 32 bits are at
                // DATA_ARGS on a little-endian machine.
                ins.add(new int[] {BPF_LD | BPF_W | BPF_ABS, 0, 0, DATA_ARGS});
                ins.add(new int[] {BPF_JMP | BPF_JSET | BPF_K, 0, 1, CLONE_THREAD});
                ins.add(new int[] {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW});
                ins.add(new int[] {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | cloneErrno});
            }
            ins.add(new int[] {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW});
            int n = ins.size();
            if (n > 4096) { // BPF_MAXINSNS
                throw new IllegalStateException("seccomp filter too long: " + n);
            }
            int[] code = new int[n];
            byte[] jt = new byte[n];
            byte[] jf = new byte[n];
            int[] k = new int[n];
            for (int i = 0; i < n; i++) {
                int[] x = ins.get(i);
                code[i] = x[0];
                jt[i] = (byte) x[1];
                jf[i] = (byte) x[2];
                k[i] = x[3];
            }
            return new Program(code, jt, jf, k);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The device-process profile: no exec, no new processes, no files, no sockets, no
     * mounts or namespaces, no tracing, no kernel-module or BPF loading, no io_uring
     * (which would bypass the filter); and, if {@code denyIoctl}, no ioctl at all
     * (vionet: TUNSETOFFLOAD is applied by vmd on its behalf).
     */
    public static Builder device(boolean denyIoctl) {
        Builder b = builder()
                .deny(Nr.EXECVE, Nr.EXECVEAT, Nr.FORK, Nr.VFORK)
                .denyProcessClone()
                .deny(Nr.OPEN, Nr.OPENAT, Nr.OPENAT2, Nr.CREAT, Nr.OPEN_BY_HANDLE_AT)
                .deny(Nr.SOCKET, Nr.SOCKETPAIR, Nr.CONNECT, Nr.BIND, Nr.LISTEN, Nr.ACCEPT, Nr.ACCEPT4)
                .deny(Nr.PTRACE, Nr.PROCESS_VM_READV, Nr.PROCESS_VM_WRITEV, Nr.PERSONALITY)
                .deny(Nr.MOUNT, Nr.UMOUNT2, Nr.PIVOT_ROOT, Nr.CHROOT, Nr.UNSHARE, Nr.SETNS)
                .deny(Nr.OPEN_TREE, Nr.MOVE_MOUNT, Nr.FSOPEN, Nr.FSCONFIG, Nr.FSMOUNT)
                .deny(Nr.MKNOD, Nr.MKNODAT, Nr.REBOOT, Nr.KEXEC_LOAD, Nr.KEXEC_FILE_LOAD)
                .deny(Nr.INIT_MODULE, Nr.FINIT_MODULE, Nr.DELETE_MODULE, Nr.BPF, Nr.PERF_EVENT_OPEN)
                .deny(Nr.USERFAULTFD, Nr.ADD_KEY, Nr.REQUEST_KEY, Nr.KEYCTL)
                .deny(Nr.IO_URING_SETUP, Nr.IO_URING_ENTER, Nr.IO_URING_REGISTER);
        if (denyIoctl) {
            b.deny(Nr.IOCTL);
        }
        return b;
    }

    /**
     * The disk-process profile (vioblk-proc): {@link #device(boolean) device(true)} — no
     * open, socket, exec or ioctl (its image size was read before the drop) — but
     * io_uring_enter allowed: vioblk may own one confined ring, made before the drop
     * ({@link org.jvmd.sys.uring.IoUring#confined}: only READV/WRITEV on its registered image
     * descriptors, no register opcode), whose SQEs it submits; io_uring_setup and
     * io_uring_register stay refused, so no new ring and no change to that one — and nothing that changes a
     * file other than by writing its blocks: no ftruncate (the guest's disk keeps its
     * size; a qcow2 image grows only by pwrite of new clusters past its end, and its
     * library never truncates in the disk process), no flock (the image's lock is vmd's, shared through the open file description,
     * and must not be released from here), no rename, link, unlink, mkdir, chmod or chown.
     * What remains for block I/O: preadv/pwritev (pread/pwrite for qcow2), fdatasync, fallocate, eventfd reads and
     * writes, epoll, sendmsg/recvmsg on the channel, and what the JVM itself needs.
     */
    public static Builder disk() {
        return noFileChanges(device(true).allow(Nr.IO_URING_ENTER));
    }

    /** No call that changes a file other than by writing it: no truncate, flock, rename, link, unlink, mkdir, chmod, chown. */
    private static Builder noFileChanges(Builder b) {
        return b.deny(Nr.FLOCK, Nr.TRUNCATE, Nr.FTRUNCATE)
                .deny(Nr.RENAME, Nr.RENAMEAT, Nr.RENAMEAT2, Nr.LINK, Nr.LINKAT, Nr.SYMLINK, Nr.SYMLINKAT)
                .deny(Nr.UNLINK, Nr.UNLINKAT, Nr.MKDIR, Nr.MKDIRAT, Nr.RMDIR)
                .deny(Nr.CHMOD, Nr.FCHMOD, Nr.FCHMODAT, Nr.CHOWN, Nr.FCHOWN, Nr.LCHOWN, Nr.FCHOWNAT);
    }

    /**
     * The control-process profile (vmd's control process): {@link #device(boolean)
     * device(true)} — no open, new socket, connect, bind, exec or ioctl — but accept and
     * accept4 allowed, on the listening socket it was handed before the drop. What it does:
     * accept vmctl's connections, read their credentials (getsockopt SO_PEERCRED), read and
     * write them, and talk to vmd's parent over its channel (sendmsg/recvmsg).
     */
    public static Builder control() {
        return noFileChanges(device(true).allow(Nr.ACCEPT).allow(Nr.ACCEPT4));
    }

    /**
     * Installs {@code p} on every thread of this process (SECCOMP_FILTER_FLAG_TSYNC: JVM
     * threads that already exist get it too; new threads inherit it). Sets no_new_privs
     * first, as an unprivileged process must; TSYNC carries no_new_privs to every thread.
     */
    public static void install(Program p) throws SysException {
        LibC.prctl(LibC.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, "prctl(PR_SET_NO_NEW_PRIVS)");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment filter = a.allocate(8L * p.length(), 8);
            for (int i = 0; i < p.length(); i++) {
                long at = 8L * i;
                filter.set(JAVA_SHORT, at, (short) p.code()[i]);
                filter.set(JAVA_BYTE, at + 2, p.jt()[i]);
                filter.set(JAVA_BYTE, at + 3, p.jf()[i]);
                filter.set(JAVA_INT, at + 4, p.k()[i]);
            }
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            MemorySegment prog = a.allocate(16, 8);
            prog.set(JAVA_SHORT, 0, (short) p.length());
            prog.set(ADDRESS, 8, filter);
            long r = LibC.syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, prog.address(),
                    "seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)");
            if (r != 0) {
                throw new IllegalStateException("seccomp TSYNC: thread " + r + " could not be synchronized");
            }
        }
    }

    /** This thread's seccomp mode (0 none, 2 filter). */
    public static int mode() throws SysException {
        return LibC.prctl(LibC.PR_GET_SECCOMP, 0, 0, 0, 0, "prctl(PR_GET_SECCOMP)");
    }
}
