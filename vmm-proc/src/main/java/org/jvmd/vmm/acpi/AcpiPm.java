package org.jvmd.vmm.acpi;

import java.util.function.LongSupplier;
import org.jvmd.vmm.bus.BusDevice;
import org.jvmd.vmm.bus.Interrupts;

/**
 * The ACPI fixed-hardware register block (ACPI 6.5 §4.8) on one I/O window: PM1a event
 * (status + enable), PM1a control and the PM timer, laid out as the FADT announces them.
 *
 * <pre>
 *   base+0  PM1_STS  (16, write 1 to clear)     base+4  PM1_CNT (16)
 *   base+2  PM1_EN   (16)                       base+8  PM_TMR  (32, read-only)
 * </pre>
 *
 * <p>Writing SLP_EN with the \_S5 sleep type asks for power-off ({@link #S5_SLP_TYP} is what
 * the DSDT's \_S5 package says). {@link #pressPowerButton} sets PWRBTN_STS; the SCI
 * (a level, ACPI §4.8.2.1) is high while an enabled status bit is set. SMI_CMD is 0 in the
 * FADT, so the system is always in ACPI mode: SCI_EN reads 1.
 */
public final class AcpiPm implements BusDevice {
    public static final int DEFAULT_BASE = 0x600;
    public static final int WINDOW = 0x10;
    public static final int PM1_EVT = 0x0;
    public static final int PM1_EVT_LEN = 4;
    public static final int PM1_CNT = 0x4;
    public static final int PM1_CNT_LEN = 2;
    public static final int PM_TMR = 0x8;
    public static final int PM_TMR_LEN = 4;
    /** SLP_TYPx value of \_S5 in our DSDT. */
    public static final int S5_SLP_TYP = 5;
    /** The SCI on the PC: ISA IRQ 9, identity-mapped to GSI 9. */
    public static final int SCI_IRQ = 9;
    /** PM timer frequency (ACPI 6.5 §4.8.3.3): 3.579545 MHz. */
    public static final long PM_TIMER_HZ = 3_579_545L;

    // PM1 status/enable bits (§4.8.3.1.1, Table 4.11 / 4.12).
    static final int TMR_STS = 1;
    static final int GBL_STS = 1 << 5;
    static final int PWRBTN_STS = 1 << 8;
    static final int SLPBTN_STS = 1 << 9;
    static final int RTC_STS = 1 << 10;
    static final int WAK_STS = 1 << 15;
    static final int EVENT_BITS = TMR_STS | GBL_STS | PWRBTN_STS | SLPBTN_STS | RTC_STS;
    // PM1 control bits (§4.8.3.2.1, Table 4.13).
    static final int SCI_EN = 1;
    static final int SLP_TYP_SHIFT = 10;
    static final int SLP_TYP_MASK = 7 << SLP_TYP_SHIFT;
    static final int SLP_EN = 1 << 13;

    private final Interrupts interrupts;
    private final int sciGsi;
    private final LongSupplier nanoTime;
    private final Runnable powerOff;
    private final long timerEpoch;

    private int status;
    private int enable;
    private int control = SCI_EN;
    private boolean line;
    private long powerOffs;

    /**
     * @param nanoTime a monotonic clock ({@code System::nanoTime}) for the PM timer
     * @param powerOff called on the vCPU thread when the guest enters S5
     */
    public AcpiPm(Interrupts interrupts, int sciGsi, LongSupplier nanoTime, Runnable powerOff) {
        this.interrupts = interrupts;
        this.sciGsi = sciGsi;
        this.nanoTime = nanoTime;
        this.powerOff = powerOff;
        this.timerEpoch = nanoTime.getAsLong();
    }

    @Override
    public synchronized long read(long offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            v |= (long) readByte(offset + i) << (8 * i);
        }
        return v;
    }

    private int readByte(long at) {
        if (at >= PM1_EVT && at < PM1_EVT + 2) {
            return (status >>> (8 * (int) (at - PM1_EVT))) & 0xff;
        }
        if (at >= PM1_EVT + 2 && at < PM1_EVT + 4) {
            return (enable >>> (8 * (int) (at - PM1_EVT - 2))) & 0xff;
        }
        if (at >= PM1_CNT && at < PM1_CNT + 2) {
            return (control >>> (8 * (int) (at - PM1_CNT))) & 0xff;
        }
        if (at >= PM_TMR && at < PM_TMR + 4) {
            return (int) (timer() >>> (8 * (at - PM_TMR))) & 0xff;
        }
        return 0xff;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int sts = 0;
        int en = enable;
        int cnt = control;
        boolean touchedCnt = false;
        for (int i = 0; i < size; i++) {
            long at = offset + i;
            int b = (int) (value >>> (8 * i)) & 0xff;
            if (at >= PM1_EVT && at < PM1_EVT + 2) {
                sts |= b << (8 * (int) (at - PM1_EVT));
            } else if (at >= PM1_EVT + 2 && at < PM1_EVT + 4) {
                int shift = 8 * (int) (at - PM1_EVT - 2);
                en = (en & ~(0xff << shift)) | (b << shift);
            } else if (at >= PM1_CNT && at < PM1_CNT + 2) {
                int shift = 8 * (int) (at - PM1_CNT);
                cnt = (cnt & ~(0xff << shift)) | (b << shift);
                touchedCnt = true;
            }
            // PM_TMR is read-only.
        }
        status &= ~sts; // write 1 to clear
        enable = en & EVENT_BITS;
        if (touchedCnt) {
            writeControl(cnt);
        }
        updateSci();
    }

    private void writeControl(int v) {
        control = (v & ~SLP_EN) | SCI_EN;
        if ((v & SLP_EN) != 0 && ((v & SLP_TYP_MASK) >>> SLP_TYP_SHIFT) == S5_SLP_TYP) {
            powerOffs++;
            powerOff.run();
        }
    }

    /** The PM timer: 32 bits (the FADT sets TMR_VAL_EXT) at 3.579545 MHz since creation. */
    private long timer() {
        long elapsed = nanoTime.getAsLong() - timerEpoch;
        return ticks(elapsed) & 0xffffffffL;
    }

    static long ticks(long elapsedNanos) {
        // elapsed * 3579545 / 1e9 without overflow for centuries of uptime.
        long seconds = elapsedNanos / 1_000_000_000L;
        long rest = elapsedNanos % 1_000_000_000L;
        return seconds * PM_TIMER_HZ + rest * PM_TIMER_HZ / 1_000_000_000L;
    }

    private void updateSci() {
        boolean level = (status & enable & EVENT_BITS) != 0;
        if (level != line) {
            line = level;
            interrupts.setIrqLine(sciGsi, level);
        }
    }

    /**
     * Presses the fixed power button (§4.8.2.2.1): sets PWRBTN_STS and raises the SCI if
     * the OS enabled the event. Returns whether it did (an OS is listening).
     */
    public synchronized boolean pressPowerButton() {
        status |= PWRBTN_STS;
        updateSci();
        return (enable & PWRBTN_STS) != 0;
    }

    /** How many times the guest entered S5. */
    public synchronized long powerOffs() {
        return powerOffs;
    }

    public synchronized boolean sciLevel() {
        return line;
    }
}
