package org.jvmd.vmm.pci;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jvmd.vmm.bus.BusDevice;

/**
 * A PCI function with a type-0 configuration header (PCI Local Bus 3.0 §6.1): 256 bytes of
 * configuration space with per-bit write and write-1-to-clear masks, up to six memory BARs
 * (32- or 64-bit, sized by the usual all-ones probe), a capability list, and the command
 * register's memory-space enable.
 *
 * <p>A BAR is <em>mapped</em> while memory decoding is on and its address is non-zero;
 * whenever that changes (a BAR moves, or decoding is switched) every {@link BarListener} is
 * told, so the core can move the MMIO window on its bus and re-register ioeventfds.
 *
 * <p>Subclasses extend behaviour through {@link #beforeConfigRead} (refresh bytes that
 * mirror other state) and {@link #afterConfigWrite} (react to a register write).
 * Accesses are serialised on the device.
 */
public class PciDevice {
    public static final int CONFIG_SIZE = 256;

    // Type-0 header offsets (PCI 3.0 §6.1).
    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    public static final int CLASS_PROG = 0x09;
    public static final int CACHE_LINE_SIZE = 0x0c;
    public static final int LATENCY_TIMER = 0x0d;
    public static final int HEADER_TYPE = 0x0e;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int ROM_ADDRESS = 0x30;
    public static final int CAPABILITY_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;

    public static final int COMMAND_IO = 0x0001;
    public static final int COMMAND_MEMORY = 0x0002;
    public static final int COMMAND_MASTER = 0x0004;
    public static final int COMMAND_PARITY = 0x0040;
    public static final int COMMAND_SERR = 0x0100;
    public static final int COMMAND_INTX_DISABLE = 0x0400;

    public static final int STATUS_INTERRUPT = 0x0008;
    public static final int STATUS_CAP_LIST = 0x0010;
    /** Error bits cleared by writing 1: parity, SERR, master/target abort, signalled abort. */
    static final int STATUS_W1C = 0xf900;

    static final int BAR_MEM_64 = 0x04;
    static final int BAR_MEM_PREFETCH = 0x08;

    /** "Not mapped" in {@link BarListener} callbacks. */
    public static final long UNMAPPED = -1;

    /** Told when a BAR's effective mapping changes (old or new may be {@link #UNMAPPED}). */
    public interface BarListener {
        void barMoved(PciDevice device, int bar, long oldBase, long newBase, long size, BusDevice handler);
    }

    private record Bar(long size, boolean is64, BusDevice handler) {}

    protected final byte[] config = new byte[CONFIG_SIZE];
    private final byte[] writeMask = new byte[CONFIG_SIZE];
    private final byte[] clearMask = new byte[CONFIG_SIZE];
    private final Bar[] bars = new Bar[6];
    private final long[] mapped = {UNMAPPED, UNMAPPED, UNMAPPED, UNMAPPED, UNMAPPED, UNMAPPED};
    private final List<BarListener> listeners = new CopyOnWriteArrayList<>();
    private int lastCapability; // offset of the last capability, 0 if none
    private int nextCapability = 0x40;

    /**
     * @param classCode 24 bits: base class, subclass, programming interface (e.g. 0x020000
     *     for an Ethernet controller)
     */
    public PciDevice(int vendorId, int deviceId, int classCode, int revision, int subsystemVendorId, int subsystemId) {
        put16(VENDOR_ID, vendorId);
        put16(DEVICE_ID, deviceId);
        put8(REVISION_ID, revision);
        put8(CLASS_PROG, classCode);
        put16(CLASS_PROG + 1, classCode >> 8);
        put16(SUBSYSTEM_VENDOR_ID, subsystemVendorId);
        put16(SUBSYSTEM_ID, subsystemId);
        setWriteMask16(COMMAND, COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER | COMMAND_PARITY | COMMAND_SERR
                | COMMAND_INTX_DISABLE);
        clearMask[STATUS] = (byte) STATUS_W1C;
        clearMask[STATUS + 1] = (byte) (STATUS_W1C >> 8);
        writeMask[CACHE_LINE_SIZE] = (byte) 0xff;
        writeMask[LATENCY_TIMER] = (byte) 0xff;
        writeMask[INTERRUPT_LINE] = (byte) 0xff;
    }

