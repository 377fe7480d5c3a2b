package org.jvmd.vmm.devices;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.InstantSource;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import org.jvmd.vmm.bus.BusDevice;
import org.jvmd.vmm.bus.Interrupts;

/**
 * The PC's CMOS RTC and NVRAM (a Motorola MC146818A) at ports 0x70 (index) and 0x71
 * (data), IRQ 8.
 *
 * <p>Time is the host {@link InstantSource} plus an offset the guest may change by writing
 * the time registers; the RTC runs in UTC (Linux's default). Reads honour register B's
 * data mode (BCD or binary) and 12/24-hour mode. While register B's SET bit is on, the
 * clock is frozen and writes build the new time, which takes effect when SET is cleared.
 * Register A's UIP bit is on during the last 244 µs of each second (MC146818A data sheet,
 * "Update cycle": UIP rises 244 µs before the update), when reading the time could tear.
 *
 * <p>The interrupt flags of register C (UF, AF, PF) are evaluated lazily from elapsed time,
 * so polling drivers see them without any timer. For interrupt delivery the core calls
 * {@link #poll()} at (or after) {@link #nanosUntilNextEvent()}; no thread lives in here.
 * Bit 7 of the index port (NMI disable) is ignored.
 */
public final class CmosRtc implements BusDevice {
    public static final int BASE = 0x70;
    public static final int WINDOW = 2;
    public static final int IRQ = 8;
    /** CMOS byte holding the BCD century; the FADT CENTURY field names it. */
    public static final int CENTURY = 0x32;

    static final int SECONDS = 0x00;
    static final int SECONDS_ALARM = 0x01;
    static final int MINUTES = 0x02;
    static final int MINUTES_ALARM = 0x03;
    static final int HOURS = 0x04;
    static final int HOURS_ALARM = 0x05;
    static final int DAY_OF_WEEK = 0x06;
    static final int DAY_OF_MONTH = 0x07;
    static final int MONTH = 0x08;
    static final int YEAR = 0x09;
    static final int REG_A = 0x0a;
    static final int REG_B = 0x0b;
    static final int REG_C = 0x0c;
    static final int REG_D = 0x0d;

    static final int A_UIP = 0x80;
    static final int A_DV_MASK = 0x70;
    static final int A_DV_NORMAL = 0x20; // 32.768 kHz time base, running
    static final int A_RS_MASK = 0x0f;
    static final int B_SET = 0x80;
    static final int B_PIE = 0x40;
    static final int B_AIE = 0x20;
    static final int B_UIE = 0x10;
    static final int B_DM_BINARY = 0x04;
    static final int B_24H = 0x02;
    static final int C_IRQF = 0x80;
    static final int C_PF = 0x40;
    static final int C_AF = 0x20;
    static final int C_UF = 0x10;
    static final int D_VRT = 0x80;

    static final long SECOND = 1_000_000_000L;
    static final long UIP_WINDOW = 244_000L;
    private static final int ALARM_DONT_CARE = 0xc0;

    private final InstantSource clock;
    private final Interrupts interrupts;
    private final byte[] nvram = new byte[128];

    private int index;
    private int regA = A_DV_NORMAL | 0x06; // 1.024 kHz periodic rate, the PC default
    private int regB = B_24H;
    private int regC;
    private long offsetNanos; // guest time = host time + offset
    /** While SET is on: the fields being written, in binary (sec, min, hour, day, month, year, century). */
    private int[] frozen;
    private long lastEvaluated; // guest nanos up to which flags are evaluated
    private boolean line;

