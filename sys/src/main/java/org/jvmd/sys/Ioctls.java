package org.jvmd.sys;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

/**
 * Every ioctl request number jvmd issues, built with the kernel's encoding
 * (include/uapi/asm-generic/ioctl.h: dir in bits 30-31, size in 16-29, type in 8-15,
 * number in 0-7). {@link #name(long)} turns a number back into its name for error messages.
 */
public final class Ioctls {
    private Ioctls() {}

    // asm-generic/ioctl.h
    private static final int NRBITS = 8;
    private static final int TYPEBITS = 8;
    private static final int SIZEBITS = 14;
    private static final int NRSHIFT = 0;
    private static final int TYPESHIFT = NRSHIFT + NRBITS;
    private static final int SIZESHIFT = TYPESHIFT + TYPEBITS;
    private static final int DIRSHIFT = SIZESHIFT + SIZEBITS;
    public static final int IOC_NONE = 0;
    public static final int IOC_WRITE = 1;
    public static final int IOC_READ = 2;

    public static long ioc(int dir, int type, int nr, int size) {
        if (size < 0 || size >= (1 << SIZEBITS)) {
            throw new IllegalArgumentException("ioctl argument size " + size);
        }
        return ((long) dir << DIRSHIFT) | ((long) size << SIZESHIFT) | ((long) type << TYPESHIFT)
                | ((long) nr << NRSHIFT);
    }

    /** {@code _IO(type, nr)}. */
    public static long io(int type, int nr) {
        return ioc(IOC_NONE, type, nr, 0);
    }

    /** {@code _IOR(type, nr, size)}: the kernel writes {@code size} bytes to the argument. */
    public static long ior(int type, int nr, int size) {
        return ioc(IOC_READ, type, nr, size);
    }

    /** {@code _IOW(type, nr, size)}: the kernel reads {@code size} bytes from the argument. */
    public static long iow(int type, int nr, int size) {
        return ioc(IOC_WRITE, type, nr, size);
    }

    /** {@code _IOWR(type, nr, size)}. */
    public static long iowr(int type, int nr, int size) {
        return ioc(IOC_READ | IOC_WRITE, type, nr, size);
    }

    private static final int INT = 4;

    // ---- tun/tap: include/uapi/linux/if_tun.h ('T') ----
    public static final long TUNSETNOCSUM = iow('T', 200, INT);
    public static final long TUNSETDEBUG = iow('T', 201, INT);
    public static final long TUNSETIFF = iow('T', 202, INT);
    public static final long TUNSETPERSIST = iow('T', 203, INT);
    public static final long TUNSETOWNER = iow('T', 204, INT);
    public static final long TUNSETLINK = iow('T', 205, INT);
    public static final long TUNSETGROUP = iow('T', 206, INT);
    public static final long TUNGETFEATURES = ior('T', 207, INT);
    public static final long TUNSETOFFLOAD = iow('T', 208, INT);
    public static final long TUNSETTXFILTER = iow('T', 209, INT);
    public static final long TUNGETIFF = ior('T', 210, INT);
    public static final long TUNGETSNDBUF = ior('T', 211, INT);
    public static final long TUNSETSNDBUF = iow('T', 212, INT);
    public static final long TUNGETVNETHDRSZ = ior('T', 215, INT);
    public static final long TUNSETVNETHDRSZ = iow('T', 216, INT);
    public static final long TUNSETQUEUE = iow('T', 217, INT);
    public static final long TUNSETIFINDEX = iow('T', 218, INT);
    public static final long TUNSETVNETLE = iow('T', 220, INT);
    public static final long TUNGETVNETLE = ior('T', 221, INT);
    public static final long TUNSETCARRIER = iow('T', 226, INT);

    // ---- terminals: include/uapi/asm-generic/ioctls.h (fixed legacy numbers) ----
    public static final long TIOCSWINSZ = 0x5414;
    public static final long TIOCGPTN = ior('T', 0x30, INT);
    public static final long TIOCSPTLCK = iow('T', 0x31, INT);

