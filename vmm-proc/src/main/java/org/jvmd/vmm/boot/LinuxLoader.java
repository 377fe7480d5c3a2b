package org.jvmd.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.vmm.MemoryLayout;

/**
 * Loads a bzImage, an initrd and a command line into guest RAM and describes the CPU state
 * for the kernel's 64-bit entry point (Linux x86 boot protocol, "64-bit BOOT PROTOCOL").
 *
 * <p>Low-memory map (all inside the e820 RAM below the EBDA):
 * <pre>
 *   0x00500  GDT: null, null, __BOOT_CS (0x10), __BOOT_DS (0x18)
 *   0x07000  zero page (struct boot_params); the boot stack grows down from here
 *   0x09000  PML4, 0x0A000 PDPT, 0x0B000-0x0EFFF four page directories:
 *            the first 4 GiB identity-mapped with 2 MiB pages
 *   0x20000  command line (NUL-terminated)
 *   pref_address (16 MiB for distribution kernels): the protected-mode kernel,
 *            which owns [pref_address, pref_address + init_size)
 *   highest page below min(initrd_addr_max + 1, end of low RAM): the initrd
 * </pre>
 */
public final class LinuxLoader {
    static final long GDT_ADDR = 0x500;
    static final long ZERO_PAGE_ADDR = 0x7000;
    static final long STACK_TOP = ZERO_PAGE_ADDR;
    static final long PML4_ADDR = 0x9000;
    static final long PDPT_ADDR = 0xA000;
    static final long PD_ADDR = 0xB000;
    /** Four page directories of 512 2-MiB entries each map 4 GiB. */
    static final int PD_COUNT = 4;
    static final long CMDLINE_ADDR = 0x2_0000;
    static final long PAGE = 4096;
    /** The piece of a kernel or initrd in the heap at a time while it is copied into guest memory. */
    static final int CHUNK = 64 * 1024;

    /** The 64-bit entry is 0x200 past the start of the loaded protected-mode kernel (boot protocol, "64-bit BOOT PROTOCOL"). */
    static final long ENTRY_64_OFFSET = 0x200;
    /** __BOOT_CS and __BOOT_DS (arch/x86/include/asm/segment.h: GDT_ENTRY_BOOT_CS = 2, GDT_ENTRY_BOOT_DS = 3). */
    static final int BOOT_CS = 0x10;
    static final int BOOT_DS = 0x18;
    /** Flat 4 GiB 64-bit code, execute/read, accessed: G=1 L=1 P=1 S=1 type=0xB (Intel SDM Vol. 3A §3.4.5). */
    static final long GDT_CODE64 = 0x00AF_9B00_0000_FFFFL;
    /** Flat 4 GiB data, read/write, accessed: G=1 D/B=1 P=1 S=1 type=0x3 (Intel SDM Vol. 3A §3.4.5). */
    static final long GDT_DATA = 0x00CF_9300_0000_FFFFL;
    static final int GDT_ENTRIES = 4;

    // Control register and EFER bits (Intel SDM Vol. 3A §2.5, §2.2.1).
    static final long CR0_PE = 1L;
    static final long CR0_ET = 1L << 4;
    static final long CR0_PG = 1L << 31;
    static final long CR4_PAE = 1L << 5;
    static final long EFER_LME = 1L << 8;
    static final long EFER_LMA = 1L << 10;
    /** RFLAGS bit 1 is reserved and always 1; IF = 0: interrupts disabled at entry. */
    static final long RFLAGS_RESERVED = 0x2;
    // Page-table entry bits (Intel SDM Vol. 3A §4.5, Tables 4-15 to 4-18).
    static final long PTE_PRESENT = 1L;
    static final long PTE_WRITABLE = 1L << 1;
    static final long PTE_PAGE_SIZE = 1L << 7;

    /** The result of a load: the guest-physical placement and the BSP's entry state. */
    public record Loaded(BootLayout layout, BootCpuState cpu) {
    }

    private LinuxLoader() {
    }

    /**
     * Decides where everything goes, without touching memory: fails with the operator-facing
     * reason if the kernel, initrd or command line cannot fit.
     */
    public static BootLayout plan(MemoryLayout memory, E820Map e820, BzImage kernel, long initrdSize, int cmdlineBytes)
            throws BootException {
        long kernelAddr = kernel.prefAddress();
        long kernelEnd = kernelAddr + kernel.initSize();
        if (kernelEnd > memory.lowRamEnd() || !e820.isRam(kernelAddr, kernel.initSize())) {
            throw new BootException(String.format(
                    "memory too small for the kernel: it needs %s of RAM from 0x%x (init_size %s), the VM has %s",
                    mib(kernelEnd), kernelAddr, mib(kernel.initSize()), mib(memory.memorySize())));
        }
        long maxCmdline = Math.min(kernel.cmdlineSize(), E820Map.EBDA_START - CMDLINE_ADDR - 1);
        if (cmdlineBytes > maxCmdline) {
            throw new BootException("cmdline too long: " + cmdlineBytes + " bytes, the kernel accepts at most " + maxCmdline);
        }
        long initrdAddr = 0;
        if (initrdSize > 0) {
            // initrd_addr_max is the highest address the initrd may occupy (inclusive).
            long top = Math.min(kernel.initrdAddrMax() + 1, memory.lowRamEnd());
            initrdAddr = (top - initrdSize) & -PAGE;
            if (initrdSize > top || initrdAddr < kernelEnd || !e820.isRam(initrdAddr, initrdSize)) {
                long room = Math.max(0, top - kernelEnd);
                throw new BootException(String.format(
                        "initrd too large: %d bytes (%s), at most %d bytes (%s) fit between the kernel's end 0x%x and 0x%x",
                        initrdSize, mib(initrdSize), room, mib(room), kernelEnd, top));
            }
        }
        return new BootLayout(ZERO_PAGE_ADDR, CMDLINE_ADDR, cmdlineBytes, PML4_ADDR, GDT_ADDR,
                kernelAddr, kernelEnd, initrdAddr, initrdSize, kernelAddr + ENTRY_64_OFFSET, e820);
    }

