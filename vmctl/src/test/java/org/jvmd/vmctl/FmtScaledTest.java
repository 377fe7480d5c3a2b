package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** fmt_scaled(3) as vmctl's MAXMEM/CURMEM columns show sizes. */
class FmtScaledTest {
    @Test
    void wholeUnitsBelowTenKeepOneDecimal() {
        assertEquals("1.0G", FmtScaled.format(1L << 30));
        assertEquals("1.0K", FmtScaled.format(1024));
        assertEquals("2.0M", FmtScaled.format(2L << 20));
    }

    @Test
    void hundredsDropTheDecimal() {
        assertEquals("512M", FmtScaled.format(512L << 20));
        assertEquals("100K", FmtScaled.format(100L << 10));
    }

    @Test
    void fractionsRoundToOneDigit() {
        assertEquals("1.5G", FmtScaled.format(3L << 29));
        assertEquals("64.0M", FmtScaled.format(64L << 20));
        assertEquals("10.0G", FmtScaled.format(10L << 30));
    }

    @Test
    void bytesAndZero() {
        assertEquals("0B", FmtScaled.format(0));
        assertEquals("1B", FmtScaled.format(1));
        assertEquals("1023B", FmtScaled.format(1023));
    }
}
