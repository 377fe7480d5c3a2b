package org.jvmd.vmm.tiny;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jvmd.sys.SysException;
import org.jvmd.sys.kvm.Regs;
import org.jvmd.sys.kvm.Sregs;
import org.jvmd.sys.kvm.VcpuFd;
import org.jvmd.testkit.GuestCode;
import org.jvmd.testkit.Host;
import org.jvmd.virtio.GuestFault;
import org.jvmd.vmm.Vm;
import org.jvmd.vmm.VmExit;
import org.jvmd.vmm.bus.BusDevice;

/**
 * A few hundred instructions of 32-bit protected-mode guest code (no paging, flat
 * segments) that drives a virtio-pci device the way a driver does, on the VMM's own
 * {@link Vm} (in-kernel irqchip and LAPIC, the vCPU run loop, the buses):
 * <ol>
 *   <li>software-enables its local APIC (SVR bit 8; Intel SDM Vol. 3A §11.4.7.2). This comes
 *       first: on this machine's kvm_pvm, an MSI signalled right after the SVR write (a few
 *       instructions later, in the same run) was refused by KVM (KVM_SIGNAL_MSI returned 0)
 *       although the SVR read back enabled; done early, it is in effect long before the kick;</li>
 *   <li>scans bus 0 through CONFIG_ADDRESS/CONFIG_DATA (0xCF8/0xCFC) for vendor 0x1AF4 and
 *       reports the vendor/device dword;</li>
 *   <li>programs BAR0 (64-bit) to {@link #BAR}, enables memory decoding and bus mastering;</li>
 *   <li>walks the capability list: the MSI-X capability (table offset) and the virtio
 *       vendor capabilities (common configuration, notify offset and multiplier); reports
 *       the three offsets;</li>
 *   <li>resets the device, sets ACKNOWLEDGE and DRIVER, reports device features 63:32,
 *       acks VERSION_1 only, sets FEATURES_OK and checks it stuck;</li>
 *   <li>programs MSI-X table entry 0 (LAPIC 0, vector {@link #VECTOR}), unmasks it and
 *       enables MSI-X in the capability's Message Control;</li>
 *   <li>sets up queue 0 (size 16, MSI-X vector 0, ring addresses), enables it, posts one
 *       device-writable 64-byte buffer, sets DRIVER_OK and reports the status;</li>
 *   <li>writes the queue index to the queue's notify address, {@code sti}, and halts;</li>
 *   <li>the interrupt handler reports used.idx and used.ring[0].len, EOIs and writes 1 to
 *       the done port. Any other vector writes 0xEF there; a failed step writes 0xE1
 *       (no device), 0xE2 (FEATURES_OK refused) or 0xE3 (vector not taken).</li>
 * </ol>
 * HLT does not exit with the in-kernel irqchip (docs/dev-notes/kvm.md), so the guest signals the end
 * with {@code out}; this bus device then terminates the VM.
 *
 * <p>Assembled from {@code src/test/resources/org/jvmd/vmm/tiny/tiny-guest.s} (GNU as, Intel
 * syntax, {@code .code32}); each string below is one instruction's bytes, labels are entries
 * ending in ':', laid out by the testkit's {@link GuestCode}.
 */
final class TinyGuest implements BusDevice {
    static final int REPORT_PORT = 0x500;
    static final int DONE_PORT = 0x504;
    static final long CODE = 0x1000;
    static final long GDT = 0x800;
    static final long IDT = 0x2000;
    static final long STACK = 0x8000;
    static final long DESC = 0x10000;
    static final long AVAIL = 0x11000;
    static final long USED = 0x12000;
    static final long BUF = 0x13000;
    static final int BUF_LEN = 64;
    static final int QUEUE_SIZE = 16;
    static final long BAR = 0xD000_0000L;
    static final int VECTOR = 0x40;
    static final int DONE_OK = 1;

