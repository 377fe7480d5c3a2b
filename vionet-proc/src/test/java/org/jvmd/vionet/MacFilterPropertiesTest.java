package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.jvmd.bytes.LittleEndian;

/** The CTRL_RX filter over generated tables and addresses: the table data is guest input. */
class MacFilterPropertiesTest {
    static final byte[] OWN = {2, 0, 0, 0, 0, 1};

    static MacFilter.Source of(byte[] data) {
        return (offset, dst, off, n) -> {
            if (offset >= data.length) {
                return 0;
            }
            int k = (int) Math.min(n, data.length - offset);
            System.arraycopy(data, (int) offset, dst, off, k);
            return k;
        };
    }

    static byte[] table(byte[][] uni, byte[][] multi, int uniCount, int multiCount) {
        byte[] d = new byte[8 + 6 * (uni.length + multi.length)];
        int at = 0;
        at = putTable(d, at, uni, uniCount);
        putTable(d, at, multi, multiCount);
        return d;
    }

    private static int putTable(byte[] d, int at, byte[][] macs, int count) {
        d[at] = (byte) count;
        d[at + 1] = (byte) (count >>> 8);
        d[at + 2] = (byte) (count >>> 16);
        d[at + 3] = (byte) (count >>> 24);
        at += 4;
        for (byte[] m : macs) {
            System.arraycopy(m, 0, d, at, 6);
            at += 6;
        }
        return at;
    }

    static byte[][] macs(byte[] seed, int n, boolean multicast) {
        byte[][] out = new byte[n][6];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < 6; j++) {
                out[i][j] = seed.length == 0 ? (byte) (i * 7 + j) : seed[(i * 6 + j) % seed.length];
            }
            out[i][5] ^= (byte) i;
            out[i][4] ^= (byte) (i >>> 8);
            out[i][0] = (byte) (multicast ? out[i][0] | 1 : out[i][0] & ~1);
        }
        return out;
    }

    @Property(tries = 1000)
    void arbitraryTableDataNeverThrowsAndIsAcceptedOnlyWhenItFillsTheDataExactly(
            @ForAll @Size(max = 200) byte[] data) throws Exception {
        MacFilter f = new MacFilter(OWN);
        boolean ok = f.setTables(of(data), data.length);
        long expectedEnd = -1;
        if (data.length >= 4) {
            long uni = Integer.toUnsignedLong(LittleEndian.get32(data, 0));
            long at = 4 + 6 * uni;
            if (at + 4 <= data.length) {
                expectedEnd = at + 4 + 6 * Integer.toUnsignedLong(LittleEndian.get32(data, (int) at));
            }
        }
        assertEquals(expectedEnd == data.length, ok);
        if (!ok) {
            assertEquals(0, f.unicastEntries(), "a refused table leaves the old (empty) one");
            assertEquals(0, f.multicastEntries());
        }
    }

    @Property(tries = 300)
    void everyListedAddressPassesAndOthersOfItsClassDoNot(@ForAll @Size(max = 60) byte[] seed,
                                                         @ForAll @IntRange(max = 80) int nUni,
                                                         @ForAll @IntRange(max = 80) int nMulti,
                                                         @ForAll byte[] probe) throws Exception {
        byte[][] uni = macs(seed, nUni, false);
        byte[][] multi = macs(seed, nMulti, true);
        MacFilter f = new MacFilter(OWN);
        f.promiscuous(false);
        f.allMulticast(false);
        assertTrue(f.setTables(of(table(uni, multi, nUni, nMulti)), 8 + 6L * (nUni + nMulti)));
        for (byte[] m : uni) {
            assertTrue(f.accepts(m, 0));
        }
        for (byte[] m : multi) {
            assertTrue(f.accepts(m, 0));
        }
        assertTrue(f.accepts(OWN, 0));
        assertTrue(f.accepts(new byte[] {-1, -1, -1, -1, -1, -1}, 0));
        if (probe.length >= 6) {
            byte[] p = Arrays.copyOf(probe, 6);
            boolean multicast = (p[0] & 1) != 0;
            boolean listed = Arrays.stream(multicast ? multi : uni).anyMatch(m -> Arrays.equals(m, p))
                    || Arrays.equals(p, OWN) || MacFilter.toLong(p, 0) == 0xFFFF_FFFF_FFFFL;
            boolean overflow = (multicast ? nMulti : nUni) > MacFilter.TABLE_MAX;
            assertEquals(listed || overflow, f.accepts(p, 0));
        }
    }

    @Test
    void promiscuousAndAllMulticastOpenTheirClasses() {
        MacFilter f = new MacFilter(OWN);
        byte[] other = {2, 0, 0, 0, 0, 9};
        byte[] group = {0x33, 0x33, 0, 0, 0, 1};
        assertTrue(f.accepts(other, 0), "a fresh filter is promiscuous");
        f.promiscuous(false);
        assertFalse(f.accepts(other, 0));
        assertTrue(f.accepts(group, 0), "all-multicast stays on");
        f.allMulticast(false);
        assertFalse(f.accepts(group, 0));
        f.reset(OWN);
        assertTrue(f.accepts(other, 0));
    }
}
