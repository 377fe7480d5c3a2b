package org.jvmd.vmm.acpi;

import static org.jvmd.vmm.acpi.Aml.cat;
import static org.jvmd.vmm.acpi.Aml.device;
import static org.jvmd.vmm.acpi.Aml.eisaId;
import static org.jvmd.vmm.acpi.Aml.integer;
import static org.jvmd.vmm.acpi.Aml.io;
import static org.jvmd.vmm.acpi.Aml.irqNoFlags;
import static org.jvmd.vmm.acpi.Aml.name;
import static org.jvmd.vmm.acpi.Aml.pkg;
import static org.jvmd.vmm.acpi.Aml.resourceTemplate;
import static org.jvmd.vmm.acpi.Aml.scope;
import static org.jvmd.vmm.acpi.Aml.string;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;

/**
 * The ACPI tables through which Linux finds the machine (ACPI 6.5 ch. 5): RSDP (v2), XSDT
 * and RSDT, FADT (full, not hardware-reduced: PM1a event/control blocks, PM timer, SCI,
 * the fixed power button, a reset register), FACS, MADT (one local APIC per vCPU, the I/O
 * APIC, IRQ0→GSI2 and SCI overrides, LINT1 NMI) and a DSDT built with {@link Aml}:
 * {@code \_SB.PCI0} (PNP0A03) whose _CRS gives the config ports, the bus range and the
 * I/O and MMIO windows; COM1 (PNP0501), the keyboard (PNP0303, without a PS/2 mouse node
 * so Linux skips AUX probing), the RTC (PNP0B00), one ACPI0007 processor per vCPU; and
 * {@code \_S5} for power-off.
 *
 * <p>There is no MCFG: PCI configuration goes through mechanism #1 only. There is no
 * _PRT: the PCI devices use MSI-X only.
 */
public final class AcpiTables {
    /** What the tables describe; the core picks the addresses. */
    public record Config(
            int vcpus,
            long ioapicAddress,
            int ioapicId,
            long pciMmioBase,
            long pciMmioSize,
            long pciMmio64Base,
            long pciMmio64Size,
            int pmBase,
            int sciIrq,
            int resetPort,
            int resetValue,
            boolean timerOnGsi2) {
        public Config {
            if (vcpus < 1 || vcpus > 254) {
                throw new IllegalArgumentException("vCPUs " + vcpus + ": xAPIC IDs end at 254");
            }
            if (pciMmioSize <= 0 || pciMmioBase + pciMmioSize > (1L << 32)) {
                throw new IllegalArgumentException("the 32-bit PCI window must lie below 4 GiB");
            }
        }

        /**
         * The PC layout: IOAPIC at 0xFEC00000, PM block at 0x600, SCI 9, reset via 0xCF9, and
         * the PIT's IRQ 0 on IOAPIC pin 2. The last needs KVM GSI routing GSI 0 → IOAPIC pin 2
         * (KVM's default routing sends GSI 0 to pin 0; QEMU re-routes it the same way);
         * {@link #withTimerOnGsi0} drops the override for a core that keeps the default.
         */
        public static Config pc(int vcpus, long pciMmioBase, long pciMmioSize) {
            return new Config(vcpus, IOAPIC_ADDRESS, 0, pciMmioBase, pciMmioSize, 0, 0,
                    AcpiPm.DEFAULT_BASE, AcpiPm.SCI_IRQ, 0xcf9, 0x06, true);
        }

        /** The same, with the PIT left on IOAPIC pin 0 (no IRQ0 override in the MADT). */
        public Config withTimerOnGsi0() {
            return new Config(vcpus, ioapicAddress, ioapicId, pciMmioBase, pciMmioSize, pciMmio64Base,
                    pciMmio64Size, pmBase, sciIrq, resetPort, resetValue, false);
        }
    }

    /** Where {@link #install} put each table (guest-physical). */
    public record Layout(long rsdp, long xsdt, long rsdt, long fadt, long facs, long dsdt, long madt, long end) {}

    public static final long IOAPIC_ADDRESS = 0xfec0_0000L;
    public static final long LAPIC_ADDRESS = 0xfee0_0000L;
    /** Where the RSDP must be for Linux's legacy scan (ACPI 6.5 §5.2.5.1). */
    public static final long RSDP_SCAN_START = 0xe0000;
    public static final long RSDP_SCAN_END = 0x100000;

    static final int HEADER = 36;
    static final byte[] OEM_ID = "JVMD  ".getBytes(StandardCharsets.US_ASCII);
    static final byte[] OEM_TABLE_ID = "JVMDVM  ".getBytes(StandardCharsets.US_ASCII);
    static final int CREATOR_ID = 0x444d564a; // "JVMD"

