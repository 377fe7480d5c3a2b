package org.jvmd.vmm.acpi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.HeapGuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AcpiTablesTest {
    static final long MMIO = 0xc000_0000L;
    static final long MMIO_SIZE = 0x3ec0_0000L;
    static final long RSDP = 0xe0000;
    static final long TABLES = 0xe0040;

    final HeapGuestMemory mem = new HeapGuestMemory(1 << 20);

    static byte[] copy(GuestMemory m, long gpa, int len) {
        byte[] b = new byte[len];
        try {
            m.read(gpa, b, 0, len);
        } catch (GuestFault f) {
            throw new AssertionError(f);
        }
        return b;
    }

    AcpiTables.Layout install(int vcpus) throws Exception {
        return new AcpiTables(AcpiTables.Config.pc(vcpus, MMIO, MMIO_SIZE)).install(mem, RSDP, TABLES);
    }

    ByteBuffer at(long gpa, int len) {
        return ByteBuffer.wrap(copy(mem, gpa, len)).order(ByteOrder.LITTLE_ENDIAN);
    }

    byte[] table(long gpa) {
        int len = at(gpa, 8).getInt(4);
        return copy(mem, gpa, len);
    }

    static String signature(byte[] t) {
        return new String(t, 0, 4, StandardCharsets.US_ASCII);
    }

    static int sum(byte[] a, int off, int len) {
        int s = 0;
        for (int i = off; i < off + len; i++) {
            s += a[i];
        }
        return s & 0xff;
    }

    ByteBuffer le(byte[] t) {
        return ByteBuffer.wrap(t).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** MADT entries as (type, bytes). */
    static List<byte[]> madtEntries(byte[] madt) {
        List<byte[]> out = new ArrayList<>();
        for (int i = AcpiTables.HEADER + 8; i < madt.length; ) {
            int len = madt[i + 1] & 0xff;
            assertTrue(len >= 2, "entry length");
            out.add(Arrays.copyOfRange(madt, i, i + len));
            i += len;
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 8, 254})
    void acpiTablesChecksumToZero(int vcpus) throws Exception {
        AcpiTables.Layout l = install(vcpus);
        for (long t : new long[] {l.xsdt(), l.rsdt(), l.fadt(), l.dsdt(), l.madt()}) {
            byte[] bytes = table(t);
            assertEquals(0, sum(bytes, 0, bytes.length), signature(bytes));
        }
        byte[] rsdp = copy(mem, RSDP, 36);
        assertEquals(0, sum(rsdp, 0, 20), "RSDP 1.0 checksum");
        assertEquals(0, sum(rsdp, 0, 36), "RSDP extended checksum");
    }

    @Test
    void rsdpSitsInTheScanRangeAndPointsToXsdtAndRsdt() throws Exception {
        AcpiTables.Layout l = install(2);
        ByteBuffer r = at(RSDP, 36);
        byte[] sig = new byte[8];
        r.get(sig);
        assertEquals("RSD PTR ", new String(sig, StandardCharsets.US_ASCII));
        assertEquals(2, r.get(15), "revision 2: XSDT present");
        assertEquals(l.rsdt(), r.getInt(16) & 0xffffffffL);
        assertEquals(36, r.getInt(20));
        assertEquals(l.xsdt(), r.getLong(24));
        assertTrue(RSDP >= AcpiTables.RSDP_SCAN_START && RSDP + 36 <= AcpiTables.RSDP_SCAN_END && RSDP % 16 == 0);
        assertTrue(l.end() <= 1L << 32);
    }

    @Test
    void xsdtAndRsdtListFadtAndMadt() throws Exception {
        AcpiTables.Layout l = install(1);
        byte[] x = table(l.xsdt());
        assertEquals("XSDT", signature(x));
        assertEquals(AcpiTables.HEADER + 16, x.length);
        assertEquals("FACP", signature(table(le(x).getLong(36))));
        assertEquals("APIC", signature(table(le(x).getLong(44))));
        byte[] r = table(l.rsdt());
        assertEquals(l.fadt(), le(r).getInt(36));
        assertEquals(l.madt(), le(r).getInt(40));
    }

    @Test
    void fadtPointsAtDsdtFacsAndThePmBlock() throws Exception {
        AcpiTables.Layout l = install(1);
        byte[] f = table(l.fadt());
        ByteBuffer b = le(f);
        assertEquals(276, f.length);
        assertEquals(6, f[8], "FADT revision 6");
        assertEquals(l.facs(), b.getInt(36));
        assertEquals(l.dsdt(), b.getInt(40));
        assertEquals(l.dsdt(), b.getLong(140), "X_DSDT");
        assertEquals(AcpiPm.SCI_IRQ, b.getShort(46));
        assertEquals(0, b.getInt(48), "no SMI_CMD: always in ACPI mode");
        assertEquals(0x600, b.getInt(56));
        assertEquals(0x604, b.getInt(64));
        assertEquals(0x608, b.getInt(76));
        assertEquals(4, f[88]);
        assertEquals(2, f[89]);
        assertEquals(4, f[91]);
        int flags = b.getInt(112);
        assertEquals(0, flags & (1 << 20), "not hardware-reduced");
        assertEquals(0, flags & (1 << 4), "power button is the fixed feature");
        assertEquals(1 << 10, flags & (1 << 10), "reset register supported");
        assertEquals(1, f[116], "reset register in I/O space");
        assertEquals(0xcf9, b.getLong(120));
        assertEquals(6, f[128]);
        assertEquals(0x03, b.getShort(109) & 0x03, "legacy devices and an 8042");
        assertEquals(0, b.getShort(109) & (1 << 3), "MSI is supported");
        assertEquals(0x32, f[108], "CMOS century byte");
        assertEquals(1, f[148], "X_PM1a_EVT_BLK in I/O space");
        assertEquals(0x600, b.getLong(152));
        byte[] facs = copy(mem, l.facs(), 64);
        assertEquals("FACS", signature(facs));
        assertEquals(0, l.facs() % 64);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 64})
    void madtHasOneLapicPerVcpu(int vcpus) throws Exception {
        AcpiTables.Layout l = install(vcpus);
        byte[] m = table(l.madt());
        assertEquals(AcpiTables.LAPIC_ADDRESS, le(m).getInt(36) & 0xffffffffL);
        List<Integer> apicIds = new ArrayList<>();
        for (byte[] e : madtEntries(m)) {
            if (e[0] == 0) {
                assertEquals(8, e.length);
                assertEquals(e[2], e[3], "processor UID = APIC ID");
                assertEquals(1, le(e).getInt(4) & 1, "enabled");
                apicIds.add(e[3] & 0xff);
            }
        }
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < vcpus; i++) {
            expected.add(i);
        }
        assertEquals(expected, apicIds);
    }

    @Test
    void madtHasTheIoapicAndInterruptOverrides() throws Exception {
        byte[] m = table(install(2).madt());
        List<byte[]> ioapics = new ArrayList<>();
        List<byte[]> overrides = new ArrayList<>();
        for (byte[] e : madtEntries(m)) {
            if (e[0] == 1) {
                ioapics.add(e);
            } else if (e[0] == 2) {
                overrides.add(e);
            }
        }
        assertEquals(1, ioapics.size());
        assertEquals(0xfec0_0000L, le(ioapics.get(0)).getInt(4) & 0xffffffffL);
        assertEquals(0, le(ioapics.get(0)).getInt(8), "GSI base 0");
        assertEquals(2, overrides.size());
        assertEquals(0, overrides.get(0)[3], "IRQ 0");
        assertEquals(2, le(overrides.get(0)).getInt(4), "to GSI 2");
        assertEquals(9, overrides.get(1)[3]);
        assertEquals(9, le(overrides.get(1)).getInt(4));
        assertEquals(0x000d, le(overrides.get(1)).getShort(8), "SCI level, active high");
    }

    @Test
    void timerOverrideCanBeLeftOutForDefaultKvmRouting() throws Exception {
        AcpiTables t = new AcpiTables(AcpiTables.Config.pc(1, MMIO, MMIO_SIZE).withTimerOnGsi0());
        byte[] m = t.madt();
        assertEquals(0, sum(m, 0, m.length));
        List<byte[]> overrides = madtEntries(m).stream().filter(e -> e[0] == 2).toList();
        assertEquals(1, overrides.size());
        assertEquals(9, overrides.get(0)[3], "only the SCI override remains");
    }

    @Test
    void dsdtDeclaresThePciRootWithItsWindows() throws Exception {
        AmlReader aml = AmlReader.read(table(install(2).dsdt()));
        assertEquals(Aml.eisaIdValue("PNP0A03"), aml.names.get("\\_SB_.PCI0._HID"));
        assertEquals(0L, aml.names.get("\\_SB_.PCI0._SEG"));
        assertEquals(0L, aml.names.get("\\_SB_.PCI0._BBN"));
        byte[] crs = (byte[]) aml.names.get("\\_SB_.PCI0._CRS");
        List<byte[]> desc = Resources.parse(crs);
        assertArrayEquals(Aml.wordBusNumber(0, 0xff), desc.get(0));
        assertArrayEquals(Aml.io(0xcf8, 0xcf8, 1, 8), desc.get(1));
        ByteBuffer mem32 = le(desc.get(4));
        assertEquals((byte) 0x87, desc.get(4)[0]);
        assertEquals(MMIO, mem32.getInt(10) & 0xffffffffL, "window minimum");
        assertEquals(MMIO + MMIO_SIZE - 1, mem32.getInt(14) & 0xffffffffL, "window maximum");
        assertEquals(MMIO_SIZE, mem32.getInt(22) & 0xffffffffL, "window length");
    }

    @Test
    void dsdtDeclaresLegacyDevicesButNoPs2Mouse() throws Exception {
        AmlReader aml = AmlReader.read(table(install(1).dsdt()));
        assertEquals(Aml.eisaIdValue("PNP0501"), aml.names.get("\\_SB_.COM1._HID"));
        assertEquals(Aml.eisaIdValue("PNP0303"), aml.names.get("\\_SB_.PS2K._HID"));
        assertEquals(Aml.eisaIdValue("PNP0B00"), aml.names.get("\\_SB_.RTC_._HID"));
        List<byte[]> com = Resources.parse((byte[]) aml.names.get("\\_SB_.COM1._CRS"));
        assertArrayEquals(Aml.io(0x3f8, 0x3f8, 1, 8), com.get(0));
        assertArrayEquals(Aml.irqNoFlags(4), com.get(1));
        assertTrue(aml.names.values().stream().noneMatch(v -> v.equals(Aml.eisaIdValue("PNP0F13"))),
                "no PS/2 mouse node: Linux then sets i8042.noaux");
    }

    @Test
    void dsdtHasAProcessorDevicePerVcpu() throws Exception {
        AmlReader aml = AmlReader.read(table(install(3).dsdt()));
        for (int i = 0; i < 3; i++) {
            String p = String.format("\\_SB_.C%03X", i);
            assertEquals("ACPI0007", aml.names.get(p + "._HID"));
            assertEquals((long) i, aml.names.get(p + "._UID"));
        }
    }

    @Test
    void dsdtDeclaresS5ForPowerOff() throws Exception {
        AmlReader aml = AmlReader.read(table(install(1).dsdt()));
        @SuppressWarnings("unchecked")
        List<Object> s5 = (List<Object>) aml.names.get("\\_S5_");
        assertEquals((long) AcpiPm.S5_SLP_TYP, s5.get(0));
        assertEquals(4, s5.size());
    }

    @Test
    void installRefusesAMisalignedOrOverlappingRsdp() {
        AcpiTables t = new AcpiTables(AcpiTables.Config.pc(1, MMIO, MMIO_SIZE));
        assertThrows(IllegalArgumentException.class, () -> t.install(mem, RSDP + 4, TABLES));
        assertThrows(IllegalArgumentException.class, () -> t.install(mem, TABLES + 0x40, TABLES));
    }

    @Test
    void configRejectsMoreVcpusThanXapicIds() {
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.Config.pc(255, MMIO, MMIO_SIZE));
    }

    @Property(tries = 50)
    void tablesParseAndChecksumForAnyVcpuCount(@ForAll @IntRange(min = 1, max = 254) int vcpus) throws Exception {
        HeapGuestMemory m = new HeapGuestMemory(1 << 20);
        AcpiTables.Layout l = new AcpiTables(AcpiTables.Config.pc(vcpus, MMIO, MMIO_SIZE)).install(m, RSDP, TABLES);
        byte[] dsdt = copy(m, l.dsdt(), le(copy(m, l.dsdt(), 8)).getInt(4));
        assertEquals(0, sum(dsdt, 0, dsdt.length));
        AmlReader aml = AmlReader.read(dsdt);
        assertEquals(4 + vcpus, aml.devices.size());
        assertTrue(l.end() < RSDP + 0x20000, "fits the BIOS area");
    }

    /** Splits a resource template into descriptors, checking the end tag. */
    static final class Resources {
        static List<byte[]> parse(byte[] t) {
            List<byte[]> out = new ArrayList<>();
            int i = 0;
            while (true) {
                int tag = t[i] & 0xff;
                int len;
                if ((tag & 0x80) == 0) {
                    if ((tag >> 3) == 0x0f) {
                        assertEquals(i + 2, t.length, "end tag closes the template");
                        return out;
                    }
                    len = 1 + (tag & 7);
                } else {
                    len = 3 + ((t[i + 1] & 0xff) | (t[i + 2] & 0xff) << 8);
                }
                out.add(Arrays.copyOfRange(t, i, i + len));
                i += len;
            }
        }
    }
}
