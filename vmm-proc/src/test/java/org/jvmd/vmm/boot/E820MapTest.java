package org.jvmd.vmm.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.jvmd.vmm.MemoryLayout;
import org.junit.jupiter.api.Test;

class E820MapTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    @Test
    void smallVmHasConventionalRamReservedBiosAreaAndExtendedRam() {
        List<E820Entry> e = E820Map.standard(MemoryLayout.of(512 * MIB)).entries();
        assertEquals(List.of(
                new E820Entry(0, 0x9_FC00L, E820Entry.RAM),
                new E820Entry(0x9_FC00L, 0x400, E820Entry.RESERVED),
                new E820Entry(0xE_0000L, 0x2_0000L, E820Entry.RESERVED),
                new E820Entry(0x10_0000L, 511 * MIB, E820Entry.RAM)), e);
    }

    @Test
    void largeVmLeavesThePciHoleOutAndAddsRamAbove4GiB() {
        E820Map m = E820Map.standard(MemoryLayout.of(5 * GIB));
        List<E820Entry> e = m.entries();
        assertEquals(5, e.size());
        assertEquals(new E820Entry(0x10_0000L, 3 * GIB - MIB, E820Entry.RAM), e.get(3));
        assertEquals(new E820Entry(4 * GIB, 2 * GIB, E820Entry.RAM), e.get(4));
        assertFalse(m.isRam(0xC000_0000L, 1));
        assertFalse(m.isRam(0xFEC0_0000L, 4096), "the IOAPIC page is not RAM");
    }

    @Test
    void devicesMayAddReservedRangesOutsideRamOnly() {
        E820Map m = E820Map.standard(MemoryLayout.of(5 * GIB));
        E820Map withEcam = m.with(new E820Entry(0xE000_0000L, 256 * MIB, E820Entry.RESERVED));
        assertEquals(6, withEcam.entries().size());
        assertEquals(0xE000_0000L, withEcam.entries().get(4).addr(), "entries stay in address order");
        assertThrows(IllegalArgumentException.class,
                () -> m.with(new E820Entry(2 * GIB, MIB, E820Entry.RESERVED)));
        assertThrows(IllegalArgumentException.class,
                () -> m.with(new E820Entry(0xC000_0000L, MIB, E820Entry.RAM)));
    }

    @Test
    void aVmMustHaveRamBeyondOneMiB() {
        assertThrows(IllegalArgumentException.class, () -> E820Map.standard(new MemoryLayout(MIB, MIB, 0)));
    }

    @Property(tries = 200)
    void ramEntriesAddUpToTheVmsMemoryLessTheLegacyHoles(@ForAll @LongRange(min = 1, max = 8192) long units) {
        MemoryLayout l = MemoryLayout.of(units * MemoryLayout.GRANULE);
        E820Map m = E820Map.standard(l);
        long ram = m.entries().stream().filter(e -> e.type() == E820Entry.RAM).mapToLong(E820Entry::size).sum();
        assertEquals(l.memorySize() - (0x10_0000L - 0x9_FC00L), ram);
        List<E820Entry> e = m.entries();
        for (int i = 1; i < e.size(); i++) {
            assertTrue(e.get(i - 1).end() <= e.get(i).addr(), "entries are sorted and disjoint");
        }
    }
}
