package org.jvmd.sys.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.List;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.Ioctls;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/**
 * A vCPU fd with its mmap'd struct kvm_run (api.rst, "vcpu ioctls" and "The kvm_run
 * structure"; offsets from linux/kvm.h for x86-64). {@link #run()} and the exit accessors
 * allocate nothing: they are the vCPU thread's hot path.
 *
 * <p>Threading: one vCPU thread calls {@link #run()} and reads the exit; any thread may
 * {@link #kick()} it. Close only after the vCPU thread has stopped.
 */
public final class VcpuFd implements AutoCloseable {
    // Exit reasons (linux/kvm.h KVM_EXIT_*).
    public static final int EXIT_UNKNOWN = 0;
    public static final int EXIT_EXCEPTION = 1;
    public static final int EXIT_IO = 2;
    public static final int EXIT_HYPERCALL = 3;
    public static final int EXIT_DEBUG = 4;
    public static final int EXIT_HLT = 5;
    public static final int EXIT_MMIO = 6;
    public static final int EXIT_IRQ_WINDOW_OPEN = 7;
    public static final int EXIT_SHUTDOWN = 8;
    public static final int EXIT_FAIL_ENTRY = 9;
    public static final int EXIT_INTR = 10;
    public static final int EXIT_NMI = 16;
    public static final int EXIT_INTERNAL_ERROR = 17;
    public static final int EXIT_SYSTEM_EVENT = 24;
    // kvm_run.io.direction
    public static final int IO_IN = 0;
    public static final int IO_OUT = 1;
    // kvm_run.system_event.type
    public static final int SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int SYSTEM_EVENT_RESET = 2;
    public static final int SYSTEM_EVENT_CRASH = 3;
    // kvm_mp_state.mp_state
    public static final int MP_STATE_RUNNABLE = 0;
    public static final int MP_STATE_UNINITIALIZED = 1;
    public static final int MP_STATE_INIT_RECEIVED = 2;
    public static final int MP_STATE_HALTED = 3;
    public static final int MP_STATE_SIPI_RECEIVED = 4;
    /** struct kvm_lapic_state: the APIC register page, 1 KiB. */
    public static final int LAPIC_BYTES = 1024;

    // struct kvm_run offsets.
    private static final long OFF_IMMEDIATE_EXIT = 1;
    private static final long OFF_EXIT_REASON = 8;
    private static final long OFF_UNION = 32;
    private static final long OFF_IO_DIRECTION = OFF_UNION;
    private static final long OFF_IO_SIZE = OFF_UNION + 1;
    private static final long OFF_IO_PORT = OFF_UNION + 2;
    private static final long OFF_IO_COUNT = OFF_UNION + 4;
    private static final long OFF_IO_DATA_OFFSET = OFF_UNION + 8;
    private static final long OFF_MMIO_PHYS_ADDR = OFF_UNION;
    private static final long OFF_MMIO_DATA = OFF_UNION + 8;
    private static final long OFF_MMIO_LEN = OFF_UNION + 16;
    private static final long OFF_MMIO_IS_WRITE = OFF_UNION + 20;
    private static final VarHandle BYTE_VOLATILE = JAVA_BYTE.varHandle();

    private final Fd fd;
    private final int id;
    private final MemorySegment run;
    private final long runSize;
    private final Object kickLock = new Object();
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
    private int tid;

    VcpuFd(Fd fd, int id, int mmapSize) throws SysException {
        this.fd = fd;
        this.id = id;
        this.runSize = mmapSize;
        this.run = LibC.mmap(mmapSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd.num(), 0);
    }

    public int id() {
        return id;
    }

    public Fd fd() {
        return fd;
    }

    // ---- running ----

    /**
     * KVM_RUN. Returns the exit reason (&ge; 0), or {@code -errno}: {@code -EINTR} when a
     * signal or {@code immediate_exit} interrupted it, {@code -EAGAIN} and others as KVM says.
     */
    public int run() {
        int r = LibC.tryIoctl(fd.num(), Ioctls.KVM_RUN, MemorySegment.NULL);
        return r < 0 ? r : exitReason();
    }

    public int exitReason() {
        return run.get(JAVA_INT, OFF_EXIT_REASON);
    }

    /** Binds kicks to the calling thread (the vCPU thread, before its first {@link #run()}). */
    public void bindThread() throws SysException {
        VcpuKick.install();
        synchronized (kickLock) {
            tid = LibC.gettid();
        }
    }

    /** Stops kicking a thread (the vCPU thread, before it ends): no signal reaches it afterwards. */
    public void unbindThread() {
        synchronized (kickLock) {
            tid = 0;
        }
    }

    /**
     * Makes the vCPU leave KVM_RUN: sets {@code immediate_exit} (so a KVM_RUN about to start
     * returns EINTR at once) and signals the bound thread (so one in progress does too).
     */
    public void kick() throws SysException {
        setImmediateExit(true);
        synchronized (kickLock) {
            if (tid != 0) {
                VcpuKick.signal(tid);
            }
        }
    }