    /**
     * Writes the kernel, initrd, command line, zero page, GDT and page tables into {@code mem}
     * and returns where they went with the BSP's entry state.
     *
     * The kernel and initrd are copied from their files {@link #CHUNK} bytes at a time: they
     * never sit whole in the heap.
     *
     * @param initrd the initramfs, or {@link BootFile#NONE}
     * @param acpiRsdp guest-physical address of the ACPI RSDP, or 0 to let the kernel scan for it
     */
    public static Loaded load(GuestMemory mem, MemoryLayout memory, E820Map e820, BzImage kernel, BootFile initrd,
                              String cmdline, long acpiRsdp) throws BootException {
        byte[] cmd = cmdline.getBytes(StandardCharsets.UTF_8);
        if (cmdline.indexOf('\0') >= 0) {
            throw new BootException("cmdline contains a NUL byte");
        }
        long initrdSize = initrd.size();
        BootLayout l = plan(memory, e820, kernel, initrdSize, cmd.length);
        ZeroPage zp = new ZeroPage(kernel).cmdline(l.cmdline()).e820(e820);
        if (initrdSize > 0) {
            zp.ramdisk(l.initrd(), initrdSize);
        }
        if (acpiRsdp != 0) {
            zp.acpiRsdp(acpiRsdp);
        }
        try {
            byte[] chunk = new byte[CHUNK];
            copy(kernel.file(), kernel.kernelOffset(), kernel.kernelLength(), mem, l.kernel(), chunk);
            copy(initrd, 0, initrdSize, mem, l.initrd(), chunk);
            mem.write(l.cmdline(), cmd, 0, cmd.length);
            mem.writeByte(l.cmdline() + cmd.length, (byte) 0);
            byte[] zero = zp.bytes();
            mem.write(l.zeroPage(), zero, 0, zero.length);
            byte[] gdt = gdt();
            mem.write(GDT_ADDR, gdt, 0, gdt.length);
            byte[] pt = identityPageTables();
            mem.write(PML4_ADDR, pt, 0, pt.length);
        } catch (GuestFault f) {
            // plan() checked every range against the layout: guest memory is smaller than its layout.
            throw new IllegalStateException("guest memory does not back its layout: " + f.getMessage(), f);
        }
        return new Loaded(l, entryState(l));
    }

    /** Copies {@code len} bytes of {@code f} from {@code offset} to guest-physical {@code gpa} through {@code chunk}. */
    static void copy(BootFile f, long offset, long len, GuestMemory mem, long gpa, byte[] chunk)
            throws BootException, GuestFault {
        for (long done = 0; done < len; ) {
            int n = (int) Math.min(chunk.length, len - done);
            f.readFully(offset + done, chunk, 0, n);
            mem.write(gpa + done, chunk, 0, n);
            done += n;
        }
    }

    /** The GDT: two null entries, then __BOOT_CS and __BOOT_DS. */
    static byte[] gdt() {
        ByteBuffer b = ByteBuffer.allocate(GDT_ENTRIES * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(BOOT_CS, GDT_CODE64);
        b.putLong(BOOT_DS, GDT_DATA);
        return b.array();
    }

    /**
     * PML4, PDPT and four page directories (six contiguous pages from PML4_ADDR) that
     * identity-map [0, 4 GiB) with 2 MiB pages (Intel SDM Vol. 3A §4.5, 4-level paging).
     */
    static byte[] identityPageTables() {
        ByteBuffer b = ByteBuffer.allocate((int) ((2 + PD_COUNT) * PAGE)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, PDPT_ADDR | PTE_PRESENT | PTE_WRITABLE);
        for (int i = 0; i < PD_COUNT; i++) {
            b.putLong((int) (PAGE + i * 8), (PD_ADDR + i * PAGE) | PTE_PRESENT | PTE_WRITABLE);
            for (int j = 0; j < 512; j++) {
                long phys = ((long) i << 30) | ((long) j << 21);
                b.putLong((int) ((2 + i) * PAGE + j * 8), phys | PTE_PRESENT | PTE_WRITABLE | PTE_PAGE_SIZE);
            }
        }
        return b.array();
    }

    static BootCpuState entryState(BootLayout l) {
        return new BootCpuState(l.entry(), l.zeroPage(), STACK_TOP, RFLAGS_RESERVED,
                CR0_PE | CR0_ET | CR0_PG, PML4_ADDR, CR4_PAE, EFER_LME | EFER_LMA,
                Segment.fromDescriptor(BOOT_CS, GDT_CODE64), Segment.fromDescriptor(BOOT_DS, GDT_DATA),
                GDT_ADDR, GDT_ENTRIES * 8 - 1, 0, 0);
    }

    static String mib(long bytes) {
        return bytes % (1 << 20) == 0 ? (bytes >> 20) + " MiB" : String.format("%.1f MiB", bytes / 1048576.0);
    }
}