    // ---- construction ----

    /**
     * Declares memory BAR {@code index} of {@code size} bytes (a power of two, at least 16:
     * PCI 3.0 §6.2.5.1) served by {@code handler} at offsets relative to the BAR base. A
     * 64-bit BAR also takes slot {@code index + 1}.
     */
    public final void addMemoryBar(int index, long size, boolean is64, boolean prefetchable, BusDevice handler) {
        if (index < 0 || index > 5 || (is64 && index > 4)) {
            throw new IllegalArgumentException("BAR index " + index);
        }
        if (size < 16 || Long.bitCount(size) != 1 || (!is64 && size > (1L << 31))) {
            throw new IllegalArgumentException("BAR size " + size);
        }
        if (bars[index] != null || (is64 && bars[index + 1] != null)) {
            throw new IllegalStateException("BAR " + index + " already declared");
        }
        bars[index] = new Bar(size, is64, handler);
        int off = BAR0 + 4 * index;
        int flags = (is64 ? BAR_MEM_64 : 0) | (prefetchable ? BAR_MEM_PREFETCH : 0);
        put32(off, flags);
        long mask = ~(size - 1);
        setWriteMask32(off, (int) mask & 0xfffffff0);
        if (is64) {
            bars[index + 1] = bars[index]; // the upper half belongs to the same BAR
            setWriteMask32(off + 4, (int) (mask >>> 32));
        }
    }

    /** Adds a capability of {@code length} bytes to the list; returns its offset. */
    public final int addCapability(int id, int length) {
        int off = nextCapability;
        if (length < 2 || off + length > CONFIG_SIZE) {
            throw new IllegalStateException("no room for capability " + id + " of " + length + " bytes");
        }
        config[off] = (byte) id;
        config[off + 1] = 0;
        if (lastCapability == 0) {
            config[CAPABILITY_POINTER] = (byte) off;
        } else {
            config[lastCapability + 1] = (byte) off;
        }
        lastCapability = off;
        nextCapability = (off + length + 3) & ~3;
        config[STATUS] |= STATUS_CAP_LIST;
        return off;
    }

    /** Lets the guest write the masked bits of {@code [offset, offset+n)} (capability fields). */
    protected final void setWriteMask(int offset, int n, int mask) {
        for (int i = 0; i < n; i++) {
            writeMask[offset + i] = (byte) (mask >>> (8 * i));
        }
    }

    private void setWriteMask16(int off, int mask) {
        setWriteMask(off, 2, mask);
    }

    private void setWriteMask32(int off, int mask) {
        setWriteMask(off, 4, mask);
    }

    /** Sets the interrupt pin register (0 none, 1..4 INTA#..INTD#). */
    public final void setInterruptPin(int pin) {
        put8(INTERRUPT_PIN, pin);
    }

    public final void addBarListener(BarListener l) {
        listeners.add(l);
    }

    // ---- register access ----

    /**
     * Reads {@code size} (1..4) bytes at {@code offset}; bytes beyond the 256-byte space read
     * as 0xff (as a missing extended space does).
     */
    public final synchronized long readConfig(int offset, int size) {
        if (offset < 0 || size < 1 || size > 8) {
            return size >= 8 ? -1L : (1L << (8 * Math.max(size, 0))) - 1;
        }
        int inRange = Math.max(0, Math.min(size, CONFIG_SIZE - offset));
        if (inRange > 0) {
            beforeConfigRead(offset, inRange);
        }
        long v = 0;
        for (int i = 0; i < size; i++) {
            int b = i < inRange ? config[offset + i] & 0xff : 0xff;
            v |= (long) b << (8 * i);
        }
        return v;
    }

    /**
     * Writes {@code size} (1..4) bytes at {@code offset} through the write and W1C masks; then
     * runs what {@link #afterConfigWrite} left to do once this device's lock is released.
     */
    public final void writeConfig(int offset, int size, long value) {
        Runnable then = writeConfigLocked(offset, size, value);
        if (then != null) {
            then.run();
        }
    }