    // FADT flags (Table 5.10).
    static final int FADT_WBINVD = 1;
    static final int FADT_PROC_C1 = 1 << 2;
    static final int FADT_SLP_BUTTON = 1 << 5;
    static final int FADT_FIX_RTC = 1 << 6;
    static final int FADT_TMR_VAL_EXT = 1 << 8;
    static final int FADT_RESET_REG_SUP = 1 << 10;
    // IA-PC boot architecture flags (Table 5.11).
    static final int BOOT_LEGACY_DEVICES = 1;
    static final int BOOT_8042 = 1 << 1;
    static final int BOOT_VGA_NOT_PRESENT = 1 << 2;

    static final int FADT_LENGTH = 276;
    static final int FACS_LENGTH = 64;

    private final Config config;

    public AcpiTables(Config config) {
        this.config = config;
    }

    // ---- the tables ----

    /** Differentiated System Description Table: the AML namespace. */
    public byte[] dsdt() {
        List<byte[]> sb = new ArrayList<>();
        sb.add(pci0());
        sb.add(device("COM1",
                name("_HID", eisaId("PNP0501")),
                name("_UID", integer(1)),
                name("_CRS", resourceTemplate(io(0x3f8, 0x3f8, 1, 8), irqNoFlags(4)))));
        sb.add(device("PS2K",
                name("_HID", eisaId("PNP0303")),
                name("_CRS", resourceTemplate(io(0x60, 0x60, 1, 1), io(0x64, 0x64, 1, 1), irqNoFlags(1)))));
        sb.add(device("RTC",
                name("_HID", eisaId("PNP0B00")),
                name("_CRS", resourceTemplate(io(0x70, 0x70, 1, 2), irqNoFlags(8)))));
        for (int cpu = 0; cpu < config.vcpus(); cpu++) {
            sb.add(device(String.format("C%03X", cpu),
                    name("_HID", string("ACPI0007")),
                    name("_UID", integer(cpu))));
        }
        byte[] body = cat(
                scope("\\_SB", sb.toArray(byte[][]::new)),
                // \_S5: SLP_TYPa, SLP_TYPb, reserved (ACPI 6.5 §7.4.2)
                name("\\_S5", pkg(integer(AcpiPm.S5_SLP_TYP), integer(AcpiPm.S5_SLP_TYP), integer(0), integer(0))));
        return table("DSDT", 2, body);
    }

    private byte[] pci0() {
        List<byte[]> crs = new ArrayList<>();
        crs.add(Aml.wordBusNumber(0x00, 0xff));
        crs.add(io(0xcf8, 0xcf8, 1, 8));
        crs.add(Aml.wordIo(0x0000, 0x0cf7));
        crs.add(Aml.wordIo(0x0d00, 0xffff));
        crs.add(Aml.dwordMemory(config.pciMmioBase(), config.pciMmioBase() + config.pciMmioSize() - 1));
        if (config.pciMmio64Size() > 0) {
            crs.add(Aml.qwordMemory(config.pciMmio64Base(), config.pciMmio64Base() + config.pciMmio64Size() - 1));
        }
        return device("PCI0",
                name("_HID", eisaId("PNP0A03")),
                name("_UID", integer(0)),
                name("_SEG", integer(0)),
                name("_BBN", integer(0)),
                name("_CRS", resourceTemplate(crs.toArray(byte[][]::new))));
    }

    /** Firmware ACPI Control Structure (§5.2.10): required without HW_REDUCED; no checksum. */
    public byte[] facs() {
        ByteBuffer b = le(FACS_LENGTH);
        b.put("FACS".getBytes(StandardCharsets.US_ASCII));
        b.putInt(FACS_LENGTH);
        b.position(32);
        b.put((byte) 2); // version
        return b.array();
    }

