package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class MemoryLayoutTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    @Test
    void smallVmIsAllBelowTheHole() {
        MemoryLayout l = MemoryLayout.of(512 * MIB);
        assertEquals(512 * MIB, l.lowRamEnd());
        assertEquals(0, l.highRamSize());
        assertEquals(512 * MIB, l.ramTop());
    }

    @Test
    void largeVmMovesRamAboveTheHoleTo4GiB() {
        MemoryLayout l = MemoryLayout.of(6 * GIB);
        assertEquals(3 * GIB, l.lowRamEnd());
        assertEquals(3 * GIB, l.highRamSize());
        assertEquals(7 * GIB, l.ramTop());
        assertFalse(l.isRam(3 * GIB, 1), "the PCI hole is not RAM");
        assertFalse(l.isRam(3 * GIB - 4096, 8192), "a range straddling the hole is not RAM");
        assertTrue(l.isRam(4 * GIB, 3 * GIB));
        assertEquals(3 * GIB, l.memfdOffset(4 * GIB));
        assertEquals(-1, l.memfdOffset(0xFEE0_0000L));
    }

    @Test
    void sizeMustBeWhole2MiBUnits() {
        assertThrows(IllegalArgumentException.class, () -> MemoryLayout.of(0));
        assertThrows(IllegalArgumentException.class, () -> MemoryLayout.of(3 * MIB));
        assertThrows(IllegalArgumentException.class, () -> MemoryLayout.of(-2 * MIB));
    }

    @Property(tries = 300)
    void memfdOffsetsAreABijectionOntoTheMemfd(@ForAll @LongRange(min = 1, max = 4096) long units,
                                               @ForAll @LongRange(min = 0, max = Long.MAX_VALUE) long probe) {
        MemoryLayout l = MemoryLayout.of(units * MemoryLayout.GRANULE);
        long gpa = probe % (l.ramTop() + GIB);
        long off = l.memfdOffset(gpa);
        if (l.isRam(gpa, 1)) {
            assertTrue(off >= 0 && off < l.memorySize());
            long back = off < l.lowRamEnd() ? off : off - l.lowRamEnd() + MemoryLayout.HIGH_RAM_START;
            assertEquals(gpa, back);
        } else {
            assertEquals(-1, off);
        }
    }
}
