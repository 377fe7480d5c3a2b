package org.jvmd.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A validated x86 Linux bzImage: its setup header and where its protected-mode kernel
 * starts in the file. Only the header is read here; the kernel stays in its {@link BootFile}
 * until {@link LinuxLoader} copies it into guest memory. Offsets and rules are from the Linux x86 boot protocol
 * (Documentation/arch/x86/boot.rst, "THE REAL-MODE KERNEL HEADER"); we boot through the
 * 64-bit entry, so we require protocol 2.12 or later with XLF_KERNEL_64.
 *
 * <p>The image is untrusted file data: every field is range-checked before use and every
 * failure is a {@link BootException} that names the problem.
 */
public final class BzImage {
    // Setup header field offsets, relative to the start of the file (boot protocol,
    // "THE REAL-MODE KERNEL HEADER").
    static final int OFF_SETUP_SECTS = 0x1F1;
    static final int OFF_SYSSIZE = 0x1F4;
    static final int OFF_BOOT_FLAG = 0x1FE;
    static final int OFF_JUMP = 0x200;
    static final int OFF_HEADER = 0x202;
    static final int OFF_VERSION = 0x206;
    static final int OFF_TYPE_OF_LOADER = 0x210;
    static final int OFF_LOADFLAGS = 0x211;
    static final int OFF_RAMDISK_IMAGE = 0x218;
    static final int OFF_RAMDISK_SIZE = 0x21C;
    static final int OFF_HEAP_END_PTR = 0x224;
    static final int OFF_CMD_LINE_PTR = 0x228;
    static final int OFF_INITRD_ADDR_MAX = 0x22C;
    static final int OFF_KERNEL_ALIGNMENT = 0x230;
    static final int OFF_RELOCATABLE = 0x234;
    static final int OFF_XLOADFLAGS = 0x236;
    static final int OFF_CMDLINE_SIZE = 0x238;
    static final int OFF_PREF_ADDRESS = 0x258;
    static final int OFF_INIT_SIZE = 0x260;

    /** "HdrS" as a little-endian u32 (boot protocol: header magic, protocol 2.00+). */
    static final int HDRS_MAGIC = 0x5372_6448;
    /** boot_flag: 0xAA55, the legacy boot sector signature (boot protocol). */
    static final int BOOT_FLAG = 0xAA55;
    /** Oldest protocol we accept: 2.12 added xloadflags and XLF_KERNEL_64. */
    static final int MIN_VERSION = 0x020C;
    /** loadflags bit 0 LOADED_HIGH: the protected-mode code loads at 0x100000 (bzImage). */
    static final int LOADED_HIGH = 0x01;
    /** xloadflags bit 0 XLF_KERNEL_64: the kernel has the legacy 64-bit entry at +0x200. */
    static final int XLF_KERNEL_64 = 0x01;
    /** xloadflags bit 1 XLF_CAN_BE_LOADED_ABOVE_4G. */
    static final int XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;
    /** The end of the setup header is 0x202 + the byte at 0x201 (boot protocol, "LOADING THE REST"). */
    static final int OFF_JUMP_TARGET = 0x201;
    /** The setup header must end by 0x290, where struct boot_params has edd_mbr_sig_buffer (bootparam.h). */
    static final int SETUP_HEADER_LIMIT = 0x290;

    private final BootFile file;
    private final byte[] header;
    private final long length;
    private final int setupSects;
    private final int version;
    private final int loadflags;
    private final int xloadflags;
    private final long initrdAddrMax;
    private final long kernelAlignment;
    private final boolean relocatable;
    private final long cmdlineSize;
    private final long prefAddress;
    private final long initSize;
    private final int setupHeaderEnd;

