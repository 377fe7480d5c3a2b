package org.jvmd.vmm.boot;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.jvmd.vmm.MemoryLayout;

/**
 * The memory map a PC firmware would report, built from a VM's {@link MemoryLayout}:
 * conventional RAM below the EBDA, the EBDA and the BIOS area reserved, RAM from 1 MiB to
 * the PCI hole, and the RAM moved above 4 GiB. Device models add their own reserved or
 * ACPI ranges (which must not overlap RAM).
 */
public final class E820Map {
    /** Conventional memory ends where the Extended BIOS Data Area starts: 639 KiB (as SeaBIOS reports). */
    public static final long EBDA_START = 0x9_FC00L;
    /** End of the legacy VGA / option ROM / BIOS area; extended memory starts here. */
    public static final long HIGH_MEMORY = 0x10_0000L;
    /** The system BIOS area [0xE0000, 0x100000): the ACPI RSDP and MP floating pointer live here (ACPI 6.5 §5.2.5.1). */
    public static final long BIOS_AREA = 0xE_0000L;
    /** Size of boot_params.e820_table (E820_MAX_ENTRIES_ZEROPAGE, bootparam.h). */
    static final int MAX_ENTRIES = 128;

    private final List<E820Entry> entries;

    private E820Map(List<E820Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /** The standard PC map for {@code layout}; low RAM must extend past 1 MiB. */
    public static E820Map standard(MemoryLayout layout) {
        if (layout.lowRamEnd() <= HIGH_MEMORY) {
            throw new IllegalArgumentException("guest RAM must extend beyond 1 MiB: " + layout);
        }
        List<E820Entry> e = new ArrayList<>();
        e.add(new E820Entry(0, EBDA_START, E820Entry.RAM));
        e.add(new E820Entry(EBDA_START, 0xA_0000L - EBDA_START, E820Entry.RESERVED));
        e.add(new E820Entry(BIOS_AREA, HIGH_MEMORY - BIOS_AREA, E820Entry.RESERVED));
        e.add(new E820Entry(HIGH_MEMORY, layout.lowRamEnd() - HIGH_MEMORY, E820Entry.RAM));
        if (layout.highRamSize() > 0) {
            e.add(new E820Entry(MemoryLayout.HIGH_RAM_START, layout.highRamSize(), E820Entry.RAM));
        }
        return new E820Map(e);
    }

    /** This map plus {@code extra} (a reserved, ACPI or NVS range outside every existing range). */
    public E820Map with(E820Entry extra) {
        if (extra.type() == E820Entry.RAM) {
            throw new IllegalArgumentException("only RAM from the memory layout is reported as usable: " + extra);
        }
        for (E820Entry e : entries) {
            if (e.overlaps(extra)) {
                throw new IllegalArgumentException(extra + " overlaps " + e);
            }
        }
        if (entries.size() == MAX_ENTRIES) {
            throw new IllegalArgumentException("e820 map full (" + MAX_ENTRIES + " entries)");
        }
        List<E820Entry> e = new ArrayList<>(entries);
        e.add(extra);
        return new E820Map(e);
    }

    /** The entries in address order. */
    public List<E820Entry> entries() {
        return entries.stream().sorted(Comparator.comparingLong(E820Entry::addr)).toList();
    }

    /** True if {@code [addr, addr+len)} lies entirely inside one RAM entry. */
    public boolean isRam(long addr, long len) {
        for (E820Entry e : entries) {
            if (e.type() == E820Entry.RAM && addr >= e.addr() && len >= 0 && addr + len <= e.end()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (E820Entry e : entries()) {
            sb.append(e).append('\n');
        }
        return sb.toString();
    }
}
