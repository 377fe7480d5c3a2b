package org.jvmd.vmm.pci;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.jvmd.virtio.GuestFault;
import org.jvmd.vmm.bus.BusDevice;
import org.jvmd.vmm.bus.Interrupts;

/**
 * The virtio over PCI transport, modern interface only (virtio 1.2 §4.1; VERSION_1
 * required), with MSI-X.
 *
 * <p>Everything lives in one 64-bit memory BAR (BAR 0), each structure on its own page:
 * common configuration, ISR status, device configuration, the notify region (one 4-byte
 * slot per queue: queue_notify_off = queue index, notify_off_multiplier = 4), the MSI-X
 * table and the pending-bit array. Vendor capabilities point at each structure, plus the
 * PCI configuration access capability (§4.1.4.9), and an MSI-X capability with one vector
 * for configuration changes and one per queue.
 *
 * <p>The common configuration implements feature negotiation and the device status state
 * machine (§3.1.1, §2.1): FEATURES_OK is accepted only for a subset of the offered features
 * that includes VERSION_1 (and that the device accepts); DRIVER_OK activates the device
 * with the enabled queues; writing 0 resets. The driver may not clear status bits, nor
 * change a queue once enabled. Accesses that are not of a field's natural width (or a
 * 32-bit half of a 64-bit field) are ignored and counted, never fatal.
 *
 * <p>This is where the {@link VirtioDevice} life-cycle originates, the same for an
 * in-process device and for a device-process proxy: {@link VirtioDevice#acceptFeatures}
 * (FEATURES_OK), {@link VirtioDevice#queueEnabled} (queue_enable), {@link VirtioDevice#activate}
 * (DRIVER_OK), {@link VirtioDevice#reset} (status 0). Two locks: the <em>register lock</em>
 * (this object's monitor) guards the register state and is held only briefly; the
 * <em>life-cycle lock</em> is held across each whole write to the common configuration, so
 * writes are applied one at a time, and the device's life-cycle calls are made under it
 * alone, on the writing vCPU's thread, after the register lock is released. A device may
 * therefore block in them (a proxy waits for its process's ResetDone) without stalling
 * register reads or {@link #deviceNeedsReset}. Lock order: life-cycle, then register; a
 * write through the PCI configuration access window reaches the BAR only after the
 * configuration write released the register lock ({@link #afterConfigWrite}).
 * A status bit that depends on the device (FEATURES_OK, DRIVER_OK) becomes visible only
 * once the device's call returned; device_status reads 0 after a reset only once the
 * device's {@code reset} returned.
 *
 * <p>The data path does not pass through here when the core registers an ioeventfd on
 * {@link #notifyAddress} and irqfds on the MSI-X vectors; kicks that do arrive here are
 * handed to {@link VirtioDevice#queueNotify}.
 */
public final class VirtioPciTransport extends PciDevice {
    private static final System.Logger LOG = System.getLogger(VirtioPciTransport.class.getName());

    public static final int VENDOR = 0x1af4;
    /** Modern device IDs are 0x1040 + the virtio device ID (§4.1.2.1). */
    public static final int DEVICE_ID_BASE = 0x1040;
    public static final int BAR = 0;

    // Device status bits (§2.1).
    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;
    public static final int STATUS_NEEDS_RESET = 0x40;
    public static final int STATUS_FAILED = 0x80;

    public static final int F_VERSION_1 = 32;

    // virtio_pci_cap cfg_type values (§4.1.4).
    static final int CAP_COMMON = 1;
    static final int CAP_NOTIFY = 2;
    static final int CAP_ISR = 3;
    static final int CAP_DEVICE = 4;
    static final int CAP_PCI_CFG = 5;
    static final int PCI_CAP_ID_VNDR = 0x09;
    static final int PCI_CAP_ID_MSIX = 0x11;
    static final int CAP_BAR = 4;
    static final int CAP_OFFSET = 8;
    static final int CAP_LENGTH = 12;
    static final int CAP_NOTIFY_MULTIPLIER = 16;
    static final int CAP_PCI_CFG_DATA = 16;