    /** Selector 0x08: flat 32-bit code (accessed); 0x10: flat data (Intel SDM Vol. 3A §3.4.5). */
    static final long GDT_CODE32 = 0x00CF_9B00_0000_FFFFL;
    static final long GDT_DATA32 = 0x00CF_9300_0000_FFFFL;
    /** 32-bit interrupt gate, present, DPL 0 (Intel SDM Vol. 3A §6.11). */
    static final int GATE_INTERRUPT32 = 0x8E00;

    static final String[] CODE_TEXT = {
            "start:",
            "81 0d f0 00 e0 fe 00 01 00 00",// or    dword 0xfee000f0,0x100
            "bb 00 00 00 80",             // mov   ebx,0x80000000
            "scan:",
            "89 d8",                      // mov   eax,ebx
            "66 ba f8 0c",                // mov   dx,0xcf8
            "ef",                         // out   dx,eax
            "66 ba fc 0c",                // mov   dx,0xcfc
            "ed",                         // in    eax,dx
            "66 3d f4 1a",                // cmp   ax,0x1af4
            "74 15",                      // je    found
            "81 c3 00 08 00 00",          // add   ebx,0x800
            "81 fb 00 00 01 80",          // cmp   ebx,0x80010000
            "75 e0",                      // jne   scan
            "b0 e1",                      // mov   al,0xe1
            "e9 1d 02 00 00",             // jmp   fail
            "found:",
            "66 ba 00 05",                // mov   dx,0x500
            "ef",                         // out   dx,eax
            "b9 10 00 00 00",             // mov   ecx,0x10
            "e8 15 02 00 00",             // call  cfgsel
            "b8 00 00 00 d0",             // mov   eax,0xd0000000
            "ef",                         // out   dx,eax
            "b9 14 00 00 00",             // mov   ecx,0x14
            "e8 05 02 00 00",             // call  cfgsel
            "31 c0",                      // xor   eax,eax
            "ef",                         // out   dx,eax
            "b9 04 00 00 00",             // mov   ecx,0x4
            "e8 f8 01 00 00",             // call  cfgsel
            "66 b8 06 00",                // mov   ax,0x6
            "66 ef",                      // out   dx,ax
            "b9 34 00 00 00",             // mov   ecx,0x34
            "e8 e8 01 00 00",             // call  cfgsel
            "ec",                         // in    al,dx
            "0f b6 f0",                   // movzx esi,al
            "capnext:",
            "85 f6",                      // test  esi,esi
            "74 6e",                      // je    capsdone
            "89 f1",                      // mov   ecx,esi
            "e8 d9 01 00 00",             // call  cfgsel
            "ec",                         // in    al,dx
            "3c 11",                      // cmp   al,0x11
            "75 19",                      // jne   notmsix
            "89 35 10 40 01 00",          // mov   dword 0x14010,esi
            "8d 4e 04",                   // lea   ecx,[esi+0x4]
            "e8 c6 01 00 00",             // call  cfgsel
            "ed",                         // in    eax,dx
            "83 e0 f8",                   // and   eax,0xfffffff8
            "a3 0c 40 01 00",             // mov   0x1400c,eax
            "eb 3b",                      // jmp   advance
            "notmsix:",
            "3c 09",                      // cmp   al,0x9
            "75 37",                      // jne   advance
            "8d 4e 03",                   // lea   ecx,[esi+0x3]
            "e8 af 01 00 00",             // call  cfgsel
            "ec",                         // in    al,dx
            "0f b6 f8",                   // movzx edi,al
            "8d 4e 08",                   // lea   ecx,[esi+0x8]
            "e8 a3 01 00 00",             // call  cfgsel
            "ed",                         // in    eax,dx
            "83 ff 01",                   // cmp   edi,0x1
            "75 05",                      // jne   notcommon
            "a3 00 40 01 00",             // mov   0x14000,eax
            "notcommon:",
            "83 ff 02",                   // cmp   edi,0x2
            "75 13",                      // jne   advance
            "a3 04 40 01 00",             // mov   0x14004,eax
            "8d 4e 10",                   // lea   ecx,[esi+0x10]
            "e8 86 01 00 00",             // call  cfgsel
            "ed",                         // in    eax,dx
            "a3 08 40 01 00",             // mov   0x14008,eax
            "advance:",
            "8d 4e 01",                   // lea   ecx,[esi+0x1]
            "e8 78 01 00 00",             // call  cfgsel
            "ec",                         // in    al,dx
            "0f b6 f0",                   // movzx esi,al
            "eb 8e",                      // jmp   capnext
            "capsdone:",
            "66 ba 00 05",                // mov   dx,0x500
            "a1 00 40 01 00",             // mov   eax,0x14000
            "ef",                         // out   dx,eax
            "a1 04 40 01 00",             // mov   eax,0x14004
            "ef",                         // out   dx,eax
            "a1 0c 40 01 00",             // mov   eax,0x1400c
            "ef",                         // out   dx,eax
            "8b 3d 00 40 01 00",          // mov   edi,dword 0x14000
            "81 c7 00 00 00 d0",          // add   edi,0xd0000000
            "c6 47 14 00",                // mov   byte [edi+0x14],0x0
            "c6 47 14 01",                // mov   byte [edi+0x14],0x1
            "c6 47 14 03",                // mov   byte [edi+0x14],0x3
            "c7 07 01 00 00 00",          // mov   dword [edi],0x1
            "8b 47 04",                   // mov   eax,dword [edi+0x4]
            "ef",                         // out   dx,eax
            "c7 47 08 01 00 00 00",       // mov   dword [edi+0x8],0x1
            "c7 47 0c 01 00 00 00",       // mov   dword [edi+0xc],0x1
            "c7 47 08 00 00 00 00",       // mov   dword [edi+0x8],0x0
            "c7 47 0c 00 00 00 00",       // mov   dword [edi+0xc],0x0
            "c6 47 14 0b",                // mov   byte [edi+0x14],0xb
            "8a 47 14",                   // mov   al,byte [edi+0x14]
            "a8 08",                      // test  al,0x8
            "75 07",                      // jne   featok
            "b0 e2",                      // mov   al,0xe2
            "e9 05 01 00 00",             // jmp   fail
            "featok:",
            "8b 35 0c 40 01 00",          // mov   esi,dword 0x1400c
            "81 c6 00 00 00 d0",          // add   esi,0xd0000000
            "c7 06 00 00 e0 fe",          // mov   dword [esi],0xfee00000
            "c7 46 04 00 00 00 00",       // mov   dword [esi+0x4],0x0
            "c7 46 08 40 00 00 00",       // mov   dword [esi+0x8],0x40
            "c7 46 0c 00 00 00 00",       // mov   dword [esi+0xc],0x0
            "8b 0d 10 40 01 00",          // mov   ecx,dword 0x14010
            "83 c1 02",                   // add   ecx,0x2
            "e8 d7 00 00 00",             // call  cfgsel
            "66 b8 00 80",                // mov   ax,0x8000
            "66 ef",                      // out   dx,ax
            "66 c7 47 16 00 00",          // mov   word [edi+0x16],0x0
            "66 c7 47 18 10 00",          // mov   word [edi+0x18],0x10
            "66 c7 47 1a 00 00",          // mov   word [edi+0x1a],0x0
            "66 83 7f 1a 00",             // cmp   word [edi+0x1a],0x0
            "74 07",                      // je    vecok
            "b0 e3",                      // mov   al,0xe3
            "e9 aa 00 00 00",             // jmp   fail
            "vecok:",
            "c7 47 20 00 00 01 00",       // mov   dword [edi+0x20],0x10000
            "c7 47 24 00 00 00 00",       // mov   dword [edi+0x24],0x0
            "c7 47 28 00 10 01 00",       // mov   dword [edi+0x28],0x11000
            "c7 47 2c 00 00 00 00",       // mov   dword [edi+0x2c],0x0
            "c7 47 30 00 20 01 00",       // mov   dword [edi+0x30],0x12000
            "c7 47 34 00 00 00 00",       // mov   dword [edi+0x34],0x0
            "0f b7 47 1e",                // movzx eax,word [edi+0x1e]
            "0f af 05 08 40 01 00",       // imul  eax,dword 0x14008
            "03 05 04 40 01 00",          // add   eax,dword 0x14004
            "05 00 00 00 d0",             // add   eax,0xd0000000
            "89 c5",                      // mov   ebp,eax
            "66 c7 47 1c 01 00",          // mov   word [edi+0x1c],0x1
            "c7 05 00 00 01 00 00 30 01 00",// mov   dword 0x10000,0x13000
            "c7 05 04 00 01 00 00 00 00 00",// mov   dword 0x10004,0x0
            "c7 05 08 00 01 00 40 00 00 00",// mov   dword 0x10008,0x40
            "66 c7 05 0c 00 01 00 02 00", // mov   word 0x1000c,0x2
            "66 c7 05 0e 00 01 00 00 00", // mov   word 0x1000e,0x0
            "66 c7 05 04 10 01 00 00 00", // mov   word 0x11004,0x0
            "66 c7 05 00 10 01 00 00 00", // mov   word 0x11000,0x0
            "66 c7 05 02 10 01 00 01 00", // mov   word 0x11002,0x1
            "c6 47 14 0f",                // mov   byte [edi+0x14],0xf
            "0f b6 47 14",                // movzx eax,byte [edi+0x14]
            "66 ba 00 05",                // mov   dx,0x500
            "ef",                         // out   dx,eax
            "66 c7 45 00 00 00",          // mov   word [ebp+0x0],0x0
            "fb",                         // sti
            "idle:",
            "f4",                         // hlt
            "eb fd",                      // jmp   idle
            "fail:",
            "66 ba 04 05",                // mov   dx,0x504
            "ee",                         // out   dx,al
            "failloop:",
            "eb fe",                      // jmp   failloop
            "cfgsel:",
            "89 c8",                      // mov   eax,ecx
            "25 fc 00 00 00",             // and   eax,0xfc
            "09 d8",                      // or    eax,ebx
            "66 ba f8 0c",                // mov   dx,0xcf8
            "ef",                         // out   dx,eax
            "89 ca",                      // mov   edx,ecx
            "83 e2 03",                   // and   edx,0x3
            "81 c2 fc 0c 00 00",          // add   edx,0xcfc
            "c3",                         // ret
            "isr:",
            "66 ba 00 05",                // mov   dx,0x500
            "0f b7 05 02 20 01 00",       // movzx eax,word 0x12002
            "ef",                         // out   dx,eax
            "a1 08 20 01 00",             // mov   eax,0x12008
            "ef",                         // out   dx,eax
            "c7 05 b0 00 e0 fe 00 00 00 00",// mov   dword 0xfee000b0,0x0
            "66 ba 04 05",                // mov   dx,0x504
            "b0 01",                      // mov   al,0x1
            "ee",                         // out   dx,al
            "cf",                         // iret
            "spurious:",
            "66 ba 04 05",                // mov   dx,0x504
            "b0 ef",                      // mov   al,0xef
            "ee",                         // out   dx,al
            "cf",                         // iret
    };

