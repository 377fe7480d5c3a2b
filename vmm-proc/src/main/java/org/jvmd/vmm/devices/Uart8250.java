package org.jvmd.vmm.devices;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jvmd.vmm.bus.BusDevice;
import org.jvmd.vmm.bus.Interrupts;

/**
 * A 16550A UART (ns8250 family) on an 8-port I/O window, e.g. COM1 at 0x3f8, IRQ 4.
 *
 * <p>Transmission is instantaneous: a byte written to THR goes straight to the {@link Output}
 * (or, in loopback mode, into the receive FIFO), so THR and the shift register are always
 * empty (LSR THRE and TEMT set). Received bytes come from the host side through
 * {@link #receive}, bounded by the receive buffer; a pty reader waits with
 * {@link #awaitRxSpace}.
 *
 * <p>Behaviour the Linux 8250 driver checks during autoconfig is modelled: IER keeps only its
 * four defined bits, loopback mode wires MCR outputs to MSR inputs, FCR bit 0 shows as
 * IIR bits 7:6 = 11 (16550A), the loopback receive FIFO holds 16 bytes and overruns beyond
 * that, and enabling ETBEI while THR is empty raises a THRE interrupt at once.
 *
 * <p>The interrupt output is a level: it is high while any enabled source is pending
 * (IIR bit 0 clear). Each change is driven through {@link Interrupts#setIrqLine}; an ISA
 * edge-triggered IOAPIC pin sees a fresh rising edge for every new interrupt because the
 * line drops as soon as the driver has serviced the last source.
 *
 * <p>Register map: PC16550D data sheet, "Table II. Register Summary".
 */
public final class Uart8250 implements BusDevice {
    /** Where transmitted bytes go (the core wires a pty and a console log behind it). */
    public interface Output {
        void write(int b);

        /** A hint that the guest paused output (it rewrote IER); buffered output may be flushed. */
        default void flush() {}
    }

    public static final int COM1_BASE = 0x3f8;
    public static final int COM1_IRQ = 4;
    public static final int WINDOW = 8;

    // Register offsets (PC16550D Table II).
    static final int RBR_THR = 0; // DLL when LCR.DLAB
    static final int IER = 1; // DLM when LCR.DLAB
    static final int IIR_FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;

    static final int IER_ERBFI = 0x01; // received data available
    static final int IER_ETBEI = 0x02; // THR empty
    static final int IER_ELSI = 0x04; // receiver line status
    static final int IER_EDSSI = 0x08; // modem status
    static final int IER_MASK = 0x0f; // bits 7:4 always read 0 on a 16550A

    static final int IIR_NO_INT = 0x01;
    static final int IIR_MSI = 0x00;
    static final int IIR_THRI = 0x02;
    static final int IIR_RDI = 0x04;
    static final int IIR_RLSI = 0x06;
    static final int IIR_FIFO_ENABLED = 0xc0;

    static final int FCR_ENABLE = 0x01;
    static final int FCR_CLEAR_RX = 0x02;
    static final int FCR_CLEAR_TX = 0x04;

    static final int LCR_DLAB = 0x80;

    static final int MCR_DTR = 0x01;
    static final int MCR_RTS = 0x02;
    static final int MCR_OUT1 = 0x04;
    static final int MCR_OUT2 = 0x08;
    static final int MCR_LOOP = 0x10;
    static final int MCR_MASK = 0x1f;

    static final int LSR_DR = 0x01;
    static final int LSR_OE = 0x02;
    static final int LSR_THRE = 0x20;
    static final int LSR_TEMT = 0x40;
    static final int LSR_ERRORS = 0x1e; // OE, PE, FE, BI

    static final int MSR_DCTS = 0x01;
    static final int MSR_DDSR = 0x02;
    static final int MSR_TERI = 0x04;
    static final int MSR_DDCD = 0x08;
    static final int MSR_CTS = 0x10;
    static final int MSR_DSR = 0x20;
    static final int MSR_RI = 0x40;
    static final int MSR_DCD = 0x80;
    static final int MSR_DELTAS = 0x0f;

    /** Depth of the 16550A receive FIFO (data sheet: "16 bytes"), what loopback can fill. */
    static final int FIFO_DEPTH = 16;
    /** Default receive buffer: host input queued ahead of the guest. */
    public static final int DEFAULT_RX_CAPACITY = 4096;

