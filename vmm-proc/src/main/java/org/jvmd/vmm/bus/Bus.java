package org.jvmd.vmm.bus;

import java.util.Arrays;

/**
 * An address space of non-overlapping device windows: one for port I/O, one for MMIO.
 * Lookups binary-search an immutable snapshot, so vCPU threads read without locks while
 * the (rare) registration path copies on write.
 */
public final class Bus {
    private record Window(long base, long length, BusDevice device) {}

    private volatile Window[] windows = new Window[0];
    private final String name;

    public Bus(String name) {
        this.name = name;
    }

    /** Maps {@code device} at {@code [base, base+length)}; overlapping an existing window is a bug. */
    public synchronized void register(long base, long length, BusDevice device) {
        if (length <= 0 || base + length < base) {
            throw new IllegalArgumentException(name + ": bad window " + Long.toHexString(base) + "+" + length);
        }
        for (Window w : windows) {
            if (base < w.base + w.length && w.base < base + length) {
                throw new IllegalStateException(name + ": window " + Long.toHexString(base) + "+" + length
                        + " overlaps " + Long.toHexString(w.base) + "+" + w.length);
            }
        }
        Window[] next = Arrays.copyOf(windows, windows.length + 1);
        next[windows.length] = new Window(base, length, device);
        Arrays.sort(next, (a, b) -> Long.compareUnsigned(a.base, b.base));
        windows = next;
    }

    /** Removes the window starting at {@code base} (e.g. a PCI BAR being moved). */
    public synchronized boolean unregister(long base) {
        Window[] cur = windows;
        for (int i = 0; i < cur.length; i++) {
            if (cur[i].base == base) {
                Window[] next = new Window[cur.length - 1];
                System.arraycopy(cur, 0, next, 0, i);
                System.arraycopy(cur, i + 1, next, i, cur.length - i - 1);
                windows = next;
                return true;
            }
        }
        return false;
    }

    private Window find(long addr) {
        Window[] w = windows;
        int lo = 0;
        int hi = w.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Window m = w[mid];
            if (Long.compareUnsigned(addr, m.base) < 0) {
                hi = mid - 1;
            } else if (Long.compareUnsigned(addr - m.base, m.length) >= 0) {
                lo = mid + 1;
            } else {
                return m;
            }
        }
        return null;
    }

    /** Reads {@code size} bytes at {@code addr}; unclaimed addresses read as all ones, like a real bus. */
    public long read(long addr, int size) {
        Window w = find(addr);
        if (w == null) {
            return size == 8 ? -1L : (1L << (size * 8)) - 1;
        }
        return w.device.read(addr - w.base, size);
    }

    /** Writes {@code size} bytes at {@code addr}; returns false if no device claims it (the write is dropped). */
    public boolean write(long addr, int size, long value) {
        Window w = find(addr);
        if (w == null) {
            return false;
        }
        w.device.write(addr - w.base, size, value);
        return true;
    }

    public boolean claimed(long addr) {
        return find(addr) != null;
    }
}