    private final Vm vm;
    private final GuestCode code = GuestCode.of(CODE_TEXT);
    final List<Long> reports = new CopyOnWriteArrayList<>();
    volatile int done = -1;
    /** Extra state for a failure message (the device's counters). */
    java.util.function.Supplier<String> diagnostics = () -> "";

    /** Puts the guest's report and done ports on {@code vm}'s port bus. */
    TinyGuest(Vm vm) {
        this.vm = vm;
        vm.pio().register(REPORT_PORT, 8, this);
    }

    /** Skips the calling test, loudly, when this machine has no /dev/kvm. */
    static void assumeKvm() {
        Host.assumeKvm("tiny-guest tests");
    }

    int codeSize() {
        return code.size();
    }

    long label(String name) {
        return CODE + code.label(name);
    }

    /**
     * Writes code, GDT and IDT (every vector to the spurious handler, {@link #VECTOR} to the
     * queue interrupt handler) and points vCPU 0 at the code in 32-bit protected mode.
     */
    void load() throws GuestFault, SysException {
        var mem = vm.ram().memory();
        byte[] bytes = code.bytes();
        mem.write(CODE, bytes, 0, bytes.length);
        mem.writeLong(GDT, 0);
        mem.writeLong(GDT + 8, GDT_CODE32);
        mem.writeLong(GDT + 16, GDT_DATA32);
        for (int v = 0; v < 256; v++) {
            mem.writeLong(IDT + 8L * v, gate(v == VECTOR ? label("isr") : label("spurious")));
        }
        VcpuFd cpu = vm.vcpuFd(0);
        Sregs s = cpu.getSregs();
        flat(s.cs, 0x08, 0xB);
        for (Sregs.Segment d : new Sregs.Segment[] {s.ds, s.es, s.fs, s.gs, s.ss}) {
            flat(d, 0x10, 0x3);
        }
        s.gdtBase = GDT;
        s.gdtLimit = 3 * 8 - 1;
        s.idtBase = IDT;
        s.idtLimit = 256 * 8 - 1;
        s.cr0 = 0x11; // PE | ET: protected mode, no paging, caches on
        s.cr4 = 0;
        s.efer = 0;
        cpu.setSregs(s);
        Regs r = new Regs();
        r.rip = CODE;
        r.rsp = STACK;
        r.rflags = 2;
        cpu.setRegs(r);
    }

