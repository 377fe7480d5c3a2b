package org.jvmd.sys.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.jvmd.sys.Fd;
import org.jvmd.sys.Ioctls;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/**
 * The {@code /dev/kvm} system fd: capability queries and VM creation (Linux
 * Documentation/virt/kvm/api.rst, "System ioctls"; structs from include/uapi/linux/kvm.h).
 */
public final class Kvm implements AutoCloseable {
    /** The only stable KVM API version (api.rst, KVM_GET_API_VERSION). */
    public static final int API_VERSION = 12;

    // KVM_CHECK_EXTENSION capabilities (linux/kvm.h KVM_CAP_*).
    public static final int CAP_IRQCHIP = 0;
    public static final int CAP_HLT = 1;
    public static final int CAP_USER_MEMORY = 3;
    public static final int CAP_SET_TSS_ADDR = 4;
    public static final int CAP_EXT_CPUID = 7;
    public static final int CAP_NR_VCPUS = 9;
    public static final int CAP_NR_MEMSLOTS = 10;
    public static final int CAP_PIT = 11;
    public static final int CAP_MP_STATE = 14;
    public static final int CAP_SYNC_MMU = 16;
    public static final int CAP_IRQ_ROUTING = 25;
    public static final int CAP_IRQFD = 32;
    public static final int CAP_PIT2 = 33;
    public static final int CAP_SET_IDENTITY_MAP_ADDR = 37;
    public static final int CAP_IOEVENTFD = 36;
    public static final int CAP_MAX_VCPUS = 66;
    public static final int CAP_SIGNAL_MSI = 77;
    public static final int CAP_IMMEDIATE_EXIT = 136;

    private final Fd fd;

    private Kvm(Fd fd) {
        this.fd = fd;
    }

    /** Opens {@code /dev/kvm} read-write, close-on-exec. */
    public static Kvm open() throws SysException {
        return new Kvm(LibC.open("/dev/kvm", LibC.O_RDWR | LibC.O_CLOEXEC));
    }

    /** Takes ownership of an already open {@code /dev/kvm} fd (e.g. received from vmd). */
    public static Kvm adopt(Fd fd) {
        return new Kvm(fd);
    }

    public Fd fd() {
        return fd;
    }

    public int apiVersion() throws SysException {
        return LibC.ioctl(fd.num(), Ioctls.KVM_GET_API_VERSION, 0L);
    }

    /** KVM_CHECK_EXTENSION: 0 if absent, else 1 or a capability-specific value (e.g. a maximum). */
    public int checkExtension(int cap) throws SysException {
        return LibC.ioctl(fd.num(), Ioctls.KVM_CHECK_EXTENSION, cap);
    }

    /** Size of the per-vCPU mmap region (struct kvm_run plus the PIO data page and more). */
    public int vcpuMmapSize() throws SysException {
        return LibC.ioctl(fd.num(), Ioctls.KVM_GET_VCPU_MMAP_SIZE, 0L);
    }

    /**
     * KVM_GET_SUPPORTED_CPUID: every CPUID leaf KVM can present to a guest, with the
     * feature bits it supports. Retries with a larger buffer on E2BIG.
     */
    public Cpuid supportedCpuid() throws SysException {
        for (int n = 128; ; n *= 2) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment s = a.allocate(Cpuid.HEADER + (long) n * Cpuid.ENTRY, 8);
                s.set(JAVA_INT, 0, n);
                int r = LibC.tryIoctl(fd.num(), Ioctls.KVM_GET_SUPPORTED_CPUID, s);
                if (r == -org.jvmd.sys.Errno.E2BIG && n < 4096) {
                    continue;
                }
                if (r < 0) {
                    throw new SysException("ioctl(KVM_GET_SUPPORTED_CPUID)", -r);
                }
                return Cpuid.decode(s);
            }
        }
    }

    /** KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores for a vCPU. */
    public int[] msrIndexList() throws SysException {
        for (int n = 256; ; n *= 2) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment s = a.allocate(4 + 4L * n, 4);
                s.set(JAVA_INT, 0, n);
                int r = LibC.tryIoctl(fd.num(), Ioctls.KVM_GET_MSR_INDEX_LIST, s);
                if (r == -org.jvmd.sys.Errno.E2BIG && n < 65536) {
                    continue;
                }
                if (r < 0) {
                    throw new SysException("ioctl(KVM_GET_MSR_INDEX_LIST)", -r);
                }
                int count = s.get(JAVA_INT, 0);
                int[] out = new int[count];
                for (int i = 0; i < count; i++) {
                    out[i] = s.get(JAVA_INT, 4 + 4L * i);
                }
                return out;
            }
        }
    }

    /** KVM_CREATE_VM (machine type 0: the default x86 VM). */
    public VmFd createVm() throws SysException {
        int vm = LibC.ioctl(fd.num(), Ioctls.KVM_CREATE_VM, 0L);
        return new VmFd(Fd.adopt(vm), vcpuMmapSize());
    }

    @Override
    public void close() {
        fd.close();
    }
}