    /** Fixed ACPI Description Table (§5.2.9), revision 6. */
    public byte[] fadt(long dsdtAddress, long facsAddress) {
        ByteBuffer b = le(FADT_LENGTH);
        b.position(HEADER);
        b.putInt((int) facsAddress); // FIRMWARE_CTRL (X_FIRMWARE_CTRL stays 0)
        b.putInt((int) dsdtAddress);
        b.put((byte) 0); // reserved
        b.put((byte) 0); // preferred PM profile: unspecified
        b.putShort((short) config.sciIrq());
        b.putInt(0); // SMI_CMD: none, always in ACPI mode
        b.position(56);
        int pm = config.pmBase();
        b.putInt(pm + AcpiPm.PM1_EVT); // PM1a_EVT_BLK
        b.putInt(0);
        b.putInt(pm + AcpiPm.PM1_CNT); // PM1a_CNT_BLK
        b.putInt(0);
        b.putInt(0); // PM2_CNT_BLK
        b.putInt(pm + AcpiPm.PM_TMR); // PM_TMR_BLK
        b.putInt(0); // GPE0_BLK: none
        b.putInt(0);
        b.put((byte) AcpiPm.PM1_EVT_LEN);
        b.put((byte) AcpiPm.PM1_CNT_LEN);
        b.put((byte) 0);
        b.put((byte) AcpiPm.PM_TMR_LEN);
        b.position(96);
        b.putShort((short) 101); // P_LVL2_LAT > 100: no C2
        b.putShort((short) 1001); // P_LVL3_LAT > 1000: no C3
        b.position(108);
        b.put((byte) org.jvmd.vmm.devices.CmosRtc.CENTURY);
        b.putShort((short) (BOOT_LEGACY_DEVICES | BOOT_8042 | BOOT_VGA_NOT_PRESENT));
        b.position(112);
        b.putInt(FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC | FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP);
        gas(b, 1, 8, 1, config.resetPort()); // RESET_REG
        b.put((byte) config.resetValue());
        b.putShort((short) 0); // ARM_BOOT_ARCH
        b.put((byte) 0); // minor version: 6.0
        b.putLong(0); // X_FIRMWARE_CTRL
        b.putLong(dsdtAddress); // X_DSDT
        gas(b, 1, 32, 2, pm + AcpiPm.PM1_EVT); // X_PM1a_EVT_BLK
        gas(b, 0, 0, 0, 0);
        gas(b, 1, 16, 2, pm + AcpiPm.PM1_CNT); // X_PM1a_CNT_BLK
        gas(b, 0, 0, 0, 0);
        gas(b, 0, 0, 0, 0); // X_PM2_CNT_BLK
        gas(b, 1, 32, 3, pm + AcpiPm.PM_TMR); // X_PM_TMR_BLK
        gas(b, 0, 0, 0, 0); // X_GPE0_BLK
        gas(b, 0, 0, 0, 0);
        gas(b, 0, 0, 0, 0); // SLEEP_CONTROL_REG (hardware-reduced only)
        gas(b, 0, 0, 0, 0); // SLEEP_STATUS_REG
        b.put("jvmd    ".getBytes(StandardCharsets.US_ASCII)); // hypervisor vendor identity
        return finish(b, "FACP", 6);
    }

    /** Multiple APIC Description Table (§5.2.12). */
    public byte[] madt() {
        int n = config.vcpus();
        int overrides = config.timerOnGsi2() ? 2 : 1;
        int length = HEADER + 8 + 8 * n + 12 + 10 * overrides + 6;
        ByteBuffer b = le(length);
        b.position(HEADER);
        b.putInt((int) LAPIC_ADDRESS);
        b.putInt(1); // PCAT_COMPAT: dual 8259s present (KVM's in-kernel PIC)
        for (int cpu = 0; cpu < n; cpu++) {
            b.put((byte) 0).put((byte) 8).put((byte) cpu).put((byte) cpu).putInt(1); // enabled
        }
        b.put((byte) 1).put((byte) 12).put((byte) config.ioapicId()).put((byte) 0);
        b.putInt((int) config.ioapicAddress()).putInt(0); // GSI base 0
        if (config.timerOnGsi2()) {
            // ISA IRQ 0 (PIT) is wired to IOAPIC pin 2; flags 0 = bus-conforming (edge, high).
            b.put((byte) 2).put((byte) 10).put((byte) 0).put((byte) 0).putInt(2).putShort((short) 0);
        }
        // The SCI: level-triggered, active high (polarity 01, trigger mode 11).
        b.put((byte) 2).put((byte) 10).put((byte) 0).put((byte) config.sciIrq()).putInt(config.sciIrq())
                .putShort((short) 0x000d);
        // LINT1 of every processor is NMI.
        b.put((byte) 4).put((byte) 6).put((byte) 0xff).putShort((short) 0).put((byte) 1);
        return finish(b, "APIC", 3);
    }

    /** Extended System Description Table (§5.2.8): 64-bit pointers. */
    public byte[] xsdt(long... tables) {
        ByteBuffer b = le(HEADER + 8 * tables.length);
        b.position(HEADER);
        for (long t : tables) {
            b.putLong(t);
        }
        return finish(b, "XSDT", 1);
    }

    /** Root System Description Table (§5.2.7) for ACPI 1.0 readers: 32-bit pointers. */
    public byte[] rsdt(long... tables) {
        ByteBuffer b = le(HEADER + 4 * tables.length);
        b.position(HEADER);
        for (long t : tables) {
            b.putInt((int) t);
        }
        return finish(b, "RSDT", 1);
    }

