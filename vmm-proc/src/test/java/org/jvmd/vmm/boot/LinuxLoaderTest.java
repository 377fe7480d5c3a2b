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
import org.junit.jupiter.api.io.TempDir;

class LinuxLoaderTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    /** Sparse guest memory with RAM where {@code layout} has it. */
    private static SparseGuestMemory sparse(MemoryLayout layout) {
        return new SparseGuestMemory(layout.ramTop(), layout::isRam);
    }

    private static LinuxLoader.Loaded load(SparseGuestMemory mem, MemoryLayout layout, SyntheticBzImage k,
                                           byte[] initrd, String cmdline) throws BootException {
        return LinuxLoader.load(mem, layout, E820Map.standard(layout), k.parse(), BootFile.of("initrd", initrd), cmdline, 0);
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
        LinuxLoader.Loaded r = LinuxLoader.load(mem, layout, E820Map.standard(layout), k.parse(),
                BootFile.of("initrd", initrd), "console=ttyS0 quiet", 0xF_0000L);
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

    /**
     * vmm-proc's way: kernel and initrd read from their files a chunk at a time, never whole
     * in the heap. Sizes around the chunk's: a little short of it, a little over, several and a bit (syssize counts 16-byte units).
     */
    @Test
    void kernelAndInitrdFromFilesLandByteForByteWhateverTheirSizeAgainstTheChunk(@TempDir Path dir) throws Exception {
        MemoryLayout layout = MemoryLayout.of(256 * MIB);
        for (int kernelBytes : new int[] {LinuxLoader.CHUNK - 16, LinuxLoader.CHUNK + 16, 3 * LinuxLoader.CHUNK + 4080}) {
            byte[] image = new SyntheticBzImage().kernelBytes(kernelBytes).initSize(8 * MIB).build();
            byte[] initrd = new byte[2 * LinuxLoader.CHUNK + kernelBytes % 4096];
            new java.util.Random(kernelBytes).nextBytes(initrd);
            Path kf = Files.write(dir.resolve("k" + kernelBytes), image);
            Path rf = Files.write(dir.resolve("r" + kernelBytes), initrd);
            SparseGuestMemory mem = sparse(layout);
            LinuxLoader.Loaded r;
            try (BootFile k = BootFile.open("kernel", kf); BootFile rd = BootFile.open("initrd", rf)) {
                r = LinuxLoader.load(mem, layout, E820Map.standard(layout), BzImage.parse(k), rd, "x", 0);
            }
            byte[] got = new byte[kernelBytes];
            mem.read(r.layout().kernel(), got, 0, got.length);
            assertArrayEquals(Arrays.copyOfRange(image, image.length - kernelBytes, image.length), got, "kernel of " + kernelBytes);
            byte[] placed = new byte[initrd.length];
            mem.read(r.layout().initrd(), placed, 0, placed.length);
            assertArrayEquals(initrd, placed, "initrd beside a kernel of " + kernelBytes);
            assertEquals(initrd.length, mem.readInt(r.cpu().rsi() + 0x21C), "ramdisk_size");
        }
    }

    /** A file cut short after it was opened (vm.conf's kernel rewritten meanwhile) fails the load by name. */
    @Test
    void aFileThatShrinksWhileLoadingIsABootExceptionNotAShortLoad(@TempDir Path dir) throws Exception {
        MemoryLayout layout = MemoryLayout.of(256 * MIB);
        byte[] image = new SyntheticBzImage().kernelBytes(3 * LinuxLoader.CHUNK).initSize(8 * MIB).build();
        Path kf = Files.write(dir.resolve("k"), image);
        Path rf = Files.write(dir.resolve("r"), new byte[LinuxLoader.CHUNK * 2]);
        try (BootFile k = BootFile.open("kernel", kf); BootFile rd = BootFile.open("initrd", rf)) {
            BzImage parsed = BzImage.parse(k);
            try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(rf, java.nio.file.StandardOpenOption.WRITE)) {
                c.truncate(LinuxLoader.CHUNK + 10);
            }
            BootException e = assertThrows(BootException.class,
                    () -> LinuxLoader.load(sparse(layout), layout, E820Map.standard(layout), parsed, rd, "x", 0));
            assertEquals("initrd: the file ended at " + (LinuxLoader.CHUNK + 10) + " bytes while it was loaded (it had "
                    + 2 * LinuxLoader.CHUNK + " when opened)", e.getMessage());
        }
        java.io.IOException none = assertThrows(java.io.IOException.class, () -> BootFile.open("kernel", dir.resolve("nope")));
        assertEquals("kernel: " + dir.resolve("nope") + ": no such file", none.getMessage());
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
        LinuxLoader.Loaded r;
        // as vmm-proc loads them: read from the files where they lie, a chunk at a time
        try (BootFile kf = BootFile.open("kernel", kernel); BootFile rf = BootFile.open("initrd", initrd)) {
            r = LinuxLoader.load(mem, layout, E820Map.standard(layout), BzImage.parse(kf), rf, "console=ttyS0", 0);
        }
        byte[] rd = Files.readAllBytes(initrd);
        assertTrue(r.layout().initrd() >= r.layout().kernelEnd(), r.layout().toString());
        assertEquals(512 * MIB, (r.layout().initrd() + rd.length + 4095) & -4096L);
        byte[] placed = new byte[rd.length];
        mem.read(r.layout().initrd(), placed, 0, placed.length);
        assertArrayEquals(rd, placed, "the initrd in guest memory is the file");
        byte[] file = Files.readAllBytes(kernel);
        byte[] loaded = new byte[file.length - BzImage.parse(file).kernelOffset()];
        mem.read(r.layout().kernel(), loaded, 0, loaded.length);
        assertArrayEquals(Arrays.copyOfRange(file, file.length - loaded.length, file.length), loaded,
                "the protected-mode kernel in guest memory is the file's");
        // The gzip'd initramfs starts with the gzip magic where the zero page says it is.
        long at = mem.readInt(r.cpu().rsi() + 0x218) & 0xFFFF_FFFFL;
        assertEquals((short) 0x8B1F, mem.readShort(at));
    }
}
