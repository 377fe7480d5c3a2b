package org.jvmd.sys.uring;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.util.List;
import java.nio.file.Path;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.Native;
import org.jvmd.sys.SysException;

/**
 * An io_uring instance (io_uring(7)) made to be confined: created disabled, given its
 * files and its restrictions, then enabled, all before the owner drops its privileges.
 *
 * <h2>Why a confined ring is safe behind a seccomp filter</h2>
 * A ring's operations are not system calls: seccomp never sees them, so an ordinary ring
 * could open files or connect sockets a filter refuses. A ring made by {@link #confined}
 * cannot: it is created with IORING_SETUP_R_DISABLED (no SQE is accepted), its files are
 * registered (the image descriptors, and nothing else), then IORING_REGISTER_RESTRICTIONS
 * allows only the given SQE opcodes (here READV/WRITEV), requires IOSQE_FIXED_FILE on
 * every SQE (so an operation reaches only a registered file) and allows no register
 * opcode at all (so the file table and the restrictions can never change again: every
 * later io_uring_register fails with EACCES), and only then IORING_REGISTER_ENABLE_RINGS
 * starts it (Linux io_uring/register.c: {@code io_register_restrictions},
 * {@code io_check_restriction}; an SQE that breaks them completes with -EACCES). The owner's
 * seccomp filter then allows io_uring_enter, which only runs SQEs on this ring, and keeps
 * refusing io_uring_setup and io_uring_register: no new ring, no change to this one. Work
 * the kernel punts to io-wq runs with the submitter's credentials captured at submission
 * (after the drop: the unprivileged user).
 *
 * <p>Raw system calls (glibc has no wrappers): io_uring_setup 425, io_uring_enter 426,
 * io_uring_register 427 (arch/x86/entry/syscalls/syscall_64.tbl). Not thread-safe: one
 * thread submits and reaps.
 */
public final class IoUring implements AutoCloseable {
    static final long SYS_IO_URING_SETUP = 425;
    static final long SYS_IO_URING_ENTER = 426;
    static final long SYS_IO_URING_REGISTER = 427;

    // include/uapi/linux/io_uring.h
    /** IORING_SETUP_R_DISABLED: the ring starts disabled, until IORING_REGISTER_ENABLE_RINGS. */
    public static final int SETUP_R_DISABLED = 1 << 6;
    public static final int SETUP_CQSIZE = 1 << 3;
    public static final int SETUP_CLAMP = 1 << 4;
    public static final int FEAT_SINGLE_MMAP = 1;
    public static final int OP_NOP = 0;
    public static final int OP_READV = 1;
    public static final int OP_WRITEV = 2;
    public static final int OP_FSYNC = 3;
    public static final int OP_OPENAT = 18;
    public static final int SQE_FIXED_FILE = 1;
    public static final int SQE_ASYNC = 1 << 4;
    public static final int REGISTER_FILES = 2;
    static final int REGISTER_EVENTFD = 4;
    public static final int REGISTER_RESTRICTIONS = 11;
    static final int REGISTER_ENABLE_RINGS = 12;
    static final int RESTRICTION_SQE_OP = 1;
    static final int RESTRICTION_SQE_FLAGS_ALLOWED = 2;
    static final int RESTRICTION_SQE_FLAGS_REQUIRED = 3;
    static final long OFF_SQ_RING = 0;
    static final long OFF_CQ_RING = 0x8000000L;
    static final long OFF_SQES = 0x10000000L;
    /** MAP_POPULATE (include/uapi/asm-generic/mman-common.h... x86: 0x8000). */
    static final int MAP_POPULATE = 0x8000;
    /** sizeof(struct io_uring_params) and the offsets this class reads in it. */
    static final int PARAMS_BYTES = 120;
    static final long P_SQ_ENTRIES = 0;
    static final long P_CQ_ENTRIES = 4;
    static final long P_FLAGS = 8;
    static final long P_FEATURES = 20;
    static final long P_SQ_OFF = 40;
    static final long P_CQ_OFF = 80;
    /** /proc/sys/kernel/io_uring_disabled: 0 allowed, 1 only for io_uring_group, 2 nobody. */
    static final Path DISABLED_SYSCTL = Path.of("/proc/sys/kernel/io_uring_disabled");

