package org.jvmd.sys.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.Ioctls;
import org.jvmd.sys.LibC;
import org.jvmd.sys.Native;
import org.jvmd.sys.SysException;

/**
 * A KVM VM fd (api.rst, "VM ioctls"). Struct layouts are linux/kvm.h's for x86-64; the
 * interrupt calls ({@link #irqLine}, {@link #signalMsi}) use the calling thread's scratch
 * buffer and allocate nothing.
 */
public final class VmFd implements AutoCloseable {
    /** KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY (kvm_userspace_memory_region.flags). */
    public static final int MEM_LOG_DIRTY_PAGES = 1;
    public static final int MEM_READONLY = 2;
    /** KVM_PIT_SPEAKER_DUMMY: port 0x61 reads as a dummy speaker (kvm_pit_config.flags). */
    public static final int PIT_SPEAKER_DUMMY = 1;

    // kvm_irq_routing_entry (48 bytes): gsi, type, flags, pad, then the union at 16.
    private static final int ROUTE_BYTES = 48;
    private static final int ROUTING_IRQCHIP = 1;
    private static final int ROUTING_MSI = 2;
    // kvm_irqfd flags
    private static final int IRQFD_FLAG_DEASSIGN = 1;
    // kvm_ioeventfd flags
    private static final int IOEVENTFD_FLAG_DATAMATCH = 1;
    private static final int IOEVENTFD_FLAG_PIO = 1 << 1;
    private static final int IOEVENTFD_FLAG_DEASSIGN = 1 << 2;

    private final Fd fd;
    private final int vcpuMmapSize;

