package org.jvmd.vmm.boot;

/**
 * The bootstrap processor's registers at the kernel's 64-bit entry (boot protocol,
 * "64-bit BOOT PROTOCOL"): long mode with paging, a flat __BOOT_CS (0x10) and __BOOT_DS
 * (0x18) from our GDT, interrupts off, %rsi = the zero page. The VMM core copies these
 * into KVM_SET_SREGS / KVM_SET_REGS; registers not named here keep their reset values.
 */
public record BootCpuState(long rip, long rsi, long rsp, long rflags,
                           long cr0, long cr3, long cr4, long efer,
                           Segment code, Segment data,
                           long gdtBase, int gdtLimit, long idtBase, int idtLimit) {
}