    private static final class Syscall6 {
        static final MethodHandle H = Native.downcall("syscall",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                        JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
    }

    private final Fd fd;
    private final MemorySegment ringMap;
    private final long ringBytes;
    private final MemorySegment sqeMap;
    private final long sqeBytes;
    private final UringRings rings;

    private IoUring(Fd fd, MemorySegment ringMap, long ringBytes, MemorySegment sqeMap, long sqeBytes,
            UringRings rings) {
        this.fd = fd;
        this.ringMap = ringMap;
        this.ringBytes = ringBytes;
        this.sqeMap = sqeMap;
        this.sqeBytes = sqeBytes;
        this.rings = rings;
    }

    /** The raw syscall: the result, or -errno (no exception: EINTR and EAGAIN are normal here). */
    static long syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
        MemorySegment st = Native.state();
        long r;
        try {
            r = (long) Syscall6.H.invokeExact(st, nr, a1, a2, a3, a4, a5, a6);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r < 0 ? -Native.errno(st) : r;
    }

    /**
     * Why this kernel will not give us a ring (the sysctl), or null when it may. The setup
     * itself gives the definite answer (ENOSYS, EPERM under a container's filter).
     */
    public static String disabledReason() {
        try {
            String v = Files.readString(DISABLED_SYSCTL).trim();
            return "0".equals(v) ? null : "kernel.io_uring_disabled = " + v;
        } catch (java.io.IOException e) {
            return null;   // an older kernel without the sysctl
        }
    }

    /**
     * A ring of {@code entries} SQ entries (CQ twice that), started disabled; registers
     * {@code files} as its fixed files (index i is {@code files.get(i)}) and {@code eventFd}
     * (if not null) as its completion eventfd; allows only {@code opcodes}, with the SQE
     * flags {@code allowedFlags} on top of the required IOSQE_FIXED_FILE; no register
     * opcode; then enables it. Fails (closing what it made) if the kernel has no io_uring
     * or no restrictions (a kernel older than 5.10: EINVAL on R_DISABLED).
     */
    public static IoUring confined(int entries, List<Fd> files, Fd eventFd, int[] opcodes, int allowedFlags)
            throws SysException {
        IoUring ring = setup(entries, SETUP_R_DISABLED | SETUP_CQSIZE | SETUP_CLAMP);
        try {
            ring.register(REGISTER_FILES, files.stream().mapToInt(Fd::num).toArray(), "io_uring_register(REGISTER_FILES)");
            if (eventFd != null) {
                ring.register(REGISTER_EVENTFD, new int[] {eventFd.num()}, "io_uring_register(REGISTER_EVENTFD)");
            }
            ring.restrict(opcodes, allowedFlags);
            ring.register(REGISTER_ENABLE_RINGS, null, "io_uring_register(ENABLE_RINGS)");
            return ring;
        } catch (SysException | RuntimeException e) {
            ring.close();
            throw e;
        }
    }

