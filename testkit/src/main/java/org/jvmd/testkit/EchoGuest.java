package org.jvmd.testkit;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The tiny guest of vmd's end-to-end tests (vmctl's VmdEndToEndTest and VmdShutdownTest) and of
 * the service container test (it's ServiceContainerTest, where the host has /dev/kvm): a
 * bzImage (Linux boot protocol 2.15) whose 64-bit entry is ~200 bytes of hand-assembled code
 * instead of a kernel. It runs under kvm_pvm (which emulates every instruction and cannot
 * boot a stock kernel) and in the lab.
 *
 * <p>What it does, on vmm-proc's platform (COM1 at 0x3f8, the ACPI PM1a block at 0x600 as the
 * FADT announces it, the local APIC at 0xfee00000 inside the loader's 4 GiB identity map):
 * <ol>
 *   <li>masks both 8259 PICs (OCW1 = 0xff), so no ExtINT reaches the vCPU;</li>
 *   <li>builds IDT gates for vectors 0x3f (APIC spurious) and 0x40 (timer) at 0x1000 and
 *       loads the IDT (its descriptor at 0x2000; low memory the loader leaves free);</li>
 *   <li>enables the local APIC (SVR, spurious vector 0x3f) with a periodic timer, vector 0x40,
 *       every 10 ms (divide by 1, initial count 10^7 at KVM's 1 GHz APIC bus; Intel SDM Vol. 3A
 *       §11.5.4): the guest sleeps in {@code hlt} between polls instead of spinning (with the
 *       in-kernel irqchip HLT blocks in KVM until an interrupt; docs/dev-notes/kvm.md);</li>
 *   <li>sets PM1_EN.PWRBTN_EN (ACPI 6.5 §4.8.3.1.2), so vmm-proc sees an OS that listens to the
 *       power button (a graceful stop presses it);</li>
 *   <li>loops: PWRBTN_STS set in PM1_STS → power off; a byte in the receiver (LSR.DR, 16550
 *       LSR bit 0) → read RBR, power off on {@link #POWER_OFF_BYTE}, else echo it to THR;
 *       nothing → rewrite IER (vmm-proc buffers console output until a newline or until the
 *       guest rewrites IER, as Linux's 8250 driver does when its transmit queue empties), then
 *       {@code sti; hlt; cli};</li>
 *   <li>power-off: PM1_CNT = SLP_TYP 5 (\_S5) | SLP_EN (ACPI 6.5 §4.8.3.2.1).</li>
 * </ol>
 * {@link #ignoringPowerButton()} builds the variant that enables the power-button event but
 * never looks at it: vmm-proc waits for it in vain, so the graceful stop must end forced.
 */
public final class EchoGuest {
    /** The byte that makes the guest power off (Ctrl-D). */
    public static final int POWER_OFF_BYTE = 0x04;

    /**
     * The 64-bit entry code, assembled from {@code echo-guest.s} in testkit's test resources (GNU as,
     * {@code .intel_syntax noprefix}, {@code .code64}; EchoGuestTest checks the two agree);
     * offsets in hex on the left.
     */
    private static final int[] CODE = {
        0xb0, 0xff,                                     // 00 start: mov al, 0xff
        0xe6, 0x21,                                     // 02   out 0x21, al          (master PIC IMR)
        0xe6, 0xa1,                                     // 04   out 0xa1, al          (slave PIC IMR)
        0x48, 0x8d, 0x05, 0xc0, 0x00, 0x00, 0x00,       // 06   lea rax, [rip + tick]
        0xbf, 0xf0, 0x13, 0x00, 0x00,                   // 0d   mov edi, 0x13f0       (IDT 0x1000 + 0x3f*16)
        0xb9, 0x02, 0x00, 0x00, 0x00,                   // 12   mov ecx, 2
        0x66, 0x89, 0x07,                               // 17 gate: mov word ptr [rdi], ax
        0x66, 0xc7, 0x47, 0x02, 0x10, 0x00,             // 1a   mov word ptr [rdi+2], 0x10   (__BOOT_CS)
        0x66, 0xc7, 0x47, 0x04, 0x00, 0x8e,             // 20   mov word ptr [rdi+4], 0x8e00 (P, interrupt gate)
        0x48, 0x89, 0xc2,                               // 26   mov rdx, rax
        0x48, 0xc1, 0xea, 0x10,                         // 29   shr rdx, 16
        0x66, 0x89, 0x57, 0x06,                         // 2d   mov word ptr [rdi+6], dx
        0x48, 0xc1, 0xea, 0x10,                         // 31   shr rdx, 16
        0x89, 0x57, 0x08,                               // 35   mov dword ptr [rdi+8], edx
        0x83, 0xc7, 0x10,                               // 38   add edi, 16
        0xe2, 0xda,                                     // 3b   loop gate
        0x66, 0xc7, 0x04, 0x25, 0x00, 0x20, 0x00, 0x00, 0x0f, 0x04, // 3d mov word ptr [0x2000], 0x40f
        0x48, 0xc7, 0x04, 0x25, 0x02, 0x20, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, // 47 mov qword ptr [0x2002], 0x1000
        0x0f, 0x01, 0x1c, 0x25, 0x00, 0x20, 0x00, 0x00, // 53   lidt [0x2000]
        0xbb, 0x00, 0x00, 0xe0, 0xfe,                   // 5b   mov ebx, 0xfee00000
        0xc7, 0x83, 0xf0, 0x00, 0x00, 0x00, 0x3f, 0x01, 0x00, 0x00, // 60 mov dword ptr [rbx+0xf0], 0x13f   (SVR)
        0xc7, 0x83, 0xe0, 0x03, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, // 6a mov dword ptr [rbx+0x3e0], 0xb    (divide by 1)
        0xc7, 0x83, 0x20, 0x03, 0x00, 0x00, 0x40, 0x00, 0x02, 0x00, // 74 mov dword ptr [rbx+0x320], 0x20040 (periodic, 0x40)
        0xc7, 0x83, 0x80, 0x03, 0x00, 0x00, 0x80, 0x96, 0x98, 0x00, // 7e mov dword ptr [rbx+0x380], 10000000
        0x66, 0xba, 0x02, 0x06,                         // 88   mov dx, 0x602         (PM1_EN)
        0x66, 0xb8, 0x00, 0x01,                         // 8c   mov ax, 0x100         (PWRBTN_EN)
        0x66, 0xef,                                     // 90   out dx, ax
        0x66, 0xba, 0x00, 0x06,                         // 92 poll: mov dx, 0x600     (PM1_STS)
        0x66, 0xed,                                     // 96   in ax, dx
        0x66, 0xa9, 0x00, 0x01,                         // 98   test ax, 0x100        (PWRBTN_STS)
        0x75, 0x21,                                     // 9c   jnz off
        0x66, 0xba, 0xfd, 0x03,                         // 9e   mov dx, 0x3fd         (LSR)
        0xec,                                           // a2   in al, dx
        0xa8, 0x01,                                     // a3   test al, 1            (DR)
        0x74, 0x0c,                                     // a5   jz idle
        0x66, 0xba, 0xf8, 0x03,                         // a7   mov dx, 0x3f8         (RBR/THR)
        0xec,                                           // ab   in al, dx
        0x3c, POWER_OFF_BYTE,                           // ac   cmp al, 0x04
        0x74, 0x0f,                                     // ae   je off
        0xee,                                           // b0   out dx, al            (echo)
        0xeb, 0xdf,                                     // b1   jmp poll
        0x66, 0xba, 0xf9, 0x03,                         // b3 idle: mov dx, 0x3f9     (IER)
        0x31, 0xc0,                                     // b7   xor eax, eax
        0xee,                                           // b9   out dx, al            (output paused: flush)
        0xfb,                                           // ba   sti
        0xf4,                                           // bb   hlt
        0xfa,                                           // bc   cli
        0xeb, 0xd3,                                     // bd   jmp poll
        0x66, 0xba, 0x04, 0x06,                         // bf off: mov dx, 0x604      (PM1_CNT)
        0x66, 0xb8, 0x00, 0x34,                         // c3   mov ax, 0x3400        (SLP_TYP 5 | SLP_EN)
        0x66, 0xef,                                     // c7   out dx, ax
        0xfa,                                           // c9 hang: cli               (vmm-proc ends the VM on S5)
        0xf4,                                           // ca   hlt
        0xeb, 0xfc,                                     // cb   jmp hang
        0xc7, 0x83, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // cd tick: mov dword ptr [rbx+0xb0], 0 (EOI)
        0x48, 0xcf,                                     // d7   iretq
    };
    /** Offset of the PWRBTN_STS test's immediate high byte (0x01 → bit 8); 0 ignores the button. */
    private static final int PWRBTN_TEST_IMM_HIGH = 0x9b;

    // Linux boot protocol 2.15 (Documentation/arch/x86/boot.rst, "The real-mode kernel header").
    private static final int SETUP_SECTS = 4;
    private static final int OFF_SETUP_SECTS = 0x1f1;
    private static final int OFF_SYSSIZE = 0x1f4;
    private static final int OFF_BOOT_FLAG = 0x1fe;
    private static final int OFF_JUMP = 0x200;
    private static final int OFF_HEADER = 0x202;
    private static final int OFF_VERSION = 0x206;
    private static final int OFF_LOADFLAGS = 0x211;
    private static final int OFF_INITRD_ADDR_MAX = 0x22c;
    private static final int OFF_KERNEL_ALIGNMENT = 0x230;
    private static final int OFF_RELOCATABLE = 0x234;
    private static final int OFF_XLOADFLAGS = 0x236;
    private static final int OFF_CMDLINE_SIZE = 0x238;
    private static final int OFF_PREF_ADDRESS = 0x258;
    private static final int OFF_INIT_SIZE = 0x260;
    private static final int HDRS = 0x5372_6448; // "HdrS"
    private static final int LOADED_HIGH = 0x01;
    private static final int XLF_KERNEL_64 = 0x01;
    /** The 64-bit entry point is 0x200 bytes into the protected-mode kernel (boot protocol 2.15 §64-bit boot). */
    private static final int ENTRY_64 = 0x200;
    private static final int KERNEL_BYTES = 4096;

    private EchoGuest() {
    }

    /** The guest that honours the power button. */
    public static byte[] bzImage() {
        return build(CODE, true);
    }

    /** The guest that enables the power-button event and then ignores it. */
    public static byte[] ignoringPowerButton() {
        return build(CODE, false);
    }

    /** The entry code's bytes. */
    public static byte[] code() {
        byte[] b = new byte[CODE.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) CODE[i];
        }
        return b;
    }

    /** What {@link #rebooting()} writes to its serial console each time it boots. */
    public static final byte REBOOT_MARK = 'R';

    /**
     * A guest that writes {@link #REBOOT_MARK} to COM1 and resets the machine through the i8042
     * (command 0xfe, pulse the reset line): {@code mov dx, 0x3f8; mov al, 'R'; out dx, al;
     * mov al, 0xfe; out 0x64, al; jmp $}. vmm-proc reports a reboot; vmd starts it again.
     */
    public static byte[] rebooting() {
        return build(new int[] {0x66, 0xba, 0xf8, 0x03, 0xb0, REBOOT_MARK, 0xee, 0xb0, 0xfe, 0xe6, 0x64, 0xeb, 0xfe},
                true);
    }

    private static byte[] build(int[] code, boolean honourPowerButton) {
        int setup = (SETUP_SECTS + 1) * 512;
        ByteBuffer b = ByteBuffer.allocate(setup + KERNEL_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(OFF_SETUP_SECTS, (byte) SETUP_SECTS);
        b.putInt(OFF_SYSSIZE, KERNEL_BYTES / 16);
        b.putShort(OFF_BOOT_FLAG, (short) 0xaa55);
        b.put(OFF_JUMP, (byte) 0xeb); // jmp short over the header
        b.put(OFF_JUMP + 1, (byte) (0x26c - 0x202));
        b.putInt(OFF_HEADER, HDRS);
        b.putShort(OFF_VERSION, (short) 0x020f);
        b.put(OFF_LOADFLAGS, (byte) LOADED_HIGH);
        b.putInt(OFF_INITRD_ADDR_MAX, 0x7fff_ffff);
        b.putInt(OFF_KERNEL_ALIGNMENT, 0x20_0000);
        b.put(OFF_RELOCATABLE, (byte) 1);
        b.putShort(OFF_XLOADFLAGS, (short) XLF_KERNEL_64);
        b.putInt(OFF_CMDLINE_SIZE, 2047);
        b.putLong(OFF_PREF_ADDRESS, 0x100_0000L);
        b.putInt(OFF_INIT_SIZE, 0x10_0000);
        for (int i = 0; i < code.length; i++) {
            b.put(setup + ENTRY_64 + i, (byte) code[i]);
        }
        if (!honourPowerButton && code == CODE) {
            b.put(setup + ENTRY_64 + PWRBTN_TEST_IMM_HIGH, (byte) 0);
        }
        return b.array();
    }
}
