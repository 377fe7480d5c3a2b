package org.jvmd.it.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.jvmd.virtio.blk.VirtioBlk;
import org.junit.jupiter.api.Test;

/** The benchmark patterns and bench rows, without a device. */
class PatternTest {
    static BlkRequest slot() {
        return new BlkRequest(0, 4096, 4096 + 32, 8192, 1 << 20);
    }

    @Property
    void randomRequestsStayInsideTheSpanAlignedToTheBlock(@ForAll @IntRange(min = 1, max = 256) int sectorsPerBlock,
                                                         @ForAll @LongRange(min = 1, max = 1 << 20) long blocks,
                                                         @ForAll long seed) {
        int block = sectorsPerBlock * VirtioBlk.SECTOR_SIZE;
        long span = blocks * block + seed % block * (seed < 0 ? -1 : 1) % block;
        Pattern p = new Pattern(Pattern.Kind.RANDWRITE, block, span, seed);
        BlkRequest r = slot();
        for (int i = 0; i < 200; i++) {
            assertTrue(p.next(r));
            assertEquals(VirtioBlk.T_OUT, r.type());
            assertEquals(block, r.len());
            assertEquals(0, r.sector() % sectorsPerBlock, "aligned to the block");
            assertTrue(r.sector() * VirtioBlk.SECTOR_SIZE + block <= span, r + " inside " + span);
        }
    }

    @Test
    void sequentialReadsWalkTheSpanAndWrapAround() {
        Pattern p = new Pattern(Pattern.Kind.READ, 1 << 20, (3L << 20) + 4096, 0);
        BlkRequest r = slot();
        long[] sectors = new long[5];
        for (int i = 0; i < sectors.length; i++) {
            p.next(r);
            assertEquals(VirtioBlk.T_IN, r.type());
            sectors[i] = r.sector();
        }
        assertEquals(List.of(0L, 2048L, 4096L, 0L, 2048L), java.util.Arrays.stream(sectors).boxed().toList());
    }

    @Test
    void aWrongUsedLengthIsCountedAndABadStatusStopsTheRun() throws Exception {
        Pattern p = new Pattern(Pattern.Kind.RANDREAD, 4096, 1 << 20, 1);
        BlkRequest r = slot();
        p.next(r);
        p.done(r, VirtioBlk.S_OK, 4097, 1000);
        assertEquals(0, p.wrongUsedLength());
        p.done(r, VirtioBlk.S_OK, 1, 1000);
        assertEquals(1, p.wrongUsedLength());
        assertThrows(IllegalStateException.class, () -> p.done(r, VirtioBlk.S_IOERR, 1, 1000));
    }

    @Test
    void benchRowsParseAndRefuseNonsense() {
        BlkBenchMain.Row row = BlkBenchMain.row("randread4k-qd32:randread:4096:32");
        assertEquals(new BlkBenchMain.Row("randread4k-qd32", Pattern.Kind.RANDREAD, 4096, 32), row);
        assertThrows(IllegalArgumentException.class, () -> BlkBenchMain.row("x:randread:4096"));
        assertThrows(IllegalArgumentException.class, () -> BlkBenchMain.row("x:trim:4096:1"));
        assertThrows(IllegalArgumentException.class, () -> BlkBenchMain.row("x:read:4k:1"));
        assertThrows(IllegalArgumentException.class, () -> new Pattern(Pattern.Kind.READ, 1000, 1 << 20, 0));
    }
}