    // ---- KVM (added by the VMM work) ----
    // Linux include/uapi/linux/kvm.h (KVMIO = 0xAE); struct sizes are x86-64's.
    private static final int KVMIO = 0xAE;
    public static final long KVM_GET_API_VERSION = io(KVMIO, 0x00);
    public static final long KVM_CREATE_VM = io(KVMIO, 0x01);
    /** struct kvm_msr_list header: u32 nmsrs (indices follow). */
    public static final long KVM_GET_MSR_INDEX_LIST = iowr(KVMIO, 0x02, 4);
    public static final long KVM_CHECK_EXTENSION = io(KVMIO, 0x03);
    public static final long KVM_GET_VCPU_MMAP_SIZE = io(KVMIO, 0x04);
    /** struct kvm_cpuid2 header: u32 nent, u32 padding (entries follow). */
    public static final long KVM_GET_SUPPORTED_CPUID = iowr(KVMIO, 0x05, 8);
    public static final long KVM_CREATE_VCPU = io(KVMIO, 0x41);
    /** struct kvm_userspace_memory_region: 32 bytes. */
    public static final long KVM_SET_USER_MEMORY_REGION = iow(KVMIO, 0x46, 32);
    public static final long KVM_SET_TSS_ADDR = io(KVMIO, 0x47);
    public static final long KVM_SET_IDENTITY_MAP_ADDR = iow(KVMIO, 0x48, 8);
    public static final long KVM_CREATE_IRQCHIP = io(KVMIO, 0x60);
    /** struct kvm_irq_level: 8 bytes. */
    public static final long KVM_IRQ_LINE = iow(KVMIO, 0x61, 8);
    /** struct kvm_irq_routing header: u32 nr, u32 flags (entries follow). */
    public static final long KVM_SET_GSI_ROUTING = iow(KVMIO, 0x6A, 8);
    /** struct kvm_irqfd: 32 bytes. */
    public static final long KVM_IRQFD = iow(KVMIO, 0x76, 32);
    /** struct kvm_pit_config: 64 bytes. */
    public static final long KVM_CREATE_PIT2 = iow(KVMIO, 0x77, 64);
    /** struct kvm_ioeventfd: 64 bytes. */
    public static final long KVM_IOEVENTFD = iow(KVMIO, 0x79, 64);
    /** struct kvm_msi: 32 bytes. */
    public static final long KVM_SIGNAL_MSI = iow(KVMIO, 0xA5, 32);
    public static final long KVM_RUN = io(KVMIO, 0x80);
    /** struct kvm_regs: 144 bytes. */
    public static final long KVM_GET_REGS = ior(KVMIO, 0x81, 144);
    public static final long KVM_SET_REGS = iow(KVMIO, 0x82, 144);
    /** struct kvm_sregs: 312 bytes. */
    public static final long KVM_GET_SREGS = ior(KVMIO, 0x83, 312);
    public static final long KVM_SET_SREGS = iow(KVMIO, 0x84, 312);
    /** struct kvm_msrs header: u32 nmsrs, u32 pad (entries follow). */
    public static final long KVM_GET_MSRS = iowr(KVMIO, 0x88, 8);
    public static final long KVM_SET_MSRS = iow(KVMIO, 0x89, 8);
    /** struct kvm_fpu: 416 bytes. */
    public static final long KVM_GET_FPU = ior(KVMIO, 0x8C, 416);
    public static final long KVM_SET_FPU = iow(KVMIO, 0x8D, 416);
    /** struct kvm_lapic_state: 1024 bytes. */
    public static final long KVM_GET_LAPIC = ior(KVMIO, 0x8E, 1024);
    public static final long KVM_SET_LAPIC = iow(KVMIO, 0x8F, 1024);
    public static final long KVM_SET_CPUID2 = iow(KVMIO, 0x90, 8);
    public static final long KVM_GET_CPUID2 = iowr(KVMIO, 0x91, 8);
    /** struct kvm_mp_state: 4 bytes. */
    public static final long KVM_GET_MP_STATE = ior(KVMIO, 0x98, 4);
    public static final long KVM_SET_MP_STATE = iow(KVMIO, 0x99, 4);
    public static final long KVM_GET_TSC_KHZ = io(KVMIO, 0xA3);


    private static volatile Map<Long, String> names;

    /** The name of a request number defined here, e.g. {@code TUNSETIFF}, or its hex value. */
    public static String name(long request) {
        Map<Long, String> m = names;
        if (m == null) {
            m = new HashMap<>();
            for (Field f : Ioctls.class.getDeclaredFields()) {
                int mod = f.getModifiers();
                if (Modifier.isStatic(mod) && Modifier.isPublic(mod) && f.getType() == long.class) {
                    try {
                        m.putIfAbsent(f.getLong(null), f.getName());
                    } catch (IllegalAccessException e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
            names = m;
        }
        String n = m.get(request);
        return n != null ? n : "0x" + Long.toHexString(request);
    }
}