    // Common configuration layout (§4.1.4.3).
    static final int DFSELECT = 0x00;
    static final int DF = 0x04;
    static final int GFSELECT = 0x08;
    static final int GF = 0x0c;
    static final int MSIX_CONFIG = 0x10;
    static final int NUM_QUEUES = 0x12;
    static final int DEVICE_STATUS = 0x14;
    static final int CONFIG_GENERATION = 0x15;
    static final int Q_SELECT = 0x16;
    static final int Q_SIZE = 0x18;
    static final int Q_MSIX = 0x1a;
    static final int Q_ENABLE = 0x1c;
    static final int Q_NOTIFY_OFF = 0x1e;
    static final int Q_DESC = 0x20;
    static final int Q_DRIVER = 0x28;
    static final int Q_DEVICE = 0x30;
    static final int COMMON_SIZE = 0x38;
    /** Field starts and widths of the common configuration; 64-bit fields as two halves. */
    private static final int[] FIELD_START = {
        0x00, 0x04, 0x08, 0x0c, 0x10, 0x12, 0x14, 0x15, 0x16, 0x18, 0x1a, 0x1c, 0x1e, 0x20, 0x24, 0x28, 0x2c, 0x30, 0x34
    };
    private static final int[] FIELD_WIDTH = {4, 4, 4, 4, 2, 2, 1, 1, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4};

    static final int NOTIFY_MULTIPLIER = 4;
    static final int PAGE = 0x1000;

    private final VirtioDevice device;
    private final MsixTable msix;
    /** Held across each common-configuration write and the device life-cycle call it causes. */
    private final Object lifecycle = new Object();
    private final Interrupt interrupt = new Interrupt();

    // BAR layout.
    final int commonOffset = 0;
    final int isrOffset = PAGE;
    final int deviceOffset = 2 * PAGE;
    final int notifyOffset;
    final int msixTableOffset;
    final int msixPbaOffset;
    final long barSize;

    private final int pciCfgCap;
    private final int msixCap;

    // Common configuration state.
    private final int queues;
    private final long offered;
    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private long driverFeatures;
    private int status;
    private final AtomicInteger configGeneration = new AtomicInteger();
    private final AtomicInteger isr = new AtomicInteger();
    private volatile int configVector = MsixTable.NO_VECTOR;
    private int queueSelect;
    private final int[] queueSize;
    private final AtomicIntegerArray queueVector;
    private final boolean[] queueEnabled;
    private final long[] queueDesc;
    private final long[] queueDriver;
    private final long[] queueDevice;
    private long ignoredAccesses;
    private long notifies;