    private final Interrupts interrupts;
    private final int gsi;
    private final Output output;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition rxSpace = lock.newCondition();

    private final byte[] rx;
    private int rxHead;
    private int rxCount;

    private int ier;
    private int lcr;
    private int mcr;
    private int lsrErrors;
    private int msrDeltas;
    private int scr;
    private int dll = 0x0c; // 9600 baud at 1.8432 MHz, the usual firmware default
    private int dlm;
    private boolean fifoEnabled;
    private boolean threPending;
    private boolean line;
    private long txBytes;

    public Uart8250(Interrupts interrupts, int gsi, Output output) {
        this(interrupts, gsi, output, DEFAULT_RX_CAPACITY);
    }

    public Uart8250(Interrupts interrupts, int gsi, Output output, int rxCapacity) {
        if (rxCapacity < FIFO_DEPTH) {
            throw new IllegalArgumentException("rx capacity " + rxCapacity + " < " + FIFO_DEPTH);
        }
        this.interrupts = interrupts;
        this.gsi = gsi;
        this.output = output;
        this.rx = new byte[rxCapacity];
    }

    /**
     * The 8250 has byte registers only; a wider access is split into byte cycles on
     * consecutive registers, as the ISA bus does.
     */
    @Override
    public long read(long offset, int size) {
        lock.lock();
        try {
            long v = 0;
            for (int i = 0; i < size; i++) {
                v |= (long) readRegister((int) ((offset + i) & 7)) << (8 * i);
            }
            updateLine();
            return v;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void write(long offset, int size, long value) {
        lock.lock();
        try {
            for (int i = 0; i < size; i++) {
                writeRegister((int) ((offset + i) & 7), (int) (value >>> (8 * i)) & 0xff);
            }
            updateLine();
        } finally {
            lock.unlock();
        }
    }

    private int readRegister(int reg) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        return switch (reg) {
            case RBR_THR -> dlab ? dll : readRbr();
            case IER -> dlab ? dlm : ier;
            case IIR_FCR -> readIir();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> readLsr();
            case MSR -> readMsr();
            case SCR -> scr;
            default -> throw new IllegalStateException("register " + reg);
        };
    }

    private void writeRegister(int reg, int v) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch (reg) {
            case RBR_THR -> {
                if (dlab) {
                    dll = v;
                } else {
                    writeThr(v);
                }
            }
            case IER -> {
                if (dlab) {
                    dlm = v;
                } else {
                    writeIer(v);
                }
            }
            case IIR_FCR -> writeFcr(v);
            case LCR -> lcr = v;
            case MCR -> writeMcr(v);
            case LSR, MSR -> {
                // Read-only on a 16550A (factory test registers); writes are ignored.
            }
            case SCR -> scr = v;
            default -> throw new IllegalStateException("register " + reg);
        }
    }

    private int readRbr() {
        if (rxCount == 0) {
            return 0;
        }
        int b = rx[rxHead] & 0xff;
        rxHead = (rxHead + 1) % rx.length;
        rxCount--;
        rxSpace.signalAll();
        return b;
    }

    private int readIir() {
        int id = pendingInterrupt();
        if (id == IIR_THRI) {
            // PC16550D Table IV: reading IIR, if THRE is the source, resets the THRE interrupt.
            threPending = false;
        }
        return id | (fifoEnabled ? IIR_FIFO_ENABLED : 0);
    }

    private int readLsr() {
        int v = LSR_THRE | LSR_TEMT | lsrErrors | (rxCount > 0 ? LSR_DR : 0);
        lsrErrors = 0; // error bits clear when LSR is read
        return v;
    }

    private int readMsr() {
        int v = modemInputs() | msrDeltas;
        msrDeltas = 0;
        return v;
    }

    /** MSR bits 7:4: in loopback they mirror OUT2/OUT1/DTR/RTS, otherwise a connected line. */
    private int modemInputs() {
        if ((mcr & MCR_LOOP) != 0) {
            int v = 0;
            if ((mcr & MCR_RTS) != 0) {
                v |= MSR_CTS;
            }
            if ((mcr & MCR_DTR) != 0) {
                v |= MSR_DSR;
            }
            if ((mcr & MCR_OUT1) != 0) {
                v |= MSR_RI;
            }
            if ((mcr & MCR_OUT2) != 0) {
                v |= MSR_DCD;
            }
            return v;
        }
        return MSR_DCD | MSR_DSR | MSR_CTS;
    }

