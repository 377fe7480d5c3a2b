package org.jvmd.vmm.pci;

import java.lang.System.Logger.Level;
import java.util.HashMap;
import java.util.Map;
import org.jvmd.vmm.bus.Bus;
import org.jvmd.vmm.bus.BusDevice;

/**
 * Keeps BAR windows on the MMIO {@link Bus} where the guest put them. A BAR the guest moves
 * onto another window (or past the end of the address space) stays unmapped until it is
 * moved somewhere free: the guest broke its own device, the VMM carries on.
 */
public final class PciBarMapper implements PciDevice.BarListener {
    private static final System.Logger LOG = System.getLogger(PciBarMapper.class.getName());

    private record Key(PciDevice device, int bar) {}

    private final Bus mmio;
    private final Map<Key, Long> registered = new HashMap<>();
    private long conflicts;

    public PciBarMapper(Bus mmio) {
        this.mmio = mmio;
    }

    @Override
    public synchronized void barMoved(
            PciDevice device, int bar, long oldBase, long newBase, long size, BusDevice handler) {
        Key key = new Key(device, bar);
        Long had = registered.remove(key);
        if (had != null) {
            mmio.unregister(had);
        }
        if (newBase == PciDevice.UNMAPPED) {
            return;
        }
        try {
            mmio.register(newBase, size, handler);
            registered.put(key, newBase);
        } catch (IllegalArgumentException | IllegalStateException e) {
            conflicts++;
            LOG.log(Level.WARNING, "BAR {0} left unmapped: {1}", bar, e.getMessage());
        }
    }

    /** Where {@code device}'s BAR is registered on the bus, or {@link PciDevice#UNMAPPED}. */
    public synchronized long registeredBase(PciDevice device, int bar) {
        Long b = registered.get(new Key(device, bar));
        return b == null ? PciDevice.UNMAPPED : b;
    }

    /** BAR placements refused because they overlapped another window. */
    public synchronized long conflicts() {
        return conflicts;
    }
}