    public CmosRtc(InstantSource clock, Interrupts interrupts) {
        this.clock = clock;
        this.interrupts = interrupts;
        this.lastEvaluated = guestNanos();
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset == 0) {
            return 0xff; // the index port is write-only
        }
        if (offset != 1) {
            return 0xff;
        }
        int v = readRegister(index);
        updateLine();
        return v;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        if (offset == 0) {
            index = v & 0x7f; // bit 7 gates NMI on a PC: ignored
        } else if (offset == 1) {
            writeRegister(index, v);
            updateLine();
        }
    }

    // ---- time ----

    private long hostNanos() {
        Instant now = clock.instant();
        return now.getEpochSecond() * SECOND + now.getNano();
    }

    private long guestNanos() {
        return hostNanos() + offsetNanos;
    }

    private LocalDateTime now() {
        long n = guestNanos();
        return LocalDateTime.ofEpochSecond(Math.floorDiv(n, SECOND), 0, ZoneOffset.UTC);
    }

    private static final int F_SEC = 0;
    private static final int F_MIN = 1;
    private static final int F_HOUR = 2;
    private static final int F_DAY = 3;
    private static final int F_MONTH = 4;
    private static final int F_YEAR = 5;
    private static final int F_CENTURY = 6;

    private static int[] fields(LocalDateTime t) {
        return new int[] {
            t.getSecond(), t.getMinute(), t.getHour(), t.getDayOfMonth(), t.getMonthValue(),
            t.getYear() % 100, t.getYear() / 100 % 100
        };
    }

    /** The calendar fields as the guest reads them now: frozen under SET, else running. */
    private int[] current() {
        return frozen != null ? frozen : fields(now());
    }

    private static int fieldOf(int reg) {
        return switch (reg) {
            case SECONDS -> F_SEC;
            case MINUTES -> F_MIN;
            case HOURS -> F_HOUR;
            case DAY_OF_MONTH -> F_DAY;
            case MONTH -> F_MONTH;
            case YEAR -> F_YEAR;
            case CENTURY -> F_CENTURY;
            default -> throw new IllegalStateException("register " + reg);
        };
    }

    /** The time the fields name, or null if the calendar has no such time. */
    private static LocalDateTime toTime(int[] f) {
        try {
            return LocalDateTime.of(f[F_CENTURY] * 100 + f[F_YEAR], f[F_MONTH], f[F_DAY], f[F_HOUR], f[F_MIN], f[F_SEC]);
        } catch (DateTimeException e) {
            return null;
        }
    }

    private boolean running() {
        return frozen == null && (regA & A_DV_MASK) == A_DV_NORMAL;
    }

    private void setTime(LocalDateTime t) {
        offsetNanos = t.toEpochSecond(ZoneOffset.UTC) * SECOND - hostNanos();
        lastEvaluated = guestNanos();
    }

    // ---- registers ----

    private int readRegister(int reg) {
        return switch (reg) {
            case SECONDS, MINUTES, DAY_OF_MONTH, MONTH, YEAR, CENTURY -> encode(current()[fieldOf(reg)]);
            case HOURS -> encodeHour(current()[F_HOUR]);
            case DAY_OF_WEEK -> encode(dayOfWeek());
            case REG_A -> regA | (uip() ? A_UIP : 0);
            case REG_B -> regB;
            case REG_C -> readC();
            case REG_D -> D_VRT;
            default -> nvram[reg] & 0xff; // alarms and NVRAM
        };
    }

    private void writeRegister(int reg, int v) {
        switch (reg) {
            case SECONDS, MINUTES, HOURS, DAY_OF_MONTH, MONTH, YEAR, CENTURY -> writeTime(reg, v);
            case DAY_OF_WEEK -> {
                // Derived from the date here; a written weekday is not kept.
            }
            case REG_A -> {
                evaluateFlags();
                regA = v & ~A_UIP;
            }
            case REG_B -> writeB(v);
            case REG_C, REG_D -> {
                // read-only
            }
            default -> nvram[reg] = (byte) v;
        }
    }

    /** Day of week, Sunday = 1 (MC146818A register 6); derived from the date, 1 if none. */
    private int dayOfWeek() {
        LocalDateTime t = toTime(current());
        return t == null ? 1 : t.getDayOfWeek().getValue() % 7 + 1;
    }

    private void writeB(int v) {
        evaluateFlags();
        boolean wasSet = (regB & B_SET) != 0;
        boolean set = (v & B_SET) != 0;
        if (set && !wasSet) {
            frozen = fields(now());
        } else if (!set && wasSet) {
            LocalDateTime t = toTime(frozen);
            frozen = null;
            if (t != null) {
                setTime(t); // fields that name no real time leave the clock as it was
            }
        }
        regB = v;
    }

    private void writeTime(int reg, int v) {
        int value = reg == HOURS ? decodeHour(v) : decode(v);
        if (frozen != null) {
            frozen[fieldOf(reg)] = value; // validated as a whole when SET is cleared
            return;
        }
        int[] f = fields(now());
        f[fieldOf(reg)] = value;
        LocalDateTime t = toTime(f);
        if (t != null) {
            setTime(t); // a field the calendar rejects (minute 75, 31 April) is dropped
        }
    }

    private boolean uip() {
        if (!running()) {
            return false;
        }
        return Math.floorMod(guestNanos(), SECOND) >= SECOND - UIP_WINDOW;
    }

    private int readC() {
        evaluateFlags();
        int v = regC;
        regC = 0; // reading C clears every flag and releases IRQ 8
        return v;
    }

    // ---- encodings ----

    private boolean binary() {
        return (regB & B_DM_BINARY) != 0;
    }

    /** A field as its register byte; a frozen field the guest set past 99 (or 255) keeps only a byte. */
    private int encode(int v) {
        return (binary() ? v : ((v / 10) << 4) | (v % 10)) & 0xff;
    }

    private int decode(int v) {
        return binary() ? v : ((v >> 4) & 0x0f) * 10 + (v & 0x0f);
    }

    private int encodeHour(int h) {
        if ((regB & B_24H) != 0) {
            return encode(h);
        }
        int h12 = h % 12 == 0 ? 12 : h % 12;
        return encode(h12) | (h >= 12 ? 0x80 : 0);
    }

    private int decodeHour(int v) {
        if ((regB & B_24H) != 0) {
            return decode(v);
        }
        boolean pm = (v & 0x80) != 0;
        int h12 = decode(v & 0x7f);
        return h12 % 12 + (pm ? 12 : 0);
    }

    // ---- interrupt flags ----

    /** Periodic interrupt period in ns for register A's rate select, or 0 if off. */
    static long periodNanos(int rs) {
        if (rs == 0) {
            return 0;
        }
        int n = rs <= 2 ? rs + 7 : rs; // rates 1 and 2 repeat 8 and 9 (data sheet table 5)
        return (1L << (n - 1)) * SECOND / 32768;
    }

    /** Sets UF/AF/PF for every event between the last evaluation and now. */
    private void evaluateFlags() {
        long now = guestNanos();
        long last = lastEvaluated;
        lastEvaluated = now;
        if (!running() || now <= last) {
            return;
        }
        long period = periodNanos(regA & A_RS_MASK);
        if (period > 0 && Math.floorDiv(now, period) > Math.floorDiv(last, period)) {
            regC |= C_PF;
        }
        long fromSecond = Math.floorDiv(last, SECOND);
        long toSecond = Math.floorDiv(now, SECOND);
        if (toSecond > fromSecond) {
            regC |= C_UF;
            if (alarmFiresBetween(fromSecond + 1, toSecond)) {
                regC |= C_AF;
            }
        }
        if ((regC & regB & (C_PF | C_AF | C_UF)) != 0) {
            regC |= C_IRQF;
        }
    }

    private boolean alarmFiresBetween(long firstSecond, long lastSecond) {
        long span = lastSecond - firstSecond + 1;
        if (span > 86_400) {
            span = 86_400; // a whole day covers every alarm that can match at all
            firstSecond = lastSecond - span + 1;
        }
        int sa = nvram[SECONDS_ALARM] & 0xff;
        int ma = nvram[MINUTES_ALARM] & 0xff;
        int ha = nvram[HOURS_ALARM] & 0xff;
        for (long s = firstSecond; s <= lastSecond; s++) {
            int sec = (int) Math.floorMod(s, 60L);
            if (sa < ALARM_DONT_CARE && encode(sec) != sa) {
                continue; // cheap test first: only one second in 60 needs a calendar
            }
            LocalDateTime t = LocalDateTime.ofEpochSecond(s, 0, ZoneOffset.UTC);
            if ((ma >= ALARM_DONT_CARE || encode(t.getMinute()) == ma)
                    && (ha >= ALARM_DONT_CARE || encodeHour(t.getHour()) == ha)) {
                return true;
            }
        }
        return false;
    }

    private void updateLine() {
        boolean level = (regC & C_IRQF) != 0;
        if (level != line) {
            line = level;
            interrupts.setIrqLine(IRQ, level);
        }
    }

    /** Evaluates the interrupt flags now and drives IRQ 8; the core calls it from a timer. */
    public synchronized void poll() {
        evaluateFlags();
        updateLine();
    }

    /**
     * How long until the next enabled interrupt event (periodic, update or alarm check), or
     * -1 if none is enabled; the core sleeps that long and calls {@link #poll()}.
     */
    public synchronized long nanosUntilNextEvent() {
        if (!running() || (regB & (B_PIE | B_AIE | B_UIE)) == 0) {
            return -1;
        }
        long now = guestNanos();
        long next = SECOND - Math.floorMod(now, SECOND);
        long period = periodNanos(regA & A_RS_MASK);
        if ((regB & B_PIE) != 0 && period > 0) {
            next = Math.min(next, period - Math.floorMod(now, period));
        }
        return next;
    }

    /**
     * Fills the NVRAM bytes PC firmware keeps for memory sizes (base, extended, above 16 MiB
     * in 64 KiB units, above 4 GiB in 64 KiB units), for guests that read them.
     */
    public synchronized void setMemorySize(long belowFourGiB, long aboveFourGiB) {
        int baseKiB = 640;
        put16(0x15, baseKiB);
        long extKiB = Math.min(Math.max(belowFourGiB - (1 << 20), 0) >> 10, 0xffff);
        put16(0x17, (int) extKiB);
        put16(0x30, (int) extKiB);
        long above16M = Math.min(Math.max(belowFourGiB - (16 << 20), 0) >> 16, 0xffff);
        put16(0x34, (int) above16M);
        long above4G = aboveFourGiB >> 16;
        nvram[0x5b] = (byte) above4G;
        nvram[0x5c] = (byte) (above4G >> 8);
        nvram[0x5d] = (byte) (above4G >> 16);
    }

    private void put16(int reg, int v) {
        nvram[reg] = (byte) v;
        nvram[reg + 1] = (byte) (v >> 8);
    }
}
