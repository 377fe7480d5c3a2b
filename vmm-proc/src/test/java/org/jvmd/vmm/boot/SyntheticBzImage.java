package org.jvmd.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Builds bzImage files with a chosen setup header, laid out as the boot protocol
 * describes (boot sector + setup sectors, then the protected-mode kernel). Defaults match
 * a Debian 6.1 x86-64 kernel: protocol 2.15, relocatable, 2 MiB alignment, pref_address
 * 16 MiB, all xloadflags.
 */
final class SyntheticBzImage {
    int setupSects = 4;
    int version = 0x020F;
    int loadflags = BzImage.LOADED_HIGH;
    int xloadflags = 0x7F;
    long initrdAddrMax = 0x7FFF_FFFFL;
    long kernelAlignment = 0x20_0000L;
    boolean relocatable = true;
    long cmdlineSize = 2047;
    long prefAddress = 0x100_0000L;
    long initSize = 0x40_0000L;
    int kernelBytes = 64 * 1024;
    int headerEnd = 0x26C;
    boolean magic = true;

    SyntheticBzImage setupSects(int v) {
        setupSects = v;
        return this;
    }

    SyntheticBzImage version(int v) {
        version = v;
        return this;
    }

    SyntheticBzImage xloadflags(int v) {
        xloadflags = v;
        return this;
    }

    SyntheticBzImage loadflags(int v) {
        loadflags = v;
        return this;
    }

    SyntheticBzImage initrdAddrMax(long v) {
        initrdAddrMax = v;
        return this;
    }

    SyntheticBzImage cmdlineSize(long v) {
        cmdlineSize = v;
        return this;
    }

    SyntheticBzImage initSize(long v) {
        initSize = v;
        return this;
    }

    SyntheticBzImage prefAddress(long v) {
        prefAddress = v;
        return this;
    }

    SyntheticBzImage kernelBytes(int v) {
        kernelBytes = v;
        return this;
    }

    SyntheticBzImage noMagic() {
        magic = false;
        return this;
    }

    /** The protected-mode kernel's byte at offset {@code i}: a recognizable pattern. */
    static byte kernelByte(int i) {
        return (byte) (i * 31 + 7);
    }

    byte[] build() {
        int sects = setupSects == 0 ? 4 : setupSects;
        int setup = (sects + 1) * 512;
        ByteBuffer b = ByteBuffer.allocate(setup + kernelBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put(BzImage.OFF_SETUP_SECTS, (byte) setupSects);
        b.putInt(BzImage.OFF_SYSSIZE, (kernelBytes + 15) / 16);
        b.putShort(BzImage.OFF_BOOT_FLAG, (short) BzImage.BOOT_FLAG);
        b.put(BzImage.OFF_JUMP, (byte) 0xEB);
        b.put(BzImage.OFF_JUMP_TARGET, (byte) (headerEnd - 0x202));
        if (magic) {
            b.putInt(BzImage.OFF_HEADER, BzImage.HDRS_MAGIC);
        }
        b.putShort(BzImage.OFF_VERSION, (short) version);
        b.put(BzImage.OFF_LOADFLAGS, (byte) loadflags);
        b.putInt(BzImage.OFF_INITRD_ADDR_MAX, (int) initrdAddrMax);
        b.putInt(BzImage.OFF_KERNEL_ALIGNMENT, (int) kernelAlignment);
        b.put(BzImage.OFF_RELOCATABLE, (byte) (relocatable ? 1 : 0));
        b.putShort(BzImage.OFF_XLOADFLAGS, (short) xloadflags);
        b.putInt(BzImage.OFF_CMDLINE_SIZE, (int) cmdlineSize);
        b.putLong(BzImage.OFF_PREF_ADDRESS, prefAddress);
        b.putInt(BzImage.OFF_INIT_SIZE, (int) initSize);
        for (int i = 0; i < kernelBytes; i++) {
            b.put(setup + i, kernelByte(i));
        }
        return b.array();
    }

    BzImage parse() throws BootException {
        return BzImage.parse(build());
    }
}
