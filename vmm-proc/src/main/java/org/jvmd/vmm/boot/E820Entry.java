package org.jvmd.vmm.boot;

/**
 * One range of the BIOS memory map handed to Linux in the zero page (struct
 * boot_e820_entry in arch/x86/include/uapi/asm/bootparam.h: u64 addr, u64 size, u32 type).
 */
public record E820Entry(long addr, long size, int type) {
    /** E820_TYPE_RAM: usable memory (ACPI 6.5 §15, Address Range Types: AddressRangeMemory). */
    public static final int RAM = 1;
    /** E820_TYPE_RESERVED: not to be used by the OS (ACPI 6.5 §15, Address Range Types: AddressRangeReserved). */
    public static final int RESERVED = 2;
    /** E820_TYPE_ACPI: ACPI tables, reclaimable once read (ACPI 6.5 §15, Address Range Types: AddressRangeACPI). */
    public static final int ACPI = 3;
    /** E820_TYPE_NVS: ACPI NVS memory (ACPI 6.5 §15, Address Range Types: AddressRangeNVS). */
    public static final int NVS = 4;

    /** Bytes per entry in boot_params.e820_table. */
    static final int BYTES = 20;

    public E820Entry {
        if (size <= 0 || addr < 0 || addr + size < addr) {
            throw new IllegalArgumentException("bad e820 range " + Long.toHexString(addr) + "+" + size);
        }
        if (type < RAM || type > NVS) {
            throw new IllegalArgumentException("bad e820 type " + type);
        }
    }

    public long end() {
        return addr + size;
    }

    boolean overlaps(E820Entry o) {
        return addr < o.end() && o.addr < end();
    }

    @Override
    public String toString() {
        String t = switch (type) {
            case RAM -> "usable";
            case RESERVED -> "reserved";
            case ACPI -> "ACPI data";
            default -> "ACPI NVS";
        };
        return String.format("[mem 0x%016x-0x%016x] %s", addr, end() - 1, t);
    }
}