    /** Root System Description Pointer, revision 2 (§5.2.5.3). */
    public static byte[] rsdp(long rsdtAddress, long xsdtAddress) {
        ByteBuffer b = le(36);
        b.put("RSD PTR ".getBytes(StandardCharsets.US_ASCII));
        b.put((byte) 0);
        b.put(OEM_ID);
        b.put((byte) 2);
        b.putInt((int) rsdtAddress);
        b.putInt(36);
        b.putLong(xsdtAddress);
        byte[] a = b.array();
        a[8] = checksum(a, 0, 20);
        a[32] = checksum(a, 0, 36);
        return a;
    }

    // ---- placement ----

    /**
     * Writes every table at {@code tablesAddress} (the tables stay below 4 GiB for the RSDT)
     * and the RSDP at {@code rsdpAddress} (16-byte aligned, in 0xE0000-0xFFFFF for Linux's
     * scan, or anywhere if the core passes it in the zero page). The core must mark
     * {@code [tablesAddress, end)} as ACPI-reclaimable memory in the E820 map.
     */
    public Layout install(GuestMemory memory, long rsdpAddress, long tablesAddress) throws GuestFault {
        if ((rsdpAddress & 15) != 0) {
            throw new IllegalArgumentException("RSDP must be 16-byte aligned");
        }
        long at = align(tablesAddress, 64);
        long facs = at; // 64-byte aligned (§5.2.10)
        byte[] facsBytes = facs();
        at = align(facs + facsBytes.length, 16);
        long dsdt = at;
        byte[] dsdtBytes = dsdt();
        at = align(dsdt + dsdtBytes.length, 16);
        long fadt = at;
        byte[] fadtBytes = fadt(dsdt, facs);
        at = align(fadt + fadtBytes.length, 16);
        long madt = at;
        byte[] madtBytes = madt();
        at = align(madt + madtBytes.length, 16);
        long xsdt = at;
        byte[] xsdtBytes = xsdt(fadt, madt);
        at = align(xsdt + xsdtBytes.length, 16);
        long rsdt = at;
        byte[] rsdtBytes = rsdt(fadt, madt);
        long end = rsdt + rsdtBytes.length;
        if (end > (1L << 32)) {
            throw new IllegalArgumentException("ACPI tables must lie below 4 GiB");
        }
        byte[] rsdpBytes = rsdp(rsdt, xsdt);
        if (rsdpAddress < end && tablesAddress < rsdpAddress + rsdpBytes.length) {
            throw new IllegalArgumentException("RSDP overlaps the tables");
        }
        memory.write(facs, facsBytes, 0, facsBytes.length);
        memory.write(dsdt, dsdtBytes, 0, dsdtBytes.length);
        memory.write(fadt, fadtBytes, 0, fadtBytes.length);
        memory.write(madt, madtBytes, 0, madtBytes.length);
        memory.write(xsdt, xsdtBytes, 0, xsdtBytes.length);
        memory.write(rsdt, rsdtBytes, 0, rsdtBytes.length);
        memory.write(rsdpAddress, rsdpBytes, 0, rsdpBytes.length);
        return new Layout(rsdpAddress, xsdt, rsdt, fadt, facs, dsdt, madt, end);
    }

    // ---- helpers ----

    private static long align(long v, long a) {
        return (v + a - 1) & -a;
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Generic Address Structure (§5.2.3.2). */
    private static void gas(ByteBuffer b, int space, int bitWidth, int accessSize, long address) {
        b.put((byte) space).put((byte) bitWidth).put((byte) 0).put((byte) accessSize).putLong(address);
    }

    private static byte[] table(String signature, int revision, byte[] body) {
        ByteBuffer b = le(HEADER + body.length);
        b.position(HEADER);
        b.put(body);
        return finish(b, signature, revision);
    }

    /** Fills the standard header (§5.2.6) over the whole buffer and sets the checksum. */
    private static byte[] finish(ByteBuffer b, String signature, int revision) {
        byte[] a = b.array();
        ByteBuffer h = ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN);
        h.put(signature.getBytes(StandardCharsets.US_ASCII));
        h.putInt(a.length);
        h.put((byte) revision);
        h.put((byte) 0);
        h.put(OEM_ID);
        h.put(OEM_TABLE_ID);
        h.putInt(1); // OEM revision
        h.putInt(CREATOR_ID);
        h.putInt(1); // creator revision
        a[9] = checksum(a, 0, a.length);
        return a;
    }

    /** The byte that makes {@code a[off..off+len)} sum to zero mod 256. */
    static byte checksum(byte[] a, int off, int len) {
        int sum = 0;
        for (int i = off; i < off + len; i++) {
            sum += a[i];
        }
        return (byte) -sum;
    }
}
