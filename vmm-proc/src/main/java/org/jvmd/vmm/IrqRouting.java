package org.jvmd.vmm;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jvmd.sys.SysException;
import org.jvmd.sys.kvm.GsiRoute;
import org.jvmd.sys.kvm.VmFd;

/**
 * The VM's GSI routing table. GSIs 0-23 go to the in-kernel interrupt controllers as on
 * a PC: ISA IRQs 0-15 to the PIC pair and the IOAPIC, 16-23 to the IOAPIC only, except
 * that GSI 0 (where KVM's PIT raises IRQ 0) reaches IOAPIC pin 2, as the ACPI MADT's
 * interrupt source override for IRQ 0 tells the guest (ACPI 6.5 §5.2.12.5). GSI 2 is the
 * PIC cascade and has no route. MSI routes, for irqfds, are allocated from GSI 24 up.
 */
public final class IrqRouting {
    /** IOAPIC pins of the in-kernel IOAPIC (KVM_IOAPIC_NUM_PINS). */
    public static final int IOAPIC_PINS = 24;
    /** ISA IRQ 0 is wired to IOAPIC pin 2 (the MADT declares the override). */
    public static final int PIT_IOAPIC_PIN = 2;

    private final VmFd vm;
    private final int maxGsi;
    private final Map<Integer, GsiRoute.Msi> msi = new TreeMap<>();

    IrqRouting(VmFd vm, int maxGsi) {
        this.vm = vm;
        this.maxGsi = maxGsi;
    }

    /** The PIC/IOAPIC part of the table. */
    public static List<GsiRoute> legacyRoutes() {
        List<GsiRoute> r = new ArrayList<>();
        for (int gsi = 0; gsi < IOAPIC_PINS; gsi++) {
            if (gsi == 2) {
                continue;
            }
            if (gsi < 16) {
                r.add(new GsiRoute.Irqchip(gsi, gsi < 8 ? GsiRoute.PIC_MASTER : GsiRoute.PIC_SLAVE, gsi % 8));
            }
            r.add(new GsiRoute.Irqchip(gsi, GsiRoute.IOAPIC, gsi == 0 ? PIT_IOAPIC_PIN : gsi));
        }
        return r;
    }

    /** Installs the table: the legacy routes plus every MSI route allocated so far. */
    public synchronized void commit() throws SysException {
        List<GsiRoute> all = legacyRoutes();
        all.addAll(msi.values());
        vm.setGsiRouting(all);
    }

    /** Allocates a GSI that sends {@code data} to {@code address}; call {@link #commit()} after a batch. */
    public synchronized int addMsi(long address, int data) {
        for (int gsi = IOAPIC_PINS; gsi < maxGsi; gsi++) {
            if (!msi.containsKey(gsi)) {
                msi.put(gsi, new GsiRoute.Msi(gsi, address, data));
                return gsi;
            }
        }
        throw new IllegalStateException("all " + maxGsi + " GSIs are in use");
    }

    /** Points an allocated MSI GSI at a new message (the guest reprogrammed the vector). */
    public synchronized void updateMsi(int gsi, long address, int data) {
        if (!msi.containsKey(gsi)) {
            throw new IllegalArgumentException("GSI " + gsi + " is not an MSI route");
        }
        msi.put(gsi, new GsiRoute.Msi(gsi, address, data));
    }

    public synchronized void removeMsi(int gsi) {
        msi.remove(gsi);
    }
}
