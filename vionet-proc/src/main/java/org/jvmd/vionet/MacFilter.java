package org.jvmd.vionet;

import org.jvmd.virtio.GuestFault;

/**
 * The receive filter a driver sets over the control queue with VIRTIO_NET_F_CTRL_RX
 * (virtio 1.2 §5.1.6.5.1 and §5.1.6.5.2): promiscuous and all-multicast modes, a unicast
 * and a multicast address table, and the device's own address (VIRTIO_NET_CTRL_MAC_ADDR_SET).
 *
 * <p>A frame is accepted when the filter is promiscuous, when its destination is the
 * broadcast address, when it is multicast and all-multicast is on or the address is in the
 * multicast table, or when it is unicast to the own address or to one in the unicast
 * table. Each table keeps at most {@link #TABLE_MAX} entries; a longer table accepts its
 * whole class (as QEMU's overflow does) rather than drop what the driver asked for.
 *
 * <p>A device starts promiscuous (and all-multicast), so a driver without CTRL_RX gets every
 * frame. Nothing is allocated after construction. Not thread-safe: the owner serialises
 * changes against {@link #accepts}.
 */
public final class MacFilter {
    /** Entries kept per table (QEMU's MAC_TABLE_ENTRIES is the same 64). */
    public static final int TABLE_MAX = 64;
    public static final int MAC_LEN = 6;
    private static final long BROADCAST = 0xFFFF_FFFF_FFFFL;

    /** Where a command's data comes from: bytes at {@code offset} into {@code dst[off..off+n)}; returns how many. */
    @FunctionalInterface
    public interface Source {
        int gather(long offset, byte[] dst, int off, int n) throws GuestFault;
    }

    private boolean promisc = true;
    private boolean allmulti = true;
    private long own;
    private final long[] uni = new long[TABLE_MAX];
    private final long[] multi = new long[TABLE_MAX];
    private int uniCount;
    private int multiCount;
    private boolean uniOverflow;
    private boolean multiOverflow;
    private final long[] nextUni = new long[TABLE_MAX];
    private final long[] nextMulti = new long[TABLE_MAX];
    private final byte[] word = new byte[MAC_LEN];

    public MacFilter(byte[] ownMac) {
        own = toLong(ownMac, 0);
    }

    /** Back to the reset state: promiscuous, all-multicast, empty tables, {@code ownMac} as own address. */
    public void reset(byte[] ownMac) {
        promisc = true;
        allmulti = true;
        own = toLong(ownMac, 0);
        uniCount = 0;
        multiCount = 0;
        uniOverflow = false;
        multiOverflow = false;
    }

    public void promiscuous(boolean on) {
        promisc = on;
    }

    public void allMulticast(boolean on) {
        allmulti = on;
    }

    public boolean promiscuous() {
        return promisc;
    }

    public boolean allMulticast() {
        return allmulti;
    }

    /** VIRTIO_NET_CTRL_MAC_ADDR_SET: the own (default) address. */
    public void ownAddress(byte[] mac, int off) {
        own = toLong(mac, off);
    }

    public long ownAddress() {
        return own;
    }

    public int unicastEntries() {
        return uniCount;
    }

    public int multicastEntries() {
        return multiCount;
    }

    /** True if a frame whose destination address is at {@code frame[off..off+6)} passes the filter. */
    public boolean accepts(byte[] frame, int off) {
        return promisc || accepts(toLong(frame, off));
    }

    /** The same for a destination given as a 48-bit big-endian number. */
    public boolean accepts(long dst) {
        if (promisc || dst == BROADCAST) {
            return true;
        }
        if ((dst & (1L << 40)) != 0) {   // I/G bit: the low bit of the first octet
            return allmulti || multiOverflow || contains(multi, multiCount, dst);
        }
        return dst == own || uniOverflow || contains(uni, uniCount, dst);
    }

    /**
     * VIRTIO_NET_CTRL_MAC_TABLE_SET (virtio 1.2 §5.1.6.5.2): {@code len} bytes of data, the
     * unicast table then the multicast table, each a le32 entry count and that many 6-byte
     * addresses, filling the data exactly. Applied only when well formed; returns whether it was.
     */
    public boolean setTables(Source data, long len) throws GuestFault {
        long at = 0;
        long[] counts = {0, 0};
        for (int t = 0; t < 2; t++) {
            if (at + 4 > len || data.gather(at, word, 0, 4) != 4) {
                return false;
            }
            counts[t] = (word[0] & 0xFFL) | (word[1] & 0xFFL) << 8 | (word[2] & 0xFFL) << 16 | (word[3] & 0xFFL) << 24;
            long tableStart = at + 4;
            at = tableStart + MAC_LEN * counts[t];
            if (at > len) {
                return false;
            }
            int keep = (int) Math.min(counts[t], TABLE_MAX);
            long[] into = t == 0 ? nextUni : nextMulti;
            for (int i = 0; i < keep; i++) {
                if (data.gather(tableStart + (long) MAC_LEN * i, word, 0, MAC_LEN) != MAC_LEN) {
                    return false;
                }
                into[i] = toLong(word, 0);
            }
        }
        if (at != len) {
            return false;
        }
        uniCount = (int) Math.min(counts[0], TABLE_MAX);
        multiCount = (int) Math.min(counts[1], TABLE_MAX);
        uniOverflow = counts[0] > TABLE_MAX;
        multiOverflow = counts[1] > TABLE_MAX;
        System.arraycopy(nextUni, 0, uni, 0, uniCount);
        System.arraycopy(nextMulti, 0, multi, 0, multiCount);
        return true;
    }

    private static boolean contains(long[] table, int n, long mac) {
        for (int i = 0; i < n; i++) {
            if (table[i] == mac) {
                return true;
            }
        }
        return false;
    }

    /** Six octets as a 48-bit big-endian number (the first octet highest). */
    public static long toLong(byte[] b, int off) {
        long v = 0;
        for (int i = 0; i < MAC_LEN; i++) {
            v = v << 8 | (b[off + i] & 0xFF);
        }
        return v;
    }
}