    public VirtioPciTransport(VirtioDevice device, Interrupts interrupts) {
        super(VENDOR, DEVICE_ID_BASE + device.deviceType(), classCode(device.deviceType()), 1, VENDOR, 0x1100);
        this.device = device;
        this.queues = device.queueCount();
        this.offered = device.deviceFeatures();
        if ((offered & (1L << F_VERSION_1)) == 0) {
            throw new IllegalArgumentException("a modern-only transport needs VIRTIO_F_VERSION_1");
        }
        if (queues < 1 || queues > 1024) {
            throw new IllegalArgumentException("queue count " + queues);
        }
        this.queueSize = new int[queues];
        this.queueVector = new AtomicIntegerArray(queues);
        this.queueEnabled = new boolean[queues];
        this.queueDesc = new long[queues];
        this.queueDriver = new long[queues];
        this.queueDevice = new long[queues];
        for (int q = 0; q < queues; q++) {
            int max = device.maxQueueSize(q);
            if (max < 1 || max > 32768 || Integer.bitCount(max) != 1) {
                throw new IllegalArgumentException("queue " + q + " max size " + max);
            }
        }
        resetQueues();

        this.msix = new MsixTable(queues + 1, interrupts);
        int configSize = device.configSize();
        int deviceRegion = Math.max(PAGE, roundUp(configSize, PAGE));
        this.notifyOffset = deviceOffset + deviceRegion;
        this.msixTableOffset = notifyOffset + roundUp(queues * NOTIFY_MULTIPLIER, PAGE);
        this.msixPbaOffset = msixTableOffset + roundUp(msix.tableBytes(), PAGE);
        int end = msixPbaOffset + roundUp(msix.pbaBytes(), PAGE);
        this.barSize = Math.max(0x4000, Long.highestOneBit(end - 1L) << 1);
        addMemoryBar(BAR, barSize, true, false, new BarRegisters());

        this.msixCap = addMsixCapability();
        addVirtioCap(CAP_COMMON, commonOffset, COMMON_SIZE, 16);
        int notifyCap = addVirtioCap(CAP_NOTIFY, notifyOffset, queues * NOTIFY_MULTIPLIER, 20);
        put32(notifyCap + CAP_NOTIFY_MULTIPLIER, NOTIFY_MULTIPLIER);
        addVirtioCap(CAP_ISR, isrOffset, 1, 16);
        if (configSize > 0) {
            addVirtioCap(CAP_DEVICE, deviceOffset, configSize, 16);
        }
        this.pciCfgCap = addVirtioCap(CAP_PCI_CFG, 0, 0, 20);
        setWriteMask(pciCfgCap + CAP_BAR, 1, 0xff);
        setWriteMask(pciCfgCap + CAP_OFFSET, 4, 0xffffffff);
        setWriteMask(pciCfgCap + CAP_LENGTH, 4, 0xffffffff);
        setWriteMask(pciCfgCap + CAP_PCI_CFG_DATA, 4, 0xffffffff);
    }

    private static int classCode(int type) {
        return switch (type) {
            case 1 -> 0x020000; // network controller, Ethernet
            case 2 -> 0x018000; // mass storage, other
            default -> 0xff0000; // unassigned class, as QEMU gives virtio-rng
        };
    }

    private static int roundUp(int v, int to) {
        return (v + to - 1) / to * to;
    }

    private int addVirtioCap(int type, int offset, int length, int capLength) {
        int cap = addCapability(PCI_CAP_ID_VNDR, capLength);
        put8(cap + 2, capLength);
        put8(cap + 3, type);
        put8(cap + CAP_BAR, BAR);
        put32(cap + CAP_OFFSET, offset);
        put32(cap + CAP_LENGTH, length);
        return cap;
    }

    /** MSI-X capability (PCI 3.0 §6.8.2): table size, table and PBA offsets in BAR 0. */
    private int addMsixCapability() {
        int cap = addCapability(PCI_CAP_ID_MSIX, 12);
        put16(cap + 2, msix.vectors() - 1);
        setWriteMask(cap + 2, 2, 0xc000); // bit 15 enable, bit 14 function mask
        put32(cap + 4, msixTableOffset | BAR);
        put32(cap + 8, msixPbaOffset | BAR);
        return cap;
    }

    // ---- public surface for the core ----

    public VirtioDevice device() {
        return device;
    }

    public MsixTable msix() {
        return msix;
    }

    /** BAR-relative offset of {@code queue}'s notify slot. */
    public int notifyOffset(int queue) {
        return notifyOffset + queue * NOTIFY_MULTIPLIER;
    }

    /** Guest-physical notify address of {@code queue} at the BAR's current address. */
    public long notifyAddress(int queue) {
        return barAddress(BAR) + notifyOffset(queue);
    }

    /** The interrupt path the device uses (also what the core's relay raises for a device process). */
    public VirtioInterrupt interrupt() {
        return interrupt;
    }

    public synchronized int status() {
        return status;
    }

    public synchronized long driverFeatures() {
        return driverFeatures;
    }

    /** Accesses dropped for having a wrong width or offset. */
    public synchronized long ignoredAccesses() {
        return ignoredAccesses;
    }

    public synchronized long notifies() {
        return notifies;
    }

    /** The queue as configured now (enabled or not). */
    public synchronized QueueConfig queue(int q) {
        return new QueueConfig(q, queueSize[q], queueDesc[q], queueDriver[q], queueDevice[q], queueVector.get(q),
                notifyAddress(q));
    }

