package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.jvmd.proto.DiskStats;

/** vmctl stats: the per-disk counters printed beside the NICs', a dead device as dead. */
class DiskStatsTableTest {
    private static String print(List<DiskStats> disks) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        new Vmctl(System.in, new PrintStream(o, true, StandardCharsets.UTF_8), System.err).printDiskStats(disks);
        return o.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aVmWithoutDisksPrintsNothingMore() {
        assertEquals("", print(List.of()));
    }

    @Test
    void eachDiskShowsItsCountersErrorsByReasonAndADeadOneShowsDead() {
        DiskStats d0 = DiskStats.newBuilder().setDisk(0).setReads(12).setWrites(3).setReadBytes(49152)
                .setWriteBytes(12288).setFlushes(2).setDiscards(1).setWriteZeroes(4).setGetIds(1).setUnsupported(5)
                .putErrors("sector_past_end", 2).putErrors("eio", 1).build();
        DiskStats d1 = DiskStats.newBuilder().setDisk(1).setDead(true).build();
        assertEquals(List.of(
                "DISK      READS     WRITES     READ-BYTES    WRITE-BYTES  FLUSHES DISCARDS   ZEROES   ERRORS",
                "   0         12          3          49152          12288        2        1        4        3",
                "     get-id                        1",
                "     unsupported                   5",
                "     error eio                     1",
                "     error sector_past_end         2",
                "   1 dead: its device process is gone"), print(List.of(d0, d1)).lines().toList());
    }
}