    /** io_uring_setup(2) and the mmaps of its rings. */
    static IoUring setup(int entries, int flags) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(PARAMS_BYTES, 8);
            p.set(JAVA_INT, P_FLAGS, flags);
            p.set(JAVA_INT, P_CQ_ENTRIES, entries * 2);
            long r = syscall(SYS_IO_URING_SETUP, entries, p.address(), 0, 0, 0, 0);
            if (r < 0) {
                throw new SysException("io_uring_setup", (int) -r);
            }
            Fd fd = Fd.adopt((int) r);
            try {
                int features = p.get(JAVA_INT, P_FEATURES);
                if ((features & FEAT_SINGLE_MMAP) == 0) {
                    throw new SysException("io_uring_setup (no IORING_FEAT_SINGLE_MMAP: kernel older than 5.4)",
                            Errno.EINVAL);
                }
                int sqEntries = p.get(JAVA_INT, P_SQ_ENTRIES);
                int cqEntries = p.get(JAVA_INT, P_CQ_ENTRIES);
                // io_sqring_offsets: head, tail, ring_mask, ring_entries, flags, dropped, array
                long sq = P_SQ_OFF;
                long sqHead = p.get(JAVA_INT, sq);
                long sqTail = p.get(JAVA_INT, sq + 4);
                long sqMask = p.get(JAVA_INT, sq + 8);
                long sqRingEntries = p.get(JAVA_INT, sq + 12);
                long sqArray = p.get(JAVA_INT, sq + 24);
                // io_cqring_offsets: head, tail, ring_mask, ring_entries, overflow, cqes
                long cq = P_CQ_OFF;
                long cqHead = p.get(JAVA_INT, cq);
                long cqTail = p.get(JAVA_INT, cq + 4);
                long cqMask = p.get(JAVA_INT, cq + 8);
                long cqes = p.get(JAVA_INT, cq + 20);
                long ringBytes = Math.max(sqArray + 4L * sqEntries, cqes + (long) UringRings.CQE_BYTES * cqEntries);
                MemorySegment ringMap = LibC.mmap(ringBytes, LibC.PROT_READ | LibC.PROT_WRITE,
                        LibC.MAP_SHARED | MAP_POPULATE, fd.num(), OFF_SQ_RING);
                long sqeBytes = (long) UringRings.SQE_BYTES * sqEntries;
                MemorySegment sqeMap;
                try {
                    sqeMap = LibC.mmap(sqeBytes, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | MAP_POPULATE,
                            fd.num(), OFF_SQES);
                } catch (SysException e) {
                    LibC.munmap(ringMap, ringBytes);
                    throw e;
                }
                UringRings rings = new UringRings(ringMap, sqHead, sqTail, sqMask, sqRingEntries, sqArray, sqeMap,
                        ringMap, cqHead, cqTail, cqMask, cqes);
                return new IoUring(fd, ringMap, ringBytes, sqeMap, sqeBytes, rings);
            } catch (SysException | RuntimeException e) {
                fd.close();
                throw e;
            }
        }
    }

    /** io_uring_register(2) with an int array argument (or none). */
    void register(int opcode, int[] args, String call) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            long addr = 0;
            int n = 0;
            if (args != null) {
                MemorySegment m = a.allocate(4L * Math.max(1, args.length), 8);
                for (int i = 0; i < args.length; i++) {
                    m.set(JAVA_INT, 4L * i, args[i]);
                }
                addr = m.address();
                n = args.length;
            }
            long r = syscall(SYS_IO_URING_REGISTER, fd.num(), opcode, addr, n, 0, 0);
            if (r < 0) {
                throw new SysException(call, (int) -r);
            }
        }
    }

    /** IORING_REGISTER_RESTRICTIONS: the opcodes, the flags allowed, IOSQE_FIXED_FILE required, no register op. */
    void restrict(int[] opcodes, int allowedFlags) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            int n = opcodes.length + 2;
            // struct io_uring_restriction { __u16 opcode; __u8 register_op|sqe_op|sqe_flags; __u8 resv; __u32 resv2[3]; }
            MemorySegment m = a.allocate(16L * n, 8);
            for (int i = 0; i < opcodes.length; i++) {
                m.set(JAVA_SHORT, 16L * i, (short) RESTRICTION_SQE_OP);
                m.set(JAVA_BYTE, 16L * i + 2, (byte) opcodes[i]);
            }
            m.set(JAVA_SHORT, 16L * opcodes.length, (short) RESTRICTION_SQE_FLAGS_ALLOWED);
            m.set(JAVA_BYTE, 16L * opcodes.length + 2, (byte) allowedFlags);
            m.set(JAVA_SHORT, 16L * (opcodes.length + 1), (short) RESTRICTION_SQE_FLAGS_REQUIRED);
            m.set(JAVA_BYTE, 16L * (opcodes.length + 1) + 2, (byte) SQE_FIXED_FILE);
            long r = syscall(SYS_IO_URING_REGISTER, fd.num(), REGISTER_RESTRICTIONS, m.address(), n, 0, 0);
            if (r < 0) {
                throw new SysException("io_uring_register(REGISTER_RESTRICTIONS)", (int) -r);
            }
        }
    }

    /** The rings (SQ fill, CQ reap) of this instance. */
    public UringRings rings() {
        return rings;
    }

    /**
     * Publishes the SQ tail and hands every unsubmitted entry to the kernel with one
     * io_uring_enter (no waiting: completions are reaped from the CQ when the eventfd says so).
     * Returns the entries consumed, or -errno (EINTR, EAGAIN, EBUSY: try again after reaping).
     */
    public int submit() {
        int n = rings.unsubmitted();
        if (n == 0) {
            return 0;
        }
        rings.publish();
        long r = syscall(SYS_IO_URING_ENTER, fd.num(), n, 0, 0, 0, 0);
        if (r > 0) {
            rings.submitted((int) r);
        }
        return (int) r;
    }

    /** Tries an io_uring_register opcode on the enabled ring: -errno, or its result (tests of the confinement). */
    public long tryRegister(int opcode, int[] args) {
        try {
            register(opcode, args, "io_uring_register(" + opcode + ")");
            return 0;
        } catch (SysException e) {
            return -e.errno();
        }
    }

    /** Tries io_uring_setup: a new ring's descriptor (closed at once), or -errno (tests of a seccomp filter). */
    public static long trySetup() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(PARAMS_BYTES, 8);
            long r = syscall(SYS_IO_URING_SETUP, 2, p.address(), 0, 0, 0, 0);
            if (r >= 0) {
                Fd.adopt((int) r).close();
            }
            return r;
        }
    }

    public Fd fd() {
        return fd;
    }

    /**
     * Submits one SQE of {@code opcode} on raw descriptor {@code rawFd} without
     * IOSQE_FIXED_FILE, waits for its completion, and returns its result: on a confined ring,
     * -EACCES (the restrictions refuse it before it runs). Reaps every completion posted
     * before it too, so call it with nothing else in flight.
     */
    public int probeRefused(int opcode, Fd fd) {
        return probeRefused(opcode, fd.num());
    }

    /** {@link #probeRefused(int, Fd)} with a raw descriptor number (AT_FDCWD, -1, ...). */
    public int probeRefused(int opcode, int rawFd) {
        rings.prepare(opcode, 0, rawFd, 0, 0, 0, PROBE);
        rings.publish();
        long r = syscall(SYS_IO_URING_ENTER, fd.num(), rings.unsubmitted(), 1, ENTER_GETEVENTS, 0, 0);
        if (r < 0) {
            return (int) r;
        }
        rings.submitted((int) r);
        int[] res = {Integer.MIN_VALUE};
        rings.reap((userData, result, flags) -> {
            if (userData == PROBE) {
                res[0] = result;
            }
        });
        return res[0];
    }

    private static final long PROBE = -1L;
    /** IORING_ENTER_GETEVENTS: wait for min_complete completions. */
    static final int ENTER_GETEVENTS = 1;

    @Override
    public void close() {
        if (!fd.isOpen()) {
            return;
        }
        try {
            LibC.munmap(sqeMap, sqeBytes);
            LibC.munmap(ringMap, ringBytes);
        } catch (SysException e) {
            throw new IllegalStateException(e);
        } finally {
            fd.close();
        }
    }
}