    public synchronized boolean queueEnabled(int q) {
        return queueEnabled[q];
    }

    /**
     * The device entered an error state only a reset clears (e.g. its device process died):
     * sets DEVICE_NEEDS_RESET and, if DRIVER_OK is set, sends a configuration change
     * notification (virtio 1.2 §2.1.2, §4.1.5.3). A driver reset clears it like any status.
     */
    public void deviceNeedsReset() {
        boolean notify;
        synchronized (this) {
            if (status == 0 || (status & STATUS_NEEDS_RESET) != 0) {
                return; // nothing negotiated yet, or already flagged
            }
            status |= STATUS_NEEDS_RESET;
            notify = (status & STATUS_DRIVER_OK) != 0;
        }
        if (notify) {
            interrupt.signalConfig();
        }
    }

    // ---- PCI configuration hooks ----

    @Override
    protected void beforeConfigRead(int offset, int size) {
        if (touches(offset, size, pciCfgCap + CAP_PCI_CFG_DATA, 4)) {
            int len = get32(pciCfgCap + CAP_LENGTH);
            long at = get32(pciCfgCap + CAP_OFFSET) & 0xffffffffL;
            if (pciCfgWindowValid(at, len)) {
                put32(pciCfgCap + CAP_PCI_CFG_DATA, (int) barRead(at, len));
            }
        }
    }

    /**
     * A write through the PCI configuration access window goes to BAR 0 once the
     * configuration lock (the register lock) is released: a common-configuration write takes
     * the life-cycle lock first, and the device's life-cycle calls run without the register lock.
     */
    @Override
    protected Runnable afterConfigWrite(int offset, int size, long value) {
        if (touches(offset, size, msixCap + 2, 2)) {
            int control = get16(msixCap + 2);
            msix.setControl((control & 0x8000) != 0, (control & 0x4000) != 0);
        }
        if (touches(offset, size, pciCfgCap + CAP_PCI_CFG_DATA, 4)) {
            int len = get32(pciCfgCap + CAP_LENGTH);
            long at = get32(pciCfgCap + CAP_OFFSET) & 0xffffffffL;
            if (pciCfgWindowValid(at, len)) {
                long data = get32(pciCfgCap + CAP_PCI_CFG_DATA) & 0xffffffffL;
                return () -> barWrite(at, len, data);
            }
        }
        return null;
    }

    /** §4.1.4.9: cap.bar names our BAR, length 1, 2 or 4, offset aligned to it and inside the BAR. */
    private boolean pciCfgWindowValid(long at, int len) {
        int bar = config[pciCfgCap + CAP_BAR] & 0xff;
        return bar == BAR && (len == 1 || len == 2 || len == 4) && at % len == 0 && at + len <= barSize;
    }

    // ---- BAR 0 ----

    private final class BarRegisters implements BusDevice {
        @Override
        public long read(long offset, int size) {
            return barRead(offset, size);
        }

        @Override
        public void write(long offset, int size, long value) {
            barWrite(offset, size, value);
        }
    }

    long barRead(long off, int size) {
        if (off >= commonOffset && off < commonOffset + PAGE) {
            return commonRead((int) (off - commonOffset), size);
        }
        if (off >= isrOffset && off < isrOffset + PAGE) {
            // Reading ISR clears it (§4.1.4.5).
            return off == isrOffset ? isr.getAndSet(0) : 0;
        }
        if (off >= deviceOffset && off < notifyOffset) {
            int at = (int) (off - deviceOffset);
            return at + size <= device.configSize() ? device.readConfig(at, size) : 0;
        }
        if (off >= msixTableOffset && off < msixPbaOffset) {
            return msix.readTable(off - msixTableOffset, size);
        }
        if (off >= msixPbaOffset && off < barSize) {
            return msix.readPba(off - msixPbaOffset, size);
        }
        return 0; // notify region and holes
    }

