package org.jvmd.vmm.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jvmd.testkit.Host;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.SparseGuestMemory;
import org.jvmd.vmm.MemoryLayout;
import org.jvmd.vmm.TestGuest;
import org.junit.jupiter.api.Test;

class LinuxLoaderTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    /** Sparse guest memory with RAM where {@code layout} has it. */
    private static SparseGuestMemory sparse(MemoryLayout layout) {
        return new SparseGuestMemory(layout.ramTop(), layout::isRam);
    }

    private static LinuxLoader.Loaded load(SparseGuestMemory mem, MemoryLayout layout, SyntheticBzImage k,
                                           byte[] initrd, String cmdline) throws BootException {
        return LinuxLoader.load(mem, layout, E820Map.standard(layout), k.parse(), initrd, cmdline, 0);
    }

    @Test
    void loadsTheProtectedModeKernelAtPrefAddressAndEntersAt0x200() throws Exception {
        MemoryLayout layout = MemoryLayout.of(128 * MIB);
        SparseGuestMemory mem = sparse(layout);
        SyntheticBzImage k = new SyntheticBzImage().kernelBytes(10_000);
        LinuxLoader.Loaded r = load(mem, layout, k, new byte[0], "console=ttyS0");
        assertEquals(0x100_0000L, r.layout().kernel());
        assertEquals(0x100_0200L, r.cpu().rip());
        byte[] got = new byte[10_000];
        mem.read(0x100_0000L, got, 0, got.length);
        for (int i = 0; i < got.length; i++) {
            assertEquals(SyntheticBzImage.kernelByte(i), got[i], "kernel byte " + i);
        }
    }

    @Test
    void zeroPageHoldsTheSetupHeaderLoaderIdCmdlineInitrdAndE820() throws Exception {
        MemoryLayout layout = MemoryLayout.of(256 * MIB);
        SparseGuestMemory mem = sparse(layout);
        byte[] initrd = new byte[3 * 4096 + 100];
        Arrays.fill(initrd, (byte) 0x5A);
        SyntheticBzImage k = new SyntheticBzImage();
        LinuxLoader.Loaded r = LinuxLoader.load(mem, layout, E820Map.standard(layout), k.parse(), initrd,
                "console=ttyS0 quiet", 0xF_0000L);
        long zp = r.cpu().rsi();
        assertEquals(LinuxLoader.ZERO_PAGE_ADDR, zp);
        assertEquals(BzImage.HDRS_MAGIC, mem.readInt(zp + 0x202));
        assertEquals((byte) 0xFF, mem.readByte(zp + 0x210), "type_of_loader: undefined");
        long cmd = mem.readInt(zp + 0x228) & 0xFFFF_FFFFL;
        byte[] s = new byte[20];
        mem.read(cmd, s, 0, 20);
        assertEquals("console=ttyS0 quiet\0", new String(s, StandardCharsets.US_ASCII));
        assertEquals(r.layout().initrd(), mem.readInt(zp + 0x218) & 0xFFFF_FFFFL);
        assertEquals(initrd.length, mem.readInt(zp + 0x21C));
        assertEquals(0, mem.readInt(zp + 0x0C0), "ext_ramdisk_image: initrd below 4 GiB");
        assertEquals(0xF_0000L, mem.readLong(zp + 0x070), "acpi_rsdp_addr");
        assertEquals(4, mem.readByte(zp + 0x1E8), "e820_entries");
        long e3 = zp + 0x2D0 + 3 * 20;
        assertEquals(0x10_0000L, mem.readLong(e3));
        assertEquals(255 * MIB, mem.readLong(e3 + 8));
        assertEquals(E820Entry.RAM, mem.readInt(e3 + 16));
        byte[] placed = new byte[initrd.length];
        mem.read(r.layout().initrd(), placed, 0, placed.length);
        assertArrayEquals(initrd, placed);
    }

    @Test
    void initrdGoesToTheHighestPageBelowTheEndOfRam() throws Exception {
        MemoryLayout layout = MemoryLayout.of(256 * MIB);
        BootLayout l = LinuxLoader.plan(layout, E820Map.standard(layout), new SyntheticBzImage().parse(), 5000, 10);
        assertEquals(256 * MIB - 8192, l.initrd());
        assertEquals(0, l.initrd() % 4096);
    }

    @Test
    void initrdStaysBelowInitrdAddrMax() throws Exception {
        MemoryLayout layout = MemoryLayout.of(3 * GIB);
        BzImage k = new SyntheticBzImage().initrdAddrMax(0x37FF_FFFFL).parse();
        BootLayout l = LinuxLoader.plan(layout, E820Map.standard(layout), k, 3 * MIB, 10);
        assertEquals(0x3800_0000L - 3 * MIB, l.initrd());
        assertTrue(l.initrd() + l.initrdSize() - 1 <= k.initrdAddrMax());
    }

    @Test
    void initrdOfALargeVmStaysBelowThePciHole() throws Exception {
        MemoryLayout layout = MemoryLayout.of(8 * GIB);
        BootLayout l = LinuxLoader.plan(layout, E820Map.standard(layout),
                new SyntheticBzImage().initrdAddrMax(0xFFFF_FFFFL).parse(), 40 * MIB, 10);
        assertEquals(0xC000_0000L - 40 * MIB, l.initrd());
    }

    @Test
    void refusesMemoryTooSmallForTheKernel() {
        MemoryLayout layout = MemoryLayout.of(64 * MIB);
        BzImage k;
        try {
            k = new SyntheticBzImage().initSize(0x337_8000L).parse();
        } catch (BootException e) {
            throw new AssertionError(e);
        }
        BootException e = assertThrows(BootException.class,
                () -> LinuxLoader.plan(layout, E820Map.standard(layout), k, 0, 10));
        assertEquals("memory too small for the kernel: it needs 67.5 MiB of RAM from 0x1000000 (init_size 51.5 MiB),"
                + " the VM has 64 MiB", e.getMessage());
    }

    @Test
    void refusesAnInitrdThatDoesNotFitAboveTheKernel() throws Exception {
        MemoryLayout layout = MemoryLayout.of(64 * MIB);
        BzImage k = new SyntheticBzImage().initSize(32 * MIB).parse();
        BootException e = assertThrows(BootException.class,
                () -> LinuxLoader.plan(layout, E820Map.standard(layout), k, 17 * MIB, 10));
        assertEquals("initrd too large: 17825792 bytes (17 MiB), at most 16777216 bytes (16 MiB) fit between"
                + " the kernel's end 0x3000000 and 0x4000000", e.getMessage());
        // Exactly the room left fits.
        assertEquals(48 * MIB, LinuxLoader.plan(layout, E820Map.standard(layout), k, 16 * MIB, 10).initrd());
    }

    @Test
    void refusesACmdlineLongerThanTheKernelAccepts() throws Exception {
        MemoryLayout layout = MemoryLayout.of(64 * MIB);
        SyntheticBzImage k = new SyntheticBzImage().cmdlineSize(16);
        BootException e = assertThrows(BootException.class,
                () -> load(sparse(layout), layout, k, new byte[0], "x".repeat(17)));
        assertEquals("cmdline too long: 17 bytes, the kernel accepts at most 16", e.getMessage());
        load(sparse(layout), layout, k, new byte[0], "x".repeat(16));
    }

    @Test
    void refusesACmdlineWithANulByte() {
        MemoryLayout layout = MemoryLayout.of(64 * MIB);
        assertThrows(BootException.class,
                () -> load(sparse(layout), layout, new SyntheticBzImage(), new byte[0], "a\0b"));
    }

    @Test
    void gdtHoldsFlat64BitBootCsAndFlatBootDs() {
        BootCpuState cpu = LinuxLoader.entryState(new BootLayout(0x7000, 0x20000, 0, 0x9000, 0x500,
                0x100_0000L, 0x200_0000L, 0, 0, 0x100_0200L, null));
        Segment cs = cpu.code();
        assertEquals(0x10, cs.selector());
        assertEquals(0, cs.base());
        assertEquals(0xFFFF_FFFF, cs.limit());
        assertEquals(0xB, cs.type(), "execute/read, accessed");
        assertTrue(cs.l() && !cs.db() && cs.present() && cs.s() && cs.g());
        Segment ds = cpu.data();
        assertEquals(0x18, ds.selector());
        assertEquals(0x3, ds.type(), "read/write, accessed");
        assertTrue(ds.db() && !ds.l() && ds.present() && ds.g());
        assertEquals(0xFFFF_FFFF, ds.limit());
        byte[] gdt = LinuxLoader.gdt();
        assertEquals(31, cpu.gdtLimit());
        assertEquals(LinuxLoader.GDT_CODE64, java.nio.ByteBuffer.wrap(gdt).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0x10));
    }

    @Test
    void entryStateIsLongModeWithPagingAndInterruptsOff() throws Exception {
        MemoryLayout layout = MemoryLayout.of(128 * MIB);
        BootCpuState cpu = load(sparse(layout), layout, new SyntheticBzImage(), new byte[0], "").cpu();
        assertEquals(0x8000_0011L, cpu.cr0(), "PG | ET | PE");
        assertEquals(0x20, cpu.cr4(), "PAE");
        assertEquals(0x500, cpu.efer(), "LMA | LME");
        assertEquals(LinuxLoader.PML4_ADDR, cpu.cr3());
        assertEquals(0, cpu.rflags() & 0x200, "IF clear");
        assertEquals(2, cpu.rflags());
    }

    @Property(tries = 300)
    void pageTablesIdentityMapTheFirst4GiB(@ForAll @LongRange(min = 0, max = (1L << 32) - 1) long va) throws Exception {
        MemoryLayout layout = MemoryLayout.of(64 * MIB);
        SparseGuestMemory mem = sparse(layout);
        byte[] pt = LinuxLoader.identityPageTables();
        mem.write(LinuxLoader.PML4_ADDR, pt, 0, pt.length);
        assertEquals(va, walk(mem, LinuxLoader.PML4_ADDR, va));
    }

    /** A 4-level page walk (Intel SDM Vol. 3A §4.5) that accepts 2 MiB leaves only. */
    private static long walk(SparseGuestMemory mem, long cr3, long va) throws GuestFault {
        long pml4e = mem.readLong(cr3 + ((va >>> 39) & 511) * 8);
        assertEquals(3, pml4e & 3, "PML4E present+writable");
        long pdpte = mem.readLong((pml4e & 0xF_FFFF_FFFF_F000L) + ((va >>> 30) & 511) * 8);
        assertEquals(3, pdpte & 3, "PDPTE present+writable");
        assertEquals(0, pdpte & 0x80, "no 1 GiB pages");
        long pde = mem.readLong((pdpte & 0xF_FFFF_FFFF_F000L) + ((va >>> 21) & 511) * 8);
        assertEquals(0x83, pde & 0x83, "2 MiB page, present, writable");
        return (pde & 0xF_FFFF_FFE0_0000L) | (va & 0x1F_FFFFL);
    }

    @Test
    void loadsTheRealKernelAndInitrdInto512MiB() throws Exception {
        Path kernel = TestGuest.kernel().orElse(null);
        Path initrd = TestGuest.initrd().orElse(null);
        Host.skipIf(kernel != null && initrd != null ? java.util.Optional.empty() : java.util.Optional.of(
                "no real test guest (run scripts/test-guest, or set -Djvmd.test.kernel/-Djvmd.test.initrd)"), "LinuxLoaderTest");
        MemoryLayout layout = MemoryLayout.of(512 * MIB);
        SparseGuestMemory mem = sparse(layout);
        BzImage k = BzImage.parse(Files.readAllBytes(kernel));
        byte[] rd = Files.readAllBytes(initrd);
        LinuxLoader.Loaded r = LinuxLoader.load(mem, layout, E820Map.standard(layout), k, rd, "console=ttyS0", 0);
        assertTrue(r.layout().initrd() >= r.layout().kernelEnd(), r.layout().toString());
        assertEquals(512 * MIB, (r.layout().initrd() + rd.length + 4095) & -4096L);
        // The gzip'd initramfs starts with the gzip magic where the zero page says it is.
        long at = mem.readInt(r.cpu().rsi() + 0x218) & 0xFFFF_FFFFL;
        assertEquals((short) 0x8B1F, mem.readShort(at));
    }
}
