package org.jvmd.vmm.boot;

/**
 * Where {@link LinuxLoader} put each piece in guest-physical memory, for logging and tests.
 * {@code kernelEnd} is the load address + init_size: the memory the kernel claims before
 * it reads the e820 map. An absent initrd has address and size 0.
 */
public record BootLayout(long zeroPage, long cmdline, long cmdlineSize, long pageTables, long gdt,
                         long kernel, long kernelEnd, long initrd, long initrdSize, long entry,
                         E820Map e820) {
    @Override
    public String toString() {
        return String.format("kernel 0x%x-0x%x entry 0x%x, initrd 0x%x+%d, cmdline 0x%x (%d bytes), zero page 0x%x",
                kernel, kernelEnd, entry, initrd, initrdSize, cmdline, cmdlineSize, zeroPage);
    }
}
