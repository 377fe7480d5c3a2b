package org.jvmd.vmctl;

/** OpenBSD's fmt_scaled(3): a byte count in at most 4 characters and a unit (B K M G T P E). */
public final class FmtScaled {
    private static final char[] UNITS = {'B', 'K', 'M', 'G', 'T', 'P', 'E'};
    private static final long[] FACTORS = new long[7];

    static {
        FACTORS[0] = 1;
        for (int i = 1; i < FACTORS.length; i++) {
            FACTORS[i] = FACTORS[i - 1] * 1024;
        }
    }

    private FmtScaled() {
    }

    public static String format(long number) {
        long abval = Math.abs(number);
        if (abval < 0 || abval / 1024 >= FACTORS[FACTORS.length - 1]) {
            return "-";
        }
        int unit = 0;
        long fract = 0;
        for (int i = 0; i < FACTORS.length; i++) {
            if (abval / 1024 < FACTORS[i]) {
                unit = i;
                fract = i == 0 ? 0 : abval % FACTORS[i];
                number /= FACTORS[i];
                break;
            }
        }
        for (int i = FACTORS.length - 1; i > 0; i--) {
            if (fract > FACTORS[i]) {
                fract /= FACTORS[i];
                break;
            }
        }
        fract = (10 * fract + 512) / 1024;
        if (fract == 10) {
            number += number >= 0 ? 1 : -1;
            fract = 0;
        }
        if (number == 0) {
            return "0B";
        }
        if (unit == 0 || number >= 100 || number <= -100) {
            return number + "" + UNITS[unit];
        }
        return number + "." + fract + UNITS[unit];
    }
}