    private static long gate(long handler) {
        long low = (handler & 0xffff) | (0x08L << 16);
        long high = (handler & 0xffff_0000L) | GATE_INTERRUPT32;
        return low | high << 32;
    }

    private static void flat(Sregs.Segment seg, int selector, int type) {
        seg.base = 0;
        seg.limit = 0xFFFF_FFFF;
        seg.selector = selector;
        seg.type = type;
        seg.present = true;
        seg.dpl = 0;
        seg.s = true;
        seg.g = true;
        seg.l = false;
        seg.db = true;
        seg.avl = false;
        seg.unusable = false;
    }

    /** Runs the guest until it writes the done port; returns how the VM ended. */
    VmExit run(long timeoutMillis) throws Exception {
        vm.start();
        try {
            return vm.awaitExit(timeoutMillis);
        } catch (java.util.concurrent.TimeoutException e) {
            vm.terminate(VmExit.stopped("timeout"));
            vm.awaitExit(5_000);
            throw new AssertionError("the tiny guest did not finish within " + timeoutMillis + " ms; reports "
                    + reports.stream().map(v -> "0x" + Long.toHexString(v)).toList() + ", vCPU 0: "
                    + vm.vcpuFd(0).getRegs() + " (code at 0x" + Long.toHexString(CODE) + "); " + diagnostics.get()
                    + "; LAPIC SVR 0x" + Integer.toHexString(lapic(0xF0)) + " IRR 0x40-0x5f: 0x"
                    + Integer.toHexString(lapic(0x220)) + " ISR 0x" + Integer.toHexString(lapic(0x120))
                    + " TPR 0x" + Integer.toHexString(lapic(0x80)) + " ID 0x" + Integer.toHexString(lapic(0x20)), e);
        }
    }

    private int lapic(int reg) throws SysException {
        byte[] l = vm.vcpuFd(0).getLapic();
        return (l[reg] & 0xff) | (l[reg + 1] & 0xff) << 8 | (l[reg + 2] & 0xff) << 16 | (l[reg + 3] & 0xff) << 24;
    }

    @Override
    public long read(long offset, int size) {
        return size == 8 ? -1L : (1L << (8 * size)) - 1;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset == 0 && size == 4) {
            reports.add(value & 0xffffffffL);
        } else if (offset == DONE_PORT - REPORT_PORT && size == 1) {
            done = (int) value & 0xff;
            vm.terminate(VmExit.poweroff(String.format("tiny guest wrote 0x%02x to the done port", done)));
        }
    }
}