    private void writeThr(int v) {
        if ((mcr & MCR_LOOP) != 0) {
            int depth = fifoEnabled ? FIFO_DEPTH : 1;
            if (rxCount >= depth) {
                lsrErrors |= LSR_OE;
            } else {
                pushRx((byte) v);
            }
        } else {
            txBytes++;
            output.write(v);
        }
        // The byte left THR at once; THR is empty again, which interrupts if enabled.
        threPending = (ier & IER_ETBEI) != 0;
    }

    private void writeIer(int v) {
        int old = ier;
        ier = v & IER_MASK;
        if (((old ^ ier) & IER_ETBEI) != 0) {
            // Enabling ETBEI with THR empty raises THRE at once; disabling it drops it.
            threPending = (ier & IER_ETBEI) != 0;
        }
        output.flush();
    }

    private void writeFcr(int v) {
        boolean enable = (v & FCR_ENABLE) != 0;
        if (enable != fifoEnabled) {
            // Changing FIFO mode resets both FIFOs (PC16550D, FCR bit 0).
            clearRx();
        }
        fifoEnabled = enable;
        if ((v & FCR_CLEAR_RX) != 0) {
            clearRx();
        }
        // FCR_CLEAR_TX: the transmit FIFO is always empty here.
    }

    private void writeMcr(int v) {
        int oldInputs = modemInputs();
        mcr = v & MCR_MASK;
        int changed = oldInputs ^ modemInputs();
        if ((changed & MSR_CTS) != 0) {
            msrDeltas |= MSR_DCTS;
        }
        if ((changed & MSR_DSR) != 0) {
            msrDeltas |= MSR_DDSR;
        }
        if ((changed & MSR_DCD) != 0) {
            msrDeltas |= MSR_DDCD;
        }
        if ((changed & MSR_RI) != 0 && (modemInputs() & MSR_RI) == 0) {
            msrDeltas |= MSR_TERI; // trailing edge only
        }
    }

    /** The highest-priority enabled interrupt (PC16550D Table IV), or IIR_NO_INT. */
    private int pendingInterrupt() {
        if ((ier & IER_ELSI) != 0 && lsrErrors != 0) {
            return IIR_RLSI;
        }
        if ((ier & IER_ERBFI) != 0 && rxCount > 0) {
            return IIR_RDI;
        }
        if ((ier & IER_ETBEI) != 0 && threPending) {
            return IIR_THRI;
        }
        if ((ier & IER_EDSSI) != 0 && msrDeltas != 0) {
            return IIR_MSI;
        }
        return IIR_NO_INT;
    }

    private void updateLine() {
        boolean level = pendingInterrupt() != IIR_NO_INT;
        if (level != line) {
            line = level;
            interrupts.setIrqLine(gsi, level);
        }
    }

    private void pushRx(byte b) {
        rx[(rxHead + rxCount) % rx.length] = b;
        rxCount++;
    }

    private void clearRx() {
        rxHead = 0;
        rxCount = 0;
        rxSpace.signalAll();
    }

    /**
     * Queues host input for the guest; returns how many bytes fitted (the rest stays with the
     * caller, who may {@link #awaitRxSpace wait}). Raises the receive interrupt if enabled.
     */
    public int receive(byte[] src, int off, int len) {
        lock.lock();
        try {
            int n = Math.min(len, rx.length - rxCount);
            for (int i = 0; i < n; i++) {
                pushRx(src[off + i]);
            }
            updateLine();
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until the receive buffer has room, up to {@code timeout}; returns the free space. */
    public int awaitRxSpace(long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = unit.toNanos(timeout);
        lock.lock();
        try {
            while (rxCount == rx.length && nanos > 0) {
                nanos = rxSpace.awaitNanos(nanos);
            }
            return rx.length - rxCount;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes the guest has transmitted to the output (loopback excluded). */
    public long transmitted() {
        lock.lock();
        try {
            return txBytes;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes queued for the guest and not yet read by it. */
    public int pendingInput() {
        lock.lock();
        try {
            return rxCount;
        } finally {
            lock.unlock();
        }
    }

    /** The current level of the interrupt output. */
    public boolean interruptLine() {
        lock.lock();
        try {
            return line;
        } finally {
            lock.unlock();
        }
    }
}
