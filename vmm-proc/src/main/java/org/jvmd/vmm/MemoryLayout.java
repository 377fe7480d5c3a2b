package org.jvmd.vmm;

/**
 * The guest-physical map of a VM's RAM: one contiguous memfd split around the 32-bit PCI
 * hole. RAM runs from 0 up to {@link #lowRamEnd()} (at most {@link #PCI_HOLE_START}); the
 * rest, if any, continues at 4 GiB. The memfd offset of a guest address below the hole is
 * the address itself; above 4 GiB it is {@code gpa - 4 GiB + lowRamEnd}.
 *
 * <p>The hole [3 GiB, 4 GiB) holds PCI BARs, the PCI ECAM window, the IOAPIC (0xFEC00000)
 * and the local APICs (0xFEE00000), as on a PC.
 */
public record MemoryLayout(long memorySize, long lowRamEnd, long highRamSize) {
    /** Where the 32-bit MMIO hole starts; RAM above this is moved to 4 GiB. */
    public static final long PCI_HOLE_START = 0xC000_0000L;
    /** First address after the hole: RAM above the hole resumes here. */
    public static final long HIGH_RAM_START = 1L << 32;
    /** The largest VM we map (and what a 46-bit guest physical space comfortably holds). */
    public static final long MAX_MEMORY = 1L << 40;
    /** Guest RAM is allocated in whole 2 MiB units (huge-page friendly, and what the page tables map). */
    public static final long GRANULE = 2L << 20;
    /** The 32-bit window PCI BARs are assigned from: the hole up to 0xFE000000 (below the IOAPIC, HPET and LAPIC pages). */
    public static final long PCI_MMIO_START = PCI_HOLE_START;
    public static final long PCI_MMIO_SIZE = 0xFE00_0000L - PCI_MMIO_START;
    /** One page KVM uses for the EPT identity map on Intel (KVM_SET_IDENTITY_MAP_ADDR); reserved in e820. */
    public static final long KVM_IDENTITY_MAP_ADDR = 0xFFFB_C000L;
    /** Three pages KVM uses for the real-mode TSS on Intel (KVM_SET_TSS_ADDR); reserved in e820. */
    public static final long KVM_TSS_ADDR = 0xFFFB_D000L;
    /** End of the pages reserved for KVM. */
    public static final long KVM_RESERVED_END = KVM_TSS_ADDR + 3 * 4096;

    public MemoryLayout {
        if (memorySize <= 0 || lowRamEnd + highRamSize != memorySize || lowRamEnd > PCI_HOLE_START) {
            throw new IllegalArgumentException("inconsistent layout: " + memorySize + " = " + lowRamEnd + " + " + highRamSize);
        }
    }

    /** The layout for {@code memorySize} bytes of RAM, which must be a positive multiple of 2 MiB. */
    public static MemoryLayout of(long memorySize) {
        if (memorySize <= 0 || memorySize % GRANULE != 0 || memorySize > MAX_MEMORY) {
            throw new IllegalArgumentException("memory size must be a multiple of 2 MiB between 2 MiB and 1 TiB: " + memorySize);
        }
        long low = Math.min(memorySize, PCI_HOLE_START);
        return new MemoryLayout(memorySize, low, memorySize - low);
    }

    /** True if {@code [gpa, gpa+len)} is RAM (entirely below the hole, or entirely above 4 GiB). */
    public boolean isRam(long gpa, long len) {
        if (gpa < 0 || len < 0) {
            return false;
        }
        if (gpa + len <= lowRamEnd) {
            return true;
        }
        return gpa >= HIGH_RAM_START && gpa - HIGH_RAM_START + len <= highRamSize;
    }

    /** The memfd offset of RAM address {@code gpa}; {@code -1} if it is not RAM. */
    public long memfdOffset(long gpa) {
        if (gpa >= 0 && gpa < lowRamEnd) {
            return gpa;
        }
        if (gpa >= HIGH_RAM_START && gpa - HIGH_RAM_START < highRamSize) {
            return gpa - HIGH_RAM_START + lowRamEnd;
        }
        return -1;
    }

    /** The end of guest-physical RAM (exclusive): the highest RAM address + 1. */
    public long ramTop() {
        return highRamSize == 0 ? lowRamEnd : HIGH_RAM_START + highRamSize;
    }
}
