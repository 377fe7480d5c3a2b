package org.jvmd.vmm.pci;

import org.jvmd.vmm.bus.BusDevice;

/**
 * The PCI host bridge of bus 0: configuration mechanism #1 (PCI 3.0 §3.2.2.3.2) on ports
 * 0xCF8 (CONFIG_ADDRESS, 32-bit) and 0xCFC-0xCFF (CONFIG_DATA, any width at any byte),
 * the bridge itself at 00:00.0, and up to 31 single-function devices on slots 1-31.
 *
 * <p>The host also plays firmware for BARs: {@link #attach} assigns each BAR a naturally
 * aligned address in the MMIO window (the same window the ACPI _CRS of \_SB.PCI0
 * announces), so Linux finds every BAR already inside a host bridge window and keeps it.
 *
 * <p>Port 0xCF9 (byte access) is the PIIX/ICH reset control register: setting RST_CPU
 * (bit 2) requests a reset, which Linux uses for {@code reboot=pci}.
 */
public final class PciHost implements BusDevice {
    public static final int CONFIG_ADDRESS_PORT = 0xcf8;
    public static final int WINDOW = 8;

    /** Red Hat, Inc. "QEMU PCIe Host bridge": a generic, quirk-free host bridge ID. */
    static final int HOST_VENDOR = 0x1b36;
    static final int HOST_DEVICE = 0x0008;
    static final int CLASS_HOST_BRIDGE = 0x060000;

    static final int ENABLE = 0x80000000;
    static final int RESET_CPU = 0x04;

    private final PciDevice[] slots = new PciDevice[32];
    private final Runnable resetRequest;
    private final long mmioBase;
    private final long mmioLimit; // exclusive
    private long mmioNext;
    private int address;
    private int resetControl;

    /**
     * @param mmioBase first address of the 32-bit MMIO window for BARs
     * @param mmioSize its size
     * @param resetRequest called when the guest writes the reset control register
     */
    public PciHost(long mmioBase, long mmioSize, Runnable resetRequest) {
        if (mmioSize <= 0 || mmioBase + mmioSize > (1L << 32) || mmioBase < 0) {
            throw new IllegalArgumentException("MMIO window must lie below 4 GiB");
        }
        this.mmioBase = mmioBase;
        this.mmioLimit = mmioBase + mmioSize;
        this.mmioNext = mmioBase;
        this.resetRequest = resetRequest;
        slots[0] = new PciDevice(HOST_VENDOR, HOST_DEVICE, CLASS_HOST_BRIDGE, 0, HOST_VENDOR, 0x1100);
    }

    public long mmioBase() {
        return mmioBase;
    }

    public long mmioSize() {
        return mmioLimit - mmioBase;
    }

    /** The device at {@code slot} (0 is the host bridge), or null. */
    public synchronized PciDevice device(int slot) {
        return slot >= 0 && slot < slots.length ? slots[slot] : null;
    }

    /**
     * Plugs {@code device} into the lowest free slot and programs its BARs; returns the slot
     * number (the device is 00:slot.0).
     */
    public synchronized int attach(PciDevice device) {
        for (int slot = 1; slot < slots.length; slot++) {
            if (slots[slot] == null) {
                assignBars(device);
                slots[slot] = device;
                return slot;
            }
        }
        throw new IllegalStateException("PCI bus 0 is full");
    }

    private void assignBars(PciDevice device) {
        long next = mmioNext;
        long[] addrs = new long[6];
        for (int i = 0; i < 6; i++) {
            if (!device.hasBar(i)) {
                continue;
            }
            long size = device.barSize(i);
            long at = (next + size - 1) & -size;
            if (at + size > mmioLimit) {
                throw new IllegalStateException("MMIO window full: BAR " + i + " of " + size + " bytes");
            }
            addrs[i] = at;
            next = at + size;
        }
        for (int i = 0; i < 6; i++) {
            if (addrs[i] != 0) {
                device.setBarAddress(i, addrs[i]);
            }
        }
        mmioNext = next;
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset == 0 && size == 4) {
            return address & 0xffffffffL;
        }
        if (offset == 1 && size == 1) {
            return resetControl;
        }
        if (offset >= 4 && offset < 8) {
            return readData((int) offset - 4, size);
        }
        return ones(size);
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if (offset == 0 && size == 4) {
            // Bits 1:0 are read-only 0; bits 27:24 carry AMD's extended register number.
            address = (int) value & 0x8ffffffc;
        } else if (offset == 1 && size == 1) {
            writeResetControl((int) value & 0xff);
        } else if (offset >= 4 && offset < 8) {
            writeData((int) offset - 4, size, value);
        }
        // Byte or word writes to the other CONFIG_ADDRESS bytes (Linux's type-1 probe writes
        // 0xCFB) are ignored, as on PIIX.
    }

    private void writeResetControl(int v) {
        boolean rise = (v & RESET_CPU) != 0 && (resetControl & RESET_CPU) == 0;
        resetControl = v & ~RESET_CPU;
        if (rise) {
            resetRequest.run();
        }
    }

    /** The addressed device and register, or null when nothing answers. */
    private PciDevice target() {
        if ((address & ENABLE) == 0) {
            return null;
        }
        int bus = (address >>> 16) & 0xff;
        int dev = (address >>> 11) & 0x1f;
        int fn = (address >>> 8) & 0x7;
        if (bus != 0 || fn != 0) {
            return null;
        }
        return slots[dev];
    }

    private int register() {
        return (address & 0xfc) | ((address >>> 16) & 0xf00);
    }

    private long readData(int lane, int size) {
        int n = Math.min(size, 4 - lane); // the data window is one dword wide
        PciDevice d = target();
        if (d == null) {
            return ones(size);
        }
        long v = d.readConfig(register() + lane, n);
        return n == size ? v : v | (ones(size) & ~ones(n));
    }

    private void writeData(int lane, int size, long value) {
        int n = Math.min(size, 4 - lane);
        PciDevice d = target();
        if (d != null) {
            d.writeConfig(register() + lane, n, value & ones(n));
        }
    }

    private static long ones(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }
}
