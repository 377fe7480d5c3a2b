package org.jvmd.vmm.pci;

import java.util.HashMap;
import java.util.Map;
import org.jvmd.vmm.bus.Bus;

/**
 * Plays the guest side of virtio-pci the way Linux's virtio_pci_modern does: walks the
 * capability list, enables memory decoding, programs MSI-X, negotiates features and sets
 * up queues, all through PCI configuration space and the BAR as mapped on an MMIO bus.
 */
public final class VirtioPciDriver {
    public static final long MSI_ADDRESS = 0xfee0_0000L;

    final VirtioPciTransport dev;
    final Bus mmio;
    final Map<Integer, Integer> capByType = new HashMap<>();
    long bar;
    long common;
    long isr;
    long deviceCfg;
    long notifyBase;
    int notifyMultiplier;
    int msixCap;
    long msixTable;
    long msixPba;

    public VirtioPciDriver(VirtioPciTransport dev, Bus mmio) {
        this.dev = dev;
        this.mmio = mmio;
    }

    public int cfg8(int off) {
        return (int) dev.readConfig(off, 1);
    }

    public long cfg32(int off) {
        return dev.readConfig(off, 4);
    }

    /** Finds the capabilities, enables the BAR and reads the structure addresses. */
    public VirtioPciDriver probe() {
        dev.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_MASTER);
        bar = dev.barAddress(0);
        int cap = cfg8(PciDevice.CAPABILITY_POINTER);
        int guard = 0;
        while (cap != 0 && guard++ < 48) {
            int id = cfg8(cap);
            if (id == VirtioPciTransport.PCI_CAP_ID_VNDR) {
                int type = cfg8(cap + 3);
                capByType.putIfAbsent(type, cap);
                long where = bar + cfg32(cap + VirtioPciTransport.CAP_OFFSET);
                switch (type) {
                    case VirtioPciTransport.CAP_COMMON -> common = where;
                    case VirtioPciTransport.CAP_ISR -> isr = where;
                    case VirtioPciTransport.CAP_DEVICE -> deviceCfg = where;
                    case VirtioPciTransport.CAP_NOTIFY -> {
                        notifyBase = where;
                        notifyMultiplier = (int) cfg32(cap + VirtioPciTransport.CAP_NOTIFY_MULTIPLIER);
                    }
                    default -> {}
                }
            } else if (id == VirtioPciTransport.PCI_CAP_ID_MSIX) {
                msixCap = cap;
                msixTable = bar + (cfg32(cap + 4) & ~7L);
                msixPba = bar + (cfg32(cap + 8) & ~7L);
            }
            cap = cfg8(cap + 1);
        }
        return this;
    }

    public long read(long off, int size) {
        return mmio.read(common + off, size);
    }

    public void write(long off, int size, long v) {
        mmio.write(common + off, size, v);
    }

    public int status() {
        return (int) read(VirtioPciTransport.DEVICE_STATUS, 1);
    }

    public void setStatus(int s) {
        write(VirtioPciTransport.DEVICE_STATUS, 1, s);
    }

    public long deviceFeatures() {
        write(VirtioPciTransport.DFSELECT, 4, 0);
        long lo = read(VirtioPciTransport.DF, 4);
        write(VirtioPciTransport.DFSELECT, 4, 1);
        long hi = read(VirtioPciTransport.DF, 4);
        return hi << 32 | lo;
    }

    public void writeDriverFeatures(long f) {
        write(VirtioPciTransport.GFSELECT, 4, 0);
        write(VirtioPciTransport.GF, 4, f & 0xffffffffL);
        write(VirtioPciTransport.GFSELECT, 4, 1);
        write(VirtioPciTransport.GF, 4, f >>> 32);
    }

    /** ACK, DRIVER, features, FEATURES_OK; returns whether the device kept FEATURES_OK. */
    public boolean negotiate(long features) {
        setStatus(0);
        setStatus(VirtioPciTransport.STATUS_ACKNOWLEDGE);
        setStatus(VirtioPciTransport.STATUS_ACKNOWLEDGE | VirtioPciTransport.STATUS_DRIVER);
        writeDriverFeatures(features);
        setStatus(status() | VirtioPciTransport.STATUS_FEATURES_OK);
        return (status() & VirtioPciTransport.STATUS_FEATURES_OK) != 0;
    }

    /** Programs MSI-X vector {@code v} to data {@code 0x40 + v}, unmasked, and enables MSI-X. */
    public void enableMsix(int vectors) {
        for (int v = 0; v < vectors; v++) {
            long e = msixTable + 16L * v;
            mmio.write(e, 4, MSI_ADDRESS);
            mmio.write(e + 4, 4, 0);
            mmio.write(e + 8, 4, 0x40 + v);
            mmio.write(e + 12, 4, 0);
        }
        dev.writeConfig(msixCap + 2, 2, 0x8000);
    }

    public void selectQueue(int q) {
        write(VirtioPciTransport.Q_SELECT, 2, q);
    }

    /** Sets up queue {@code q} like vp_modern: size, vector, addresses as two 32-bit halves, enable. */
    public void setupQueue(int q, int size, long desc, long driver, long device, int vector) {
        selectQueue(q);
        write(VirtioPciTransport.Q_SIZE, 2, size);
        write(VirtioPciTransport.Q_MSIX, 2, vector);
        writeTwoPart(VirtioPciTransport.Q_DESC, desc);
        writeTwoPart(VirtioPciTransport.Q_DRIVER, driver);
        writeTwoPart(VirtioPciTransport.Q_DEVICE, device);
        write(VirtioPciTransport.Q_ENABLE, 2, 1);
    }

    public void writeTwoPart(int off, long v) {
        write(off, 4, v & 0xffffffffL);
        write(off + 4, 4, v >>> 32);
    }

    public long notifyAddress(int q) {
        selectQueue(q);
        return notifyBase + read(VirtioPciTransport.Q_NOTIFY_OFF, 2) * notifyMultiplier;
    }

    public void kick(int q) {
        mmio.write(notifyAddress(q), 2, q);
    }
}
