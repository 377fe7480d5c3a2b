package org.jvmd.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The "zero page": struct boot_params (arch/x86/include/uapi/asm/bootparam.h) as the
 * 64-bit boot protocol hands it to the kernel in %rsi. Built in a 4 KiB array: the
 * kernel's setup header copied in at 0x1F1 (boot protocol, "64-bit BOOT PROTOCOL": "the
 * setup_header ... is loaded into struct boot_params"), the fields a boot loader writes,
 * and the e820 table.
 */
public final class ZeroPage {
    public static final int SIZE = 4096;

    // struct boot_params offsets (bootparam.h).
    static final int OFF_ACPI_RSDP_ADDR = 0x070;
    static final int OFF_EXT_RAMDISK_IMAGE = 0x0C0;
    static final int OFF_EXT_RAMDISK_SIZE = 0x0C4;
    static final int OFF_EXT_CMD_LINE_PTR = 0x0C8;
    static final int OFF_E820_ENTRIES = 0x1E8;
    static final int OFF_HDR = 0x1F1;
    static final int OFF_E820_TABLE = 0x2D0;

    /** type_of_loader 0xFF: "undefined" boot loader id (boot protocol, "type_of_loader"). */
    static final int LOADER_UNDEFINED = 0xFF;

    private final ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);

    /** A zero page holding {@code kernel}'s setup header, the other fields zero. */
    public ZeroPage(BzImage kernel) {
        b.put(OFF_HDR, kernel.setupHeader());
        b.put(BzImage.OFF_TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
    }

    /** cmd_line_ptr (+ ext_cmd_line_ptr for the high 32 bits, protocol 2.02 / boot_params 0x0C8). */
    public ZeroPage cmdline(long addr) {
        b.putInt(BzImage.OFF_CMD_LINE_PTR, (int) addr);
        b.putInt(OFF_EXT_CMD_LINE_PTR, (int) (addr >>> 32));
        return this;
    }

    /** ramdisk_image / ramdisk_size (+ their ext_ high halves in boot_params). */
    public ZeroPage ramdisk(long addr, long size) {
        b.putInt(BzImage.OFF_RAMDISK_IMAGE, (int) addr);
        b.putInt(BzImage.OFF_RAMDISK_SIZE, (int) size);
        b.putInt(OFF_EXT_RAMDISK_IMAGE, (int) (addr >>> 32));
        b.putInt(OFF_EXT_RAMDISK_SIZE, (int) (size >>> 32));
        return this;
    }

    /** boot_params.acpi_rsdp_addr: where the ACPI RSDP is, so the kernel need not scan for it. */
    public ZeroPage acpiRsdp(long addr) {
        b.putLong(OFF_ACPI_RSDP_ADDR, addr);
        return this;
    }

    /** e820_entries and e820_table. */
    public ZeroPage e820(E820Map map) {
        var entries = map.entries();
        if (entries.size() > E820Map.MAX_ENTRIES) {
            throw new IllegalArgumentException("too many e820 entries: " + entries.size());
        }
        b.put(OFF_E820_ENTRIES, (byte) entries.size());
        int off = OFF_E820_TABLE;
        for (E820Entry e : entries) {
            b.putLong(off, e.addr());
            b.putLong(off + 8, e.size());
            b.putInt(off + 16, e.type());
            off += E820Entry.BYTES;
        }
        return this;
    }

    public byte[] bytes() {
        return b.array().clone();
    }
}