    void barWrite(long off, int size, long value) {
        if (off >= commonOffset && off < commonOffset + PAGE) {
            commonWrite((int) (off - commonOffset), size, value);
        } else if (off >= deviceOffset && off < notifyOffset) {
            int at = (int) (off - deviceOffset);
            if (at + size <= device.configSize()) {
                device.writeConfig(at, size, value);
            }
        } else if (off >= notifyOffset && off < msixTableOffset) {
            notify((int) ((off - notifyOffset) / NOTIFY_MULTIPLIER));
        } else if (off >= msixTableOffset && off < msixPbaOffset) {
            msix.writeTable(off - msixTableOffset, size, value);
        }
        // ISR and PBA are read-only; holes ignore writes.
    }

    private void notify(int q) {
        synchronized (this) {
            if (q >= queues || !queueEnabled[q] || (status & STATUS_DRIVER_OK) == 0) {
                ignoredAccesses++;
                return;
            }
            notifies++;
        }
        device.queueNotify(q); // outside the lock: the device may take its time or signal back
    }

    // ---- common configuration ----

    private synchronized long commonRead(int off, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            int at = off + i;
            int f = fieldAt(at);
            if (f >= 0) {
                long field = fieldValue(FIELD_START[f]);
                v |= ((field >>> (8 * (at - FIELD_START[f]))) & 0xff) << (8 * i);
            }
        }
        return v;
    }

    private static int fieldAt(int at) {
        for (int f = 0; f < FIELD_START.length; f++) {
            if (at >= FIELD_START[f] && at < FIELD_START[f] + FIELD_WIDTH[f]) {
                return f;
            }
        }
        return -1;
    }

    private boolean selected() {
        return queueSelect < queues;
    }

    private long fieldValue(int start) {
        int q = queueSelect;
        boolean sel = selected();
        return switch (start) {
            case DFSELECT -> deviceFeatureSelect & 0xffffffffL;
            case DF -> featureWord(offered, deviceFeatureSelect);
            case GFSELECT -> driverFeatureSelect & 0xffffffffL;
            case GF -> featureWord(driverFeatures, driverFeatureSelect);
            case MSIX_CONFIG -> configVector;
            case NUM_QUEUES -> queues;
            case DEVICE_STATUS -> status;
            case CONFIG_GENERATION -> configGeneration.get() & 0xff;
            case Q_SELECT -> queueSelect;
            case Q_SIZE -> sel ? queueSize[q] : 0;
            case Q_MSIX -> sel ? queueVector.get(q) : MsixTable.NO_VECTOR;
            case Q_ENABLE -> sel && queueEnabled[q] ? 1 : 0;
            case Q_NOTIFY_OFF -> sel ? q : 0;
            case Q_DESC -> sel ? queueDesc[q] & 0xffffffffL : 0;
            case Q_DESC + 4 -> sel ? queueDesc[q] >>> 32 : 0;
            case Q_DRIVER -> sel ? queueDriver[q] & 0xffffffffL : 0;
            case Q_DRIVER + 4 -> sel ? queueDriver[q] >>> 32 : 0;
            case Q_DEVICE -> sel ? queueDevice[q] & 0xffffffffL : 0;
            case Q_DEVICE + 4 -> sel ? queueDevice[q] >>> 32 : 0;
            default -> 0;
        };
    }

    private static long featureWord(long features, int select) {
        return switch (select) {
            case 0 -> features & 0xffffffffL;
            case 1 -> features >>> 32;
            default -> 0;
        };
    }

    /**
     * One write to the common configuration: applied under the register lock, then the device
     * life-cycle calls it causes, in order, under the life-cycle lock alone (see the class
     * comment).
     */
    private void commonWrite(int off, int size, long value) {
        synchronized (lifecycle) {
            List<Runnable> lifecycleCalls = new ArrayList<>(2);
            synchronized (this) {
                if (!commonWriteLocked(off, size, value, lifecycleCalls)) {
                    ignoredAccesses++;
                }
            }
            for (Runnable call : lifecycleCalls) {
                call.run();
            }
        }
    }

    /**
     * Applies one write; returns false if it was not a valid access. The device life-cycle
     * calls it causes go to {@code lifecycleCalls}, run after the register lock is released.
     */
    private boolean commonWriteLocked(int off, int size, long value, List<Runnable> lifecycleCalls) {
        if (size == 8 && (off == Q_DESC || off == Q_DRIVER || off == Q_DEVICE)) {
            return writeQueueAddress(off, value);
        }
        int f = fieldAt(off);
        if (f < 0 || FIELD_START[f] != off || FIELD_WIDTH[f] != size) {
            return false;
        }
        int v32 = (int) value;
        switch (off) {
            case DFSELECT -> deviceFeatureSelect = v32;
            case GFSELECT -> driverFeatureSelect = v32;
            case GF -> {
                if ((status & STATUS_FEATURES_OK) != 0 || driverFeatureSelect > 1) {
                    return false;
                }
                int shift = 32 * driverFeatureSelect;
                driverFeatures = (driverFeatures & ~(0xffffffffL << shift)) | ((v32 & 0xffffffffL) << shift);
            }
            case MSIX_CONFIG -> configVector = vectorOrNone(v32 & 0xffff);
            case DEVICE_STATUS -> writeStatus(v32 & 0xff, lifecycleCalls);
            case Q_SELECT -> queueSelect = v32 & 0xffff;
            case Q_SIZE -> {
                return writeQueueSize(v32 & 0xffff);
            }
            case Q_MSIX -> {
                if (!selected()) {
                    return false;
                }
                queueVector.set(queueSelect, vectorOrNone(v32 & 0xffff));
            }
            case Q_ENABLE -> {
                return writeQueueEnable(v32 & 0xffff, lifecycleCalls);
            }
            case Q_DESC, Q_DESC + 4, Q_DRIVER, Q_DRIVER + 4, Q_DEVICE, Q_DEVICE + 4 -> {
                return writeQueueAddressHalf(off, v32);
            }
            default -> {
                return false; // read-only fields
            }
        }
        return true;
    }

    private int vectorOrNone(int v) {
        // A vector the table does not have reads back as NO_VECTOR (§4.1.5.1.2).
        return v < msix.vectors() ? v : MsixTable.NO_VECTOR;
    }

    private boolean queueWritable() {
        return selected() && !queueEnabled[queueSelect] && (status & STATUS_DRIVER_OK) == 0;
    }

    private boolean writeQueueSize(int size) {
        if (!queueWritable()) {
            return false;
        }
        int max = device.maxQueueSize(queueSelect);
        if (size == 0 || size > max || Integer.bitCount(size) != 1) {
            return false; // split rings are a power of two, at most the maximum (§2.7)
        }
        queueSize[queueSelect] = size;
        return true;
    }

    private boolean writeQueueAddress(int off, long value) {
        if (!queueWritable()) {
            return false;
        }
        int q = queueSelect;
        switch (off) {
            case Q_DESC -> queueDesc[q] = value;
            case Q_DRIVER -> queueDriver[q] = value;
            default -> queueDevice[q] = value;
        }
        return true;
    }

    private boolean writeQueueAddressHalf(int off, int v32) {
        if (!queueWritable()) {
            return false;
        }
        int q = queueSelect;
        int base = off & ~7;
        boolean high = (off & 4) != 0;
        long old = switch (base) {
            case Q_DESC -> queueDesc[q];
            case Q_DRIVER -> queueDriver[q];
            default -> queueDevice[q];
        };
        long next = high
                ? (old & 0xffffffffL) | ((long) v32 << 32)
                : (old & 0xffffffff00000000L) | (v32 & 0xffffffffL);
        return writeQueueAddress(base, next);
    }

    private boolean writeQueueEnable(int v, List<Runnable> lifecycleCalls) {
        if (v != 1 || !queueWritable()) {
            return false; // the driver never writes 0 to queue_enable (§4.1.4.3.2)
        }
        int q = queueSelect;
        queueEnabled[q] = true;
        QueueConfig cfg = queue(q);
        lifecycleCalls.add(() -> device.queueEnabled(cfg));
        return true;
    }

    /**
     * A write of device_status. 0 resets; otherwise the driver may only add bits (§2.1.2).
     * FEATURES_OK and DRIVER_OK need the device: they are left clear here and set by
     * {@link #featuresOk} and {@link #driverOk} once the device's call returned.
     */
    private void writeStatus(int v, List<Runnable> lifecycleCalls) {
        if (v == 0) {
            lifecycleCalls.add(this::reset);
            return;
        }
        if ((status & ~v) != 0) {
            ignoredAccesses++; // the driver must not clear status bits (§2.1.2)
            return;
        }
        int added = v & ~status;
        if ((added & STATUS_FEATURES_OK) != 0 && featuresValid()) {
            long features = driverFeatures;
            lifecycleCalls.add(() -> featuresOk(features));
        } // else FEATURES_OK stays clear: the driver re-reads and sees it refused (§3.1.1)
        status = v & ~(added & (STATUS_FEATURES_OK | STATUS_DRIVER_OK));
        if ((added & STATUS_DRIVER_OK) != 0) {
            lifecycleCalls.add(this::driverOk);
        }
    }

    /** FEATURES_OK with {@code features} the transport found valid: set if the device accepts them too. */
    private void featuresOk(long features) {
        if (device.acceptFeatures(features)) {
            synchronized (this) {
                status |= STATUS_FEATURES_OK;
            }
        }
    }

    /** Before the write: DRIVER set, and the driver's features a subset of the offer with VERSION_1 (§3.1.1). */
    private boolean featuresValid() {
        long f = driverFeatures;
        return (status & STATUS_DRIVER) != 0
                && (f & ~offered) == 0
                && (f & (1L << F_VERSION_1)) != 0;
    }

    /**
     * DRIVER_OK: refused without FEATURES_OK; otherwise the device is activated with the
     * enabled queues, and DRIVER_OK is set once it returned (with DEVICE_NEEDS_RESET and a
     * configuration change notification if it refused the queues: §2.1.2).
     */
    private void driverOk() {
        long features;
        List<QueueConfig> enabled = new ArrayList<>();
        synchronized (this) {
            if ((status & STATUS_FEATURES_OK) == 0) {
                return;
            }
            features = driverFeatures;
            for (int q = 0; q < queues; q++) {
                if (queueEnabled[q]) {
                    enabled.add(queue(q));
                }
            }
        }
        try {
            device.activate(features, List.copyOf(enabled), interrupt);
            synchronized (this) {
                status |= STATUS_DRIVER_OK;
            }
        } catch (GuestFault f) {
            LOG.log(Level.WARNING, "device {0} refused activation: {1}", device.deviceType(), f.getMessage());
            synchronized (this) {
                status |= STATUS_DRIVER_OK | STATUS_NEEDS_RESET;
            }
            interrupt.signalConfig();
        }
    }

    /** Status 0: the device stops first, then the registers return to their reset values (§2.4). */
    private void reset() {
        device.reset();
        synchronized (this) {
            status = 0;
            driverFeatures = 0;
            deviceFeatureSelect = 0;
            driverFeatureSelect = 0;
            queueSelect = 0;
            configVector = MsixTable.NO_VECTOR;
            isr.set(0);
            resetQueues();
        }
    }

    private void resetQueues() {
        for (int q = 0; q < queues; q++) {
            queueSize[q] = device.maxQueueSize(q);
            queueVector.set(q, MsixTable.NO_VECTOR);
            queueEnabled[q] = false;
            queueDesc[q] = 0;
            queueDriver[q] = 0;
            queueDevice[q] = 0;
        }
    }

    // ---- notifications ----

    private final class Interrupt implements VirtioInterrupt {
        @Override
        public void signalQueue(int queue) {
            if (queue < 0 || queue >= queues) {
                return;
            }
            isr.getAndUpdate(v -> v | 1);
            int vector = queueVector.get(queue);
            if (vector != MsixTable.NO_VECTOR) {
                msix.signal(vector);
            }
        }

        @Override
        public void signalConfig() {
            configGeneration.incrementAndGet();
            isr.getAndUpdate(v -> v | 2);
            int vector = configVector;
            if (vector != MsixTable.NO_VECTOR) {
                msix.signal(vector);
            }
        }
    }
}