    private synchronized Runnable writeConfigLocked(int offset, int size, long value) {
        if (offset < 0 || offset >= CONFIG_SIZE || size < 1 || size > 8) {
            return null;
        }
        int n = Math.min(size, CONFIG_SIZE - offset);
        for (int i = 0; i < n; i++) {
            int at = offset + i;
            int v = (int) (value >>> (8 * i)) & 0xff;
            int wm = writeMask[at] & 0xff;
            int cm = clearMask[at] & 0xff;
            int old = config[at] & 0xff;
            int next = (old & ~wm) | (v & wm);
            next &= ~(v & cm);
            config[at] = (byte) next;
        }
        if (touches(offset, n, COMMAND, 2) || touches(offset, n, BAR0, 24)) {
            updateMappings();
        }
        return afterConfigWrite(offset, n, value);
    }

    /** Hook: refresh {@code config} bytes in range before they are read. */
    protected void beforeConfigRead(int offset, int size) {}

    /**
     * Hook, under this device's lock: the guest wrote {@code [offset, offset+size)} (already
     * stored through the masks). Returns what is left to do once the lock is released (a
     * write that must not run under it), or null.
     */
    protected Runnable afterConfigWrite(int offset, int size, long value) {
        return null;
    }

    protected static boolean touches(int offset, int size, int start, int length) {
        return offset < start + length && start < offset + size;
    }

    // ---- BARs ----

    public final synchronized int command() {
        return get16(COMMAND);
    }

    public final synchronized boolean memoryEnabled() {
        return (get16(COMMAND) & COMMAND_MEMORY) != 0;
    }

    public final synchronized boolean busMasterEnabled() {
        return (get16(COMMAND) & COMMAND_MASTER) != 0;
    }

    /** The address programmed in BAR {@code index} (without flag bits). */
    public final synchronized long barAddress(int index) {
        Bar b = bars[index];
        if (b == null) {
            return 0;
        }
        int off = BAR0 + 4 * index;
        long lo = get32(off) & 0xfffffff0L;
        long hi = b.is64 ? (get32(off + 4) & 0xffffffffL) : 0;
        return (hi << 32) | lo;
    }

    public final long barSize(int index) {
        Bar b = bars[index];
        return b == null ? 0 : b.size;
    }

    /** Where BAR {@code index} is decoded now, or {@link #UNMAPPED}. */
    public final synchronized long mappedBase(int index) {
        return mapped[index];
    }

    /** Programs BAR {@code index} as firmware would before the guest runs. */
    public final synchronized void setBarAddress(int index, long address) {
        Bar b = bars[index];
        if (b == null || (address & (b.size - 1)) != 0) {
            throw new IllegalArgumentException("BAR " + index + " cannot take " + Long.toHexString(address));
        }
        int off = BAR0 + 4 * index;
        put32(off, (int) address | (get32(off) & 0xf));
        if (b.is64) {
            put32(off + 4, (int) (address >>> 32));
        }
        updateMappings();
    }

    final boolean hasBar(int index) {
        return bars[index] != null && (index == 0 || bars[index - 1] != bars[index]);
    }

    final boolean isBar64(int index) {
        return bars[index] != null && bars[index].is64;
    }

    private void updateMappings() {
        boolean decode = (get16(COMMAND) & COMMAND_MEMORY) != 0;
        for (int i = 0; i < 6; i++) {
            if (!hasBar(i)) {
                continue;
            }
            long addr = barAddress(i);
            Bar b = bars[i];
            long want = decode && addr != 0 && addr + b.size > addr ? addr : UNMAPPED;
            long old = mapped[i];
            if (want != old) {
                mapped[i] = want;
                for (BarListener l : listeners) {
                    l.barMoved(this, i, old, want, b.size, b.handler);
                }
            }
        }
    }

    // ---- raw byte helpers ----

    protected final void put8(int off, int v) {
        config[off] = (byte) v;
    }

    protected final void put16(int off, int v) {
        config[off] = (byte) v;
        config[off + 1] = (byte) (v >> 8);
    }

    protected final void put32(int off, int v) {
        put16(off, v);
        put16(off + 2, v >>> 16);
    }

    protected final int get16(int off) {
        return (config[off] & 0xff) | (config[off + 1] & 0xff) << 8;
    }

    protected final int get32(int off) {
        return get16(off) | get16(off + 2) << 16;
    }
}