    public void setImmediateExit(boolean on) {
        BYTE_VOLATILE.setVolatile(run, OFF_IMMEDIATE_EXIT, (byte) (on ? 1 : 0));
    }

    public boolean immediateExit() {
        return (byte) BYTE_VOLATILE.getVolatile(run, OFF_IMMEDIATE_EXIT) != 0;
    }

    // ---- KVM_EXIT_IO ----

    public int ioDirection() {
        return run.get(JAVA_BYTE, OFF_IO_DIRECTION);
    }

    /** Bytes per access: 1, 2 or 4. */
    public int ioSize() {
        return run.get(JAVA_BYTE, OFF_IO_SIZE);
    }

    public int ioPort() {
        return run.get(JAVA_SHORT, OFF_IO_PORT) & 0xFFFF;
    }

    /** Number of accesses (more than 1 for rep ins/outs). */
    public int ioCount() {
        return run.get(JAVA_INT, OFF_IO_COUNT);
    }

    private long ioOffset(int i) {
        long off = run.get(JAVA_LONG, OFF_IO_DATA_OFFSET) + (long) i * ioSize();
        if (off < 0 || off + ioSize() > runSize) {
            throw new IllegalStateException("kvm_run io data outside the mapping: " + off);
        }
        return off;
    }

    /** The value of OUT access {@code i} (zero-extended). */
    public long ioData(int i) {
        long off = ioOffset(i);
        return switch (ioSize()) {
            case 1 -> run.get(JAVA_BYTE, off) & 0xFFL;
            case 2 -> run.get(JAVA_SHORT_UNALIGNED, off) & 0xFFFFL;
            default -> run.get(JAVA_INT_UNALIGNED, off) & 0xFFFF_FFFFL;
        };
    }

    /** Supplies the value of IN access {@code i}. */
    public void setIoData(int i, long value) {
        long off = ioOffset(i);
        switch (ioSize()) {
            case 1 -> run.set(JAVA_BYTE, off, (byte) value);
            case 2 -> run.set(JAVA_SHORT_UNALIGNED, off, (short) value);
            default -> run.set(JAVA_INT_UNALIGNED, off, (int) value);
        }
    }

    // ---- KVM_EXIT_MMIO ----

    public long mmioAddress() {
        return run.get(JAVA_LONG, OFF_MMIO_PHYS_ADDR);
    }

    /** Access width in bytes: 1, 2, 4 or 8. */
    public int mmioLength() {
        return run.get(JAVA_INT, OFF_MMIO_LEN);
    }

    public boolean mmioIsWrite() {
        return run.get(JAVA_BYTE, OFF_MMIO_IS_WRITE) != 0;
    }

    /** The written value, zero-extended from {@link #mmioLength()} bytes. */
    public long mmioData() {
        long v = run.get(JAVA_LONG_UNALIGNED, OFF_MMIO_DATA);
        int len = mmioLength();
        return len >= 8 ? v : v & ((1L << (len * 8)) - 1);
    }

    /** Supplies the value of an MMIO read (its low {@link #mmioLength()} bytes are used). */
    public void setMmioData(long value) {
        run.set(JAVA_LONG_UNALIGNED, OFF_MMIO_DATA, value);
    }

    // ---- other exits ----

    /** KVM_EXIT_SYSTEM_EVENT: SYSTEM_EVENT_SHUTDOWN, _RESET or _CRASH. */
    public int systemEventType() {
        return run.get(JAVA_INT, OFF_UNION);
    }

    /** KVM_EXIT_FAIL_ENTRY: the hardware's entry failure reason. */
    public long failEntryReason() {
        return run.get(JAVA_LONG, OFF_UNION);
    }

    /** KVM_EXIT_INTERNAL_ERROR: the suberror (1 = emulation failure). */
    public int internalSuberror() {
        return run.get(JAVA_INT, OFF_UNION);
    }

    // ---- state ----