    VmFd(Fd fd, int vcpuMmapSize) {
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    public Fd fd() {
        return fd;
    }

    /** KVM_CHECK_EXTENSION on the VM (answers for this VM, e.g. its vCPU limit). */
    public int checkExtension(int cap) throws SysException {
        return LibC.ioctl(fd.num(), Ioctls.KVM_CHECK_EXTENSION, cap);
    }

    /** KVM_CREATE_VCPU with vCPU (and initial APIC) id {@code id}; maps its struct kvm_run. */
    public VcpuFd createVcpu(int id) throws SysException {
        Fd v = Fd.adopt(LibC.ioctl(fd.num(), Ioctls.KVM_CREATE_VCPU, id));
        try {
            return new VcpuFd(v, id, vcpuMmapSize);
        } catch (SysException | RuntimeException e) {
            v.close();
            throw e;
        }
    }

    /**
     * KVM_SET_USER_MEMORY_REGION: guest-physical {@code [gpa, gpa+size)} is backed by host
     * memory at {@code hostAddress}. A size of 0 deletes the slot.
     */
    public void setUserMemoryRegion(int slot, int flags, long gpa, long size, long hostAddress) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(32, 8);
            s.set(JAVA_INT, 0, slot);
            s.set(JAVA_INT, 4, flags);
            s.set(JAVA_LONG, 8, gpa);
            s.set(JAVA_LONG, 16, size);
            s.set(JAVA_LONG, 24, hostAddress);
            LibC.ioctl(fd.num(), Ioctls.KVM_SET_USER_MEMORY_REGION, s);
        }
    }

    /** KVM_SET_TSS_ADDR: three pages of guest-physical space KVM needs on Intel (below 4 GiB, not RAM). */
    public void setTssAddr(long addr) throws SysException {
        LibC.ioctl(fd.num(), Ioctls.KVM_SET_TSS_ADDR, addr);
    }

    /** KVM_SET_IDENTITY_MAP_ADDR: one page for the EPT identity map on Intel (below 4 GiB, not RAM). */
    public void setIdentityMapAddr(long addr) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            LibC.ioctl(fd.num(), Ioctls.KVM_SET_IDENTITY_MAP_ADDR, a.allocateFrom(JAVA_LONG, addr));
        }
    }

    /** KVM_CREATE_IRQCHIP: in-kernel PIC pair, IOAPIC and local APICs, with GSIs 0-23 routed to them. */
    public void createIrqchip() throws SysException {
        LibC.ioctl(fd.num(), Ioctls.KVM_CREATE_IRQCHIP, 0L);
    }

    /** KVM_CREATE_PIT2: in-kernel i8254 PIT on ports 0x40-0x43 (and 0x61), raising GSI 0. */
    public void createPit2(int flags) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(64, 8);
            s.set(JAVA_INT, 0, flags);
            LibC.ioctl(fd.num(), Ioctls.KVM_CREATE_PIT2, s);
        }
    }

    /** KVM_IRQ_LINE (struct kvm_irq_level: u32 irq, u32 level): drives GSI {@code gsi} to {@code level}. */
    public void irqLine(int gsi, boolean level) throws SysException {
        MemorySegment s = Native.scratch();
        s.set(JAVA_INT, 0, gsi);
        s.set(JAVA_INT, 4, level ? 1 : 0);
        LibC.ioctl(fd.num(), Ioctls.KVM_IRQ_LINE, s);
    }

    /**
     * KVM_SIGNAL_MSI (struct kvm_msi: address_lo, address_hi, data, flags, devid, pad):
     * injects one MSI. Returns &gt; 0 if delivered, 0 if the guest blocked it.
     */
    public int signalMsi(long address, int data) throws SysException {
        MemorySegment s = Native.scratch().asSlice(0, 32);
        s.fill((byte) 0);
        s.set(JAVA_INT, 0, (int) address);
        s.set(JAVA_INT, 4, (int) (address >>> 32));
        s.set(JAVA_INT, 8, data);
        return LibC.ioctl(fd.num(), Ioctls.KVM_SIGNAL_MSI, s);
    }

    /** KVM_SET_GSI_ROUTING: replaces the whole routing table with {@code routes}. */
    public void setGsiRouting(List<GsiRoute> routes) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(8 + (long) routes.size() * ROUTE_BYTES, 8);
            s.set(JAVA_INT, 0, routes.size());
            for (int i = 0; i < routes.size(); i++) {
                long o = 8 + (long) i * ROUTE_BYTES;
                GsiRoute r = routes.get(i);
                s.set(JAVA_INT, o, r.gsi());
                switch (r) {
                    case GsiRoute.Irqchip c -> {
                        s.set(JAVA_INT, o + 4, ROUTING_IRQCHIP);
                        s.set(JAVA_INT, o + 16, c.irqchip());
                        s.set(JAVA_INT, o + 20, c.pin());
                    }
                    case GsiRoute.Msi m -> {
                        s.set(JAVA_INT, o + 4, ROUTING_MSI);
                        s.set(JAVA_INT, o + 16, (int) m.address());
                        s.set(JAVA_INT, o + 20, (int) (m.address() >>> 32));
                        s.set(JAVA_INT, o + 24, m.data());
                    }
                }
            }
            LibC.ioctl(fd.num(), Ioctls.KVM_SET_GSI_ROUTING, s);
        }
    }

    /** KVM_IRQFD: a write to {@code eventfd} raises (edge) GSI {@code gsi}. */
    public void irqfd(EventFd eventfd, int gsi) throws SysException {
        irqfd(eventfd.fd().num(), gsi, 0);
    }

    public void irqfdDeassign(EventFd eventfd, int gsi) throws SysException {
        irqfd(eventfd.fd().num(), gsi, IRQFD_FLAG_DEASSIGN);
    }

    private void irqfd(int eventfd, int gsi, int flags) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(32, 8);
            s.set(JAVA_INT, 0, eventfd);
            s.set(JAVA_INT, 4, gsi);
            s.set(JAVA_INT, 8, flags);
            LibC.ioctl(fd.num(), Ioctls.KVM_IRQFD, s);
        }
    }

    /**
     * KVM_IOEVENTFD: a guest write of {@code len} bytes (1, 2, 4, 8; 0 = any length) to
     * {@code addr} (a port if {@code pio}) signals {@code eventfd} instead of exiting;
     * with {@code datamatch} non-null only writes of that value do.
     */
    public void ioeventfd(EventFd eventfd, long addr, int len, boolean pio, Long datamatch) throws SysException {
        ioeventfd(eventfd.fd().num(), addr, len, pio, datamatch, false);
    }

    public void ioeventfdDeassign(EventFd eventfd, long addr, int len, boolean pio, Long datamatch)
            throws SysException {
        ioeventfd(eventfd.fd().num(), addr, len, pio, datamatch, true);
    }

    private void ioeventfd(int eventfd, long addr, int len, boolean pio, Long datamatch, boolean deassign)
            throws SysException {
        int flags = (pio ? IOEVENTFD_FLAG_PIO : 0) | (datamatch != null ? IOEVENTFD_FLAG_DATAMATCH : 0)
                | (deassign ? IOEVENTFD_FLAG_DEASSIGN : 0);
        try (Arena a = Arena.ofConfined()) {
            // struct kvm_ioeventfd: u64 datamatch, u64 addr, u32 len, s32 fd, u32 flags, u8 pad[36]
            MemorySegment s = a.allocate(64, 8);
            s.set(JAVA_LONG, 0, datamatch != null ? datamatch : 0L);
            s.set(JAVA_LONG, 8, addr);
            s.set(JAVA_INT, 16, len);
            s.set(JAVA_INT, 20, eventfd);
            s.set(JAVA_INT, 24, flags);
            LibC.ioctl(fd.num(), Ioctls.KVM_IOEVENTFD, s);
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}
