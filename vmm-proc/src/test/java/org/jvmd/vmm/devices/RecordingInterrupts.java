package org.jvmd.vmm.devices;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jvmd.vmm.bus.Interrupts;

/** An {@link Interrupts} that records what device models raise, for tests. */
public final class RecordingInterrupts implements Interrupts {
    public record Msi(long address, int data) {}

    private final Map<Integer, Boolean> lines = new HashMap<>();
    private final Map<Integer, Integer> risingEdges = new HashMap<>();
    public final List<Msi> msis = new ArrayList<>();

    @Override
    public synchronized void setIrqLine(int gsi, boolean level) {
        boolean old = lines.getOrDefault(gsi, false);
        if (level && !old) {
            risingEdges.merge(gsi, 1, Integer::sum);
        }
        lines.put(gsi, level);
    }

    @Override
    public synchronized void signalMsi(long address, int data) {
        msis.add(new Msi(address, data));
    }

    public synchronized boolean level(int gsi) {
        return lines.getOrDefault(gsi, false);
    }

    public synchronized int edges(int gsi) {
        return risingEdges.getOrDefault(gsi, 0);
    }
}
