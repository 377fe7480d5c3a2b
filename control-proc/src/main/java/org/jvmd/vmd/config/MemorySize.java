package org.jvmd.vmd.config;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.OptionalLong;

/**
 * Memory sizes as vm.conf writes them: scan_scaled(3) numbers with an optional scale
 * (B, K, M, G, T, P, E; powers of 1024, either case), checked and rounded as vmd's
 * parse_size does.
 */
public final class MemorySize {
    /** vmd's VM_DEFAULT_MEMORY. */
    public static final long DEFAULT = 512L << 20;
    /** vmd's parse_size minimum. */
    public static final long MIN = 1L << 20;
    /** vmd's VMM_MAX_VM_MEM_SIZE on amd64: 128G. */
    public static final long MAX = 128L << 30;

    private static final String SCALES = "BKMGTPE";

    private MemorySize() {
    }

    /**
     * Parses a scaled number as scan_scaled(3): digits, an optional fraction, an optional
     * scale letter. Empty if the text is not such a number or overflows.
     */
    public static OptionalLong scan(String text) {
        int i = 0;
        int n = text.length();
        boolean negative = false;
        if (i < n && (text.charAt(i) == '-' || text.charAt(i) == '+')) {
            negative = text.charAt(i) == '-';
            i++;
        }
        int start = i;
        while (i < n && Lexer.isDigit(text.charAt(i))) {
            i++;
        }
        int wholeEnd = i;
        int fracStart = i;
        if (i < n && text.charAt(i) == '.') {
            fracStart = ++i;
            while (i < n && Lexer.isDigit(text.charAt(i))) {
                i++;
            }
        }
        if (wholeEnd == start && i == fracStart) {
            return OptionalLong.empty();
        }
        int shift = 0;
        if (i < n) {
            int scale = SCALES.indexOf(Character.toUpperCase(text.charAt(i)));
            if (scale < 0 || i + 1 != n) {
                return OptionalLong.empty();
            }
            shift = 10 * scale;
        }
        String number = text.substring(start, wholeEnd) + (fracStart < i ? "." + text.substring(fracStart, i) : "");
        if (number.startsWith(".")) {
            number = "0" + number;
        }
        BigInteger value = new BigDecimal(number).multiply(new BigDecimal(BigInteger.ONE.shiftLeft(shift)))
                .toBigInteger();
        if (negative) {
            value = value.negate();
        }
        if (value.bitLength() > 63) {
            return OptionalLong.empty();
        }
        return OptionalLong.of(value.longValue());
    }

    /**
     * Checks a VM memory size in bytes and rounds it down to a megabyte, or returns why it is
     * refused (vmd's messages).
     */
    public static Checked check(long bytes) {
        if (bytes < MIN) {
            return new Checked(0, "memory size must be at least 1MB");
        }
        if (bytes > MAX) {
            return new Checked(0, "memory size too large (limit is 128G)");
        }
        return new Checked(bytes & -MIN, null);
    }

    /**
     * A checked size.
     *
     * @param bytes the size rounded down to a megabyte, if accepted
     * @param error why it was refused, or null
     */
    public record Checked(long bytes, String error) {
    }
}