    public Regs getRegs() throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Regs.BYTES, 8);
            LibC.ioctl(fd.num(), Ioctls.KVM_GET_REGS, s);
            Regs r = new Regs();
            r.decode(s);
            return r;
        }
    }

    public void setRegs(Regs regs) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Regs.BYTES, 8);
            regs.encode(s);
            LibC.ioctl(fd.num(), Ioctls.KVM_SET_REGS, s);
        }
    }

    public Sregs getSregs() throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Sregs.BYTES, 8);
            LibC.ioctl(fd.num(), Ioctls.KVM_GET_SREGS, s);
            Sregs r = new Sregs();
            r.decode(s);
            return r;
        }
    }

    public void setSregs(Sregs sregs) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Sregs.BYTES, 8);
            sregs.encode(s);
            LibC.ioctl(fd.num(), Ioctls.KVM_SET_SREGS, s);
        }
    }

    public Fpu getFpu() throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Fpu.BYTES, 8);
            LibC.ioctl(fd.num(), Ioctls.KVM_GET_FPU, s);
            Fpu f = new Fpu();
            f.decode(s);
            return f;
        }
    }

    public void setFpu(Fpu fpu) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Fpu.BYTES, 8);
            fpu.encode(s);
            LibC.ioctl(fd.num(), Ioctls.KVM_SET_FPU, s);
        }
    }

    /** KVM_SET_CPUID2; KVM refuses changes once the vCPU has run (EINVAL since Linux 5.16). */
    public void setCpuid2(Cpuid cpuid) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            LibC.ioctl(fd.num(), Ioctls.KVM_SET_CPUID2, cpuid.encode(a));
        }
    }

    /** KVM_GET_CPUID2: the table this vCPU has. */
    public Cpuid getCpuid2() throws SysException {
        for (int n = 128; ; n *= 2) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment s = a.allocate(Cpuid.HEADER + (long) n * Cpuid.ENTRY, 8);
                s.set(JAVA_INT, 0, n);
                int r = LibC.tryIoctl(fd.num(), Ioctls.KVM_GET_CPUID2, s);
                if (r == -Errno.E2BIG && n < 4096) {
                    continue;
                }
                if (r < 0) {
                    throw new SysException("ioctl(KVM_GET_CPUID2)", -r);
                }
                return Cpuid.decode(s);
            }
        }
    }

    /** KVM_SET_MSRS (struct kvm_msrs: u32 nmsrs, u32 pad, entries); every MSR must be accepted. */
    public void setMsrs(List<MsrEntry> msrs) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(8 + (long) msrs.size() * MsrEntry.BYTES, 8);
            s.set(JAVA_INT, 0, msrs.size());
            for (int i = 0; i < msrs.size(); i++) {
                s.set(JAVA_INT, 8 + i * 16L, msrs.get(i).index());
                s.set(JAVA_LONG, 16 + i * 16L, msrs.get(i).data());
            }
            int done = LibC.ioctl(fd.num(), Ioctls.KVM_SET_MSRS, s);
            if (done != msrs.size()) {
                throw new SysException("ioctl(KVM_SET_MSRS) of MSR 0x" + Integer.toHexString(msrs.get(done).index()),
                        Errno.EINVAL);
            }
        }
    }

    /** KVM_GET_MSRS for {@code indices}; every MSR must be readable. */
    public long[] getMsrs(int... indices) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(8 + (long) indices.length * MsrEntry.BYTES, 8);
            s.set(JAVA_INT, 0, indices.length);
            for (int i = 0; i < indices.length; i++) {
                s.set(JAVA_INT, 8 + i * 16L, indices[i]);
            }
            int done = LibC.ioctl(fd.num(), Ioctls.KVM_GET_MSRS, s);
            if (done != indices.length) {
                throw new SysException("ioctl(KVM_GET_MSRS) of MSR 0x" + Integer.toHexString(indices[done]), Errno.EINVAL);
            }
            long[] out = new long[indices.length];
            for (int i = 0; i < indices.length; i++) {
                out[i] = s.get(JAVA_LONG, 16 + i * 16L);
            }
            return out;
        }
    }

    /** KVM_GET_LAPIC: the local APIC's 1 KiB register page (needs the in-kernel irqchip). */
    public byte[] getLapic() throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(LAPIC_BYTES, 8);
            LibC.ioctl(fd.num(), Ioctls.KVM_GET_LAPIC, s);
            return s.toArray(JAVA_BYTE);
        }
    }

    public void setLapic(byte[] regs) throws SysException {
        if (regs.length != LAPIC_BYTES) {
            throw new IllegalArgumentException("lapic state is " + LAPIC_BYTES + " bytes, not " + regs.length);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(LAPIC_BYTES, 8);
            MemorySegment.copy(regs, 0, s, JAVA_BYTE, 0, LAPIC_BYTES);
            LibC.ioctl(fd.num(), Ioctls.KVM_SET_LAPIC, s);
        }
    }

    public int getMpState() throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4, 4);
            LibC.ioctl(fd.num(), Ioctls.KVM_GET_MP_STATE, s);
            return s.get(JAVA_INT, 0);
        }
    }

    public void setMpState(int state) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            LibC.ioctl(fd.num(), Ioctls.KVM_SET_MP_STATE, a.allocateFrom(JAVA_INT, state));
        }
    }

    @Override
    public void close() {
        synchronized (kickLock) {
            tid = 0;
        }
        if (closed.compareAndSet(false, true)) {
            try {
                LibC.munmap(run, runSize);
            } catch (SysException e) {
                throw new IllegalStateException(e);
            }
            fd.close();
        }
    }
}
