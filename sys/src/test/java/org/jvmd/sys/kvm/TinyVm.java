package org.jvmd.sys.kvm;

import java.nio.file.Files;
import java.nio.file.Path;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.testkit.Host;

/**
 * A VM for a few bytes of hand-assembled guest code: 2 MiB of RAM at guest-physical 0
 * (a memfd, as the VMM uses), one vCPU, optionally the in-kernel irqchip. Runs directly
 * on this machine's /dev/kvm, whatever it is (kvm_pvm emulates at ~1 MIPS: keep guests tiny).
 */
final class TinyVm implements AutoCloseable {
    static final long RAM = 2L << 20;
    /** Where the guest code goes; its page tables (long mode) sit at 0x9000-0xBFFF. */
    static final long CODE = 0x1000;

    final Kvm kvm;
    final VmFd vm;
    final Fd memfd;
    final MappedGuestMemory mem;
    final VcpuFd vcpu;

    TinyVm(boolean irqchip) throws SysException {
        kvm = Kvm.open();
        vm = kvm.createVm();
        if (irqchip) {
            vm.setIdentityMapAddr(0xFFFB_C000L);
            vm.setTssAddr(0xFFFB_D000L);
            vm.createIrqchip();
        }
        memfd = Memfd.create("tiny-guest", RAM);
        mem = MappedGuestMemory.map(memfd, RAM);
        try {
            vm.setUserMemoryRegion(0, 0, 0, RAM, mem.hostAddress(0, RAM));
        } catch (org.jvmd.virtio.GuestFault f) {
            throw new IllegalStateException(f);
        }
        vcpu = vm.createVcpu(0);
    }

    /** Skips the calling test, loudly, when this machine has no /dev/kvm. */
    static void assumeKvm() {
        Host.assumeKvm("KVM binding tests");
    }

    void load(long gpa, byte[] code) throws Exception {
        mem.write(gpa, code, 0, code.length);
    }

    /** Real mode, CS base 0, execution at {@code rip}. */
    void realMode(long rip) throws SysException {
        Sregs s = vcpu.getSregs();
        s.cs.base = 0;
        s.cs.selector = 0;
        vcpu.setSregs(s);
        Regs r = new Regs();
        r.rip = rip;
        r.rflags = 2;
        r.rsp = 0x8000;
        vcpu.setRegs(r);
    }

    /** 64-bit mode with the first 1 GiB identity-mapped by 2 MiB pages, execution at {@code rip}. */
    void longMode(long rip) throws Exception {
        mem.writeLong(0x9000, 0xA000 | 3);
        mem.writeLong(0xA000, 0xB000 | 3);
        for (int i = 0; i < 512; i++) {
            mem.writeLong(0xB000 + i * 8L, ((long) i << 21) | 0x83);
        }
        Sregs s = vcpu.getSregs();
        flat(s.cs, 0x10, 0xB, true);
        for (Sregs.Segment d : new Sregs.Segment[] {s.ds, s.es, s.fs, s.gs, s.ss}) {
            flat(d, 0x18, 0x3, false);
        }
        s.cr3 = 0x9000;
        s.cr4 = 0x20;
        s.cr0 = 0x8000_0011L;
        s.efer = 0x500;
        vcpu.setSregs(s);
        Regs r = new Regs();
        r.rip = rip;
        r.rflags = 2;
        r.rsp = 0x8000;
        vcpu.setRegs(r);
    }

    private static void flat(Sregs.Segment seg, int selector, int type, boolean code) {
        seg.base = 0;
        seg.limit = 0xFFFF_FFFF;
        seg.selector = selector;
        seg.type = type;
        seg.present = true;
        seg.dpl = 0;
        seg.s = true;
        seg.g = true;
        seg.l = code;
        seg.db = !code;
        seg.unusable = false;
    }

    @Override
    public void close() {
        vcpu.close();
        mem.close();
        memfd.close();
        vm.close();
        kvm.close();
    }
}
