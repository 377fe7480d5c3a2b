package org.jvmd.virtio.net;

import org.jvmd.bytes.BigEndian;
import org.jvmd.testkit.Frame;

/**
 * The Internet checksum the slow, obvious way (the testkit's {@link Frame#sum}, RFC 1071
 * §4.1, one byte at a time), and checkers for the IPv4 header and TCP/UDP checksums of a
 * frame. Shares no code with {@link InetChecksum}: tests use it as the reference.
 */
final class IndependentChecksum {
    private IndependentChecksum() {}

    /** Ones' complement sum of b[off..off+len), big-endian words, odd byte padded (the testkit's). */
    static int sum(byte[] b, int off, int len) {
        return Frame.sum(b, off, len, 0);
    }

    static int finish(int sum) {
        return ~sum & 0xFFFF;
    }

    /** The pseudo-header sum (RFC 793 / RFC 8200 §8.1) from the addresses of the L3 header. */
    static int pseudo(byte[] f, int l3, int ipVersion, int proto, int l4Len) {
        return Frame.pseudoHeaderSum(f, l3, ipVersion, proto, l4Len);
    }

    /** True if the IPv4 header at f[l3] (IHL from the header) sums to 0xFFFF. */
    static boolean ipv4HeaderValid(byte[] f, int l3) {
        int ihl = (f[l3] & 0x0F) * 4;
        return sum(f, l3, ihl) == 0xFFFF;
    }

    /**
     * True if the TCP/UDP segment f[l4..l4+l4Len) carries a valid checksum for the pseudo
     * header of the L3 header at f[l3]: pseudo + segment sums to 0xFFFF. A UDP checksum of
     * 0 ("none") is refused: the code under test always sends one.
     */
    static boolean l4Valid(byte[] f, int l3, int ipVersion, int proto, int l4, int l4Len) {
        if (proto == TestFrames.UDP && BigEndian.get16(f, l4 + 6) == 0) {
            return false;
        }
        long s = pseudo(f, l3, ipVersion, proto, l4Len) + (long) sum(f, l4, l4Len);
        while ((s >> 16) != 0) {
            s = (s & 0xFFFF) + (s >> 16);
        }
        return s == 0xFFFF;
    }
}
