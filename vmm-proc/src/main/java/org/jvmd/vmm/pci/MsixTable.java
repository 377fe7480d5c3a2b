package org.jvmd.vmm.pci;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jvmd.vmm.bus.Interrupts;

/**
 * The MSI-X table and pending-bit array of one function (PCI 3.0 §6.8.2): per vector a
 * 16-byte entry (message address low/high, message data, vector control whose bit 0 masks),
 * and one pending bit per vector.
 *
 * <p>{@link #signal} delivers a vector through {@link Interrupts#signalMsi} when MSI-X is
 * enabled and neither the function nor the vector is masked; otherwise it sets the vector's
 * pending bit, and the message is sent when the mask is lifted (PCI 3.0 §6.8.2.9).
 *
 * <p>The core routes vectors to irqfds for device processes; {@link VectorListener}s hear
 * every change of a vector's address, data or effective mask so GSI routes can follow.
 */
public final class MsixTable {
    public static final int ENTRY_SIZE = 16;
    /** "No vector" in virtio's vector registers (virtio 1.2 §4.1.5.1.2). */
    public static final int NO_VECTOR = 0xffff;

    static final int ENTRY_ADDR_LO = 0;
    static final int ENTRY_ADDR_HI = 4;
    static final int ENTRY_DATA = 8;
    static final int ENTRY_CONTROL = 12;
    static final int CONTROL_MASKED = 0x1;

    /** Told when a vector's routing (address, data or effective mask) may have changed. */
    public interface VectorListener {
        void vectorChanged(int vector);
    }

    private final Interrupts interrupts;
    private final byte[] table;
    private final long[] pending;
    private final int vectors;
    private final List<VectorListener> listeners = new CopyOnWriteArrayList<>();
    private boolean enabled;
    private boolean functionMasked;
    private long delivered;

    public MsixTable(int vectors, Interrupts interrupts) {
        if (vectors < 1 || vectors > 2048) {
            throw new IllegalArgumentException("MSI-X table size " + vectors); // PCI 3.0: 11-bit field
        }
        this.vectors = vectors;
        this.interrupts = interrupts;
        this.table = new byte[vectors * ENTRY_SIZE];
        this.pending = new long[(vectors + 63) / 64];
        for (int v = 0; v < vectors; v++) {
            table[v * ENTRY_SIZE + ENTRY_CONTROL] = CONTROL_MASKED; // masked after reset (§6.8.2.9)
        }
    }

    public int vectors() {
        return vectors;
    }

    public int tableBytes() {
        return vectors * ENTRY_SIZE;
    }

    public int pbaBytes() {
        return pending.length * 8;
    }

    public void addListener(VectorListener l) {
        listeners.add(l);
    }

    // ---- guest access ----

    /** Reads {@code size} bytes of the table at {@code offset}; outside reads as 0. */
    public synchronized long readTable(long offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            long at = offset + i;
            if (at >= 0 && at < table.length) {
                v |= (long) (table[(int) at] & 0xff) << (8 * i);
            }
        }
        return v;
    }

    /** Writes table bytes; the reserved bits of vector control stay 0. */
    public void writeTable(long offset, int size, long value) {
        int first = Integer.MAX_VALUE;
        int last = -1;
        synchronized (this) {
            for (int i = 0; i < size; i++) {
                long at = offset + i;
                if (at < 0 || at >= table.length) {
                    continue;
                }
                int b = (int) (value >>> (8 * i)) & 0xff;
                int field = (int) (at % ENTRY_SIZE);
                if (field == ENTRY_CONTROL) {
                    b &= CONTROL_MASKED;
                } else if (field > ENTRY_CONTROL) {
                    b = 0;
                }
                table[(int) at] = (byte) b;
                int vector = (int) (at / ENTRY_SIZE);
                first = Math.min(first, vector);
                last = Math.max(last, vector);
            }
            for (int v = first; v <= last; v++) {
                deliverIfUnmasked(v);
            }
        }
        for (int v = first; v <= last; v++) {
            fire(v);
        }
    }

    /** Reads the pending-bit array; writes to it are ignored (it is read-only). */
    public synchronized long readPba(long offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            long at = offset + i;
            if (at >= 0 && at < pending.length * 8L) {
                long word = pending[(int) (at / 8)];
                v |= ((word >>> (8 * (at % 8))) & 0xff) << (8 * i);
            }
        }
        return v;
    }

    /** Applies the capability's Message Control enable (bit 15) and function mask (bit 14). */
    public void setControl(boolean enable, boolean functionMask) {
        boolean changed;
        synchronized (this) {
            changed = enable != enabled || functionMask != functionMasked;
            enabled = enable;
            functionMasked = functionMask;
            for (int v = 0; v < vectors; v++) {
                deliverIfUnmasked(v);
            }
        }
        if (changed) {
            for (int v = 0; v < vectors; v++) {
                fire(v);
            }
        }
    }

    /** Clears every entry back to its reset state (masked, zero) with no pending bits. */
    public void reset() {
        synchronized (this) {
            java.util.Arrays.fill(table, (byte) 0);
            java.util.Arrays.fill(pending, 0);
            for (int v = 0; v < vectors; v++) {
                table[v * ENTRY_SIZE + ENTRY_CONTROL] = CONTROL_MASKED;
            }
            enabled = false;
            functionMasked = false;
        }
        for (int v = 0; v < vectors; v++) {
            fire(v);
        }
    }

    // ---- delivery ----

    /**
     * Raises {@code vector}: sends its message, or sets its pending bit while masked.
     * Returns false if MSI-X is disabled or the vector does not exist (nothing happens).
     */
    public synchronized boolean signal(int vector) {
        if (!enabled || vector < 0 || vector >= vectors) {
            return false;
        }
        if (masked(vector)) {
            pending[vector / 64] |= 1L << (vector % 64);
        } else {
            send(vector);
        }
        return true;
    }

    private void deliverIfUnmasked(int v) {
        if (enabled && isPending(v) && !masked(v)) {
            pending[v / 64] &= ~(1L << (v % 64));
            send(v);
        }
    }

    private void send(int v) {
        delivered++;
        interrupts.signalMsi(address(v), data(v));
    }

    private void fire(int vector) {
        for (VectorListener l : listeners) {
            l.vectorChanged(vector);
        }
    }

    private boolean masked(int v) {
        return functionMasked || (table[v * ENTRY_SIZE + ENTRY_CONTROL] & CONTROL_MASKED) != 0;
    }

    private int int32(int at) {
        return (table[at] & 0xff) | (table[at + 1] & 0xff) << 8 | (table[at + 2] & 0xff) << 16
                | (table[at + 3] & 0xff) << 24;
    }

    // ---- state for the core (GSI routing) and tests ----

    public synchronized boolean enabled() {
        return enabled;
    }

    public synchronized boolean functionMasked() {
        return functionMasked;
    }

    /** True if {@code v} cannot be delivered now (MSI-X off, function or vector masked). */
    public synchronized boolean effectivelyMasked(int v) {
        return !enabled || masked(v);
    }

    public synchronized boolean isPending(int v) {
        return (pending[v / 64] & (1L << (v % 64))) != 0;
    }

    public synchronized long address(int v) {
        int at = v * ENTRY_SIZE;
        return (int32(at + ENTRY_ADDR_LO) & 0xffffffffL) | (long) int32(at + ENTRY_ADDR_HI) << 32;
    }

    public synchronized int data(int v) {
        return int32(v * ENTRY_SIZE + ENTRY_DATA);
    }

    /** Messages sent so far. */
    public synchronized long delivered() {
        return delivered;
    }
}