    private BzImage(BootFile file) throws BootException {
        this.file = file;
        this.length = file.size();
        if (length < SETUP_HEADER_LIMIT) {
            throw new BootException("kernel: not a bzImage (file of " + length + " bytes is too short for a setup header)");
        }
        byte[] image = new byte[SETUP_HEADER_LIMIT];
        file.readFully(0, image, 0, image.length);
        this.header = image;
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(OFF_HEADER) != HDRS_MAGIC) {
            throw new BootException("kernel: not a bzImage (no HdrS magic)");
        }
        if ((b.getShort(OFF_BOOT_FLAG) & 0xFFFF) != BOOT_FLAG) {
            throw new BootException("kernel: not a bzImage (boot_flag is not 0xAA55)");
        }
        version = b.getShort(OFF_VERSION) & 0xFFFF;
        if (version < MIN_VERSION) {
            throw new BootException(String.format(
                    "kernel: boot protocol %d.%02d is too old, the 64-bit entry needs 2.12 or later",
                    version >> 8, version & 0xFF));
        }
        // setup_sects == 0 means 4 (boot protocol, "setup_sects").
        int sects = image[OFF_SETUP_SECTS] & 0xFF;
        setupSects = sects == 0 ? 4 : sects;
        loadflags = image[OFF_LOADFLAGS] & 0xFF;
        if ((loadflags & LOADED_HIGH) == 0) {
            throw new BootException("kernel: a zImage (loadflags without LOADED_HIGH), only bzImage is supported");
        }
        xloadflags = b.getShort(OFF_XLOADFLAGS) & 0xFFFF;
        if ((xloadflags & XLF_KERNEL_64) == 0) {
            throw new BootException("kernel: no 64-bit entry point (xloadflags lacks XLF_KERNEL_64); a 64-bit kernel is required");
        }
        setupHeaderEnd = OFF_JUMP + 2 + (image[OFF_JUMP_TARGET] & 0xFF);
        if (setupHeaderEnd > SETUP_HEADER_LIMIT || setupHeaderEnd < OFF_INIT_SIZE + 4) {
            throw new BootException("kernel: setup header ends at 0x" + Integer.toHexString(setupHeaderEnd)
                    + ", outside [0x264, 0x290] for protocol 2.12+");
        }
        initrdAddrMax = b.getInt(OFF_INITRD_ADDR_MAX) & 0xFFFF_FFFFL;
        kernelAlignment = b.getInt(OFF_KERNEL_ALIGNMENT) & 0xFFFF_FFFFL;
        relocatable = image[OFF_RELOCATABLE] != 0;
        cmdlineSize = b.getInt(OFF_CMDLINE_SIZE) & 0xFFFF_FFFFL;
        prefAddress = b.getLong(OFF_PREF_ADDRESS);
        initSize = b.getInt(OFF_INIT_SIZE) & 0xFFFF_FFFFL;
        if (kernelAlignment == 0 || Long.bitCount(kernelAlignment) != 1) {
            throw new BootException("kernel: kernel_alignment 0x" + Long.toHexString(kernelAlignment) + " is not a power of two");
        }
        // We load the protected-mode kernel at pref_address (2.10+), which must be above 1 MiB
        // and below 4 GiB for a 32-bit ramdisk/cmdline world.
        if (prefAddress < 0x10_0000L || prefAddress >= 1L << 32) {
            throw new BootException("kernel: pref_address 0x" + Long.toHexString(prefAddress)
                    + " is outside [1 MiB, 4 GiB)");
        }
        if (initrdAddrMax == 0) {
            throw new BootException("kernel: initrd_addr_max is 0");
        }
        long setupBytes = (setupSects + 1L) * 512;
        if (setupBytes >= length) {
            throw new BootException("kernel: truncated (" + length + " bytes, the setup code alone is "
                    + setupBytes + ")");
        }
        long syssize = (b.getInt(OFF_SYSSIZE) & 0xFFFF_FFFFL) * 16;
        long payload = length - setupBytes;
        if (syssize > payload) {
            throw new BootException("kernel: truncated (syssize says " + syssize + " bytes of kernel, the file has "
                    + payload + ")");
        }
        if (initSize < payload) {
            throw new BootException("kernel: init_size " + initSize + " is smaller than the kernel itself (" + payload + ")");
        }
    }

    /** Parses and validates a bzImage in memory; the array is kept, not copied. */
    public static BzImage parse(byte[] image) throws BootException {
        return new BzImage(BootFile.of("kernel", image));
    }

    /** Parses and validates the bzImage in {@code file}, reading its header only. */
    public static BzImage parse(BootFile file) throws BootException {
        return new BzImage(file);
    }

    /** Boot protocol version, e.g. 0x020F for 2.15. */
    public int version() {
        return version;
    }

    /** Number of 512-byte setup sectors after the boot sector (0 in the file means 4). */
    public int setupSects() {
        return setupSects;
    }

    public int loadflags() {
        return loadflags;
    }

    public int xloadflags() {
        return xloadflags;
    }

    /** Highest address the initrd may occupy (inclusive). */
    public long initrdAddrMax() {
        return initrdAddrMax;
    }

    public long kernelAlignment() {
        return kernelAlignment;
    }

    public boolean relocatable() {
        return relocatable;
    }

    /** Maximum command line length in bytes, without the terminating NUL. */
    public long cmdlineSize() {
        return cmdlineSize;
    }

    /** Preferred (and for a non-relocatable kernel, required) load address of the protected-mode kernel. */
    public long prefAddress() {
        return prefAddress;
    }

    /** Contiguous memory the kernel needs from its runtime start address before it reads the memory map. */
    public long initSize() {
        return initSize;
    }

    /** Offset in the file of the protected-mode kernel: (setup_sects + 1) * 512. */
    public int kernelOffset() {
        return (setupSects + 1) * 512;
    }

    /** Length of the protected-mode kernel (the rest of the file). */
    public long kernelLength() {
        return length - kernelOffset();
    }

    /** The file; the protected-mode kernel is {@code [kernelOffset(), size)}. */
    BootFile file() {
        return file;
    }

    /** The setup header as it is copied into the zero page: file bytes [0x1F1, end of header). */
    public byte[] setupHeader() {
        return Arrays.copyOfRange(header, OFF_SETUP_SECTS, setupHeaderEnd);
    }

    @Override
    public String toString() {
        return String.format("bzImage protocol %d.%02d, %d setup sectors, kernel %d bytes, init_size %d, pref_address 0x%x%s",
                version >> 8, version & 0xFF, setupSects, kernelLength(), initSize, prefAddress,
                relocatable ? ", relocatable" : "");
    }
}
