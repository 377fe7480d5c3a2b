package org.jvmd.virtio.net;

import java.util.Random;

/**
 * Builds Ethernet frames for tests, byte by byte, without the code under test: VLAN tags,
 * IPv4 (with options) or IPv6 (with extension headers), TCP (with options) or UDP, and a
 * payload. The L4 checksum field holds the pseudo-header sum as a driver leaves it for
 * NEEDS_CSUM (virtio 1.2 §5.1.6.2), computed with {@link IndependentChecksum}.
 */
final class TestFrames {
    static final int TCP = 6;
    static final int UDP = 17;

    int vlanTags;          // 0..2: 802.1ad outer, 802.1Q inner
    int ipVersion = 4;
    int ipv4OptionWords;   // 0..10
    int ipv6HopByHop;      // 0/1 hop-by-hop options header
    int ipv6DestOpts;      // 0/1 destination options header
    int l4 = TCP;
    int tcpOptionWords;    // 0..10
    int ipId = 0x1234;
    int seq = 1000;
    int ack = 77;
    int tcpFlags = 0x18;   // PSH|ACK
    int ttl = 64;
    byte[] payload = new byte[0];

    // Filled by build():
    int l3Off;
    int l4Off;
    int hdrLen;

    TestFrames payload(int len, long seed) {
        payload = new byte[len];
        new Random(seed).nextBytes(payload);
        return this;
    }

    int l4HeaderLen() {
        return l4 == TCP ? 20 + 4 * tcpOptionWords : 8;
    }

    byte[] build() {
        l3Off = 14 + 4 * vlanTags;
        int l3HdrLen = ipVersion == 4 ? 20 + 4 * ipv4OptionWords : 40 + 8 * (ipv6HopByHop + ipv6DestOpts);
        l4Off = l3Off + l3HdrLen;
        hdrLen = l4Off + l4HeaderLen();
        byte[] f = new byte[hdrLen + payload.length];
        // Ethernet: dst, src, then tags, then the type.
        for (int i = 0; i < 6; i++) {
            f[i] = (byte) (0x52 + i);
            f[6 + i] = (byte) (0x02 + i);
        }
        int p = 12;
        if (vlanTags == 2) {
            be16(f, p, 0x88A8);
            be16(f, p + 2, 100);
            p += 4;
        }
        if (vlanTags >= 1) {
            be16(f, p, 0x8100);
            be16(f, p + 2, 0x2005);
            p += 4;
        }
        be16(f, p, ipVersion == 4 ? 0x0800 : 0x86DD);
        int l4Len = l4HeaderLen() + payload.length;
        if (ipVersion == 4) {
            f[l3Off] = (byte) (0x40 | (5 + ipv4OptionWords));
            f[l3Off + 1] = 0x02; // ECT(0)
            be16(f, l3Off + 2, l3HdrLen + l4Len);
            be16(f, l3Off + 4, ipId);
            be16(f, l3Off + 6, 0x4000); // DF
            f[l3Off + 8] = (byte) ttl;
            f[l3Off + 9] = (byte) l4;
            bytes(f, l3Off + 12, 100, 64, 1, 2);
            bytes(f, l3Off + 16, 100, 64, 3, 4);
            for (int i = 0; i < ipv4OptionWords * 4; i++) {
                f[l3Off + 20 + i] = 1; // NOP options
            }
            be16(f, l3Off + 10, IndependentChecksum.finish(IndependentChecksum.sum(f, l3Off, l3HdrLen)));
        } else {
            f[l3Off] = 0x60;
            be16(f, l3Off + 4, l3HdrLen - 40 + l4Len);
            f[l3Off + 7] = (byte) ttl;
            for (int i = 0; i < 16; i++) {
                f[l3Off + 8 + i] = (byte) (0xfd00 >> 8);
                f[l3Off + 24 + i] = (byte) (0xfd);
            }
            f[l3Off + 23] = 1;
            f[l3Off + 39] = 2;
            int next = l4;
            int ext = l3Off + 40;
            int[] kinds = new int[2];
            int k = 0;
            if (ipv6HopByHop == 1) {
                kinds[k++] = 0;
            }
            if (ipv6DestOpts == 1) {
                kinds[k++] = 60;
            }
            f[l3Off + 6] = (byte) (k > 0 ? kinds[0] : l4);
            for (int i = 0; i < k; i++) {
                f[ext] = (byte) (i + 1 < k ? kinds[i + 1] : next);
                f[ext + 1] = 0;      // 8 bytes
                f[ext + 2] = 1;      // PadN
                f[ext + 3] = 4;
                ext += 8;
            }
        }
        if (l4 == TCP) {
            be16(f, l4Off, 40000);
            be16(f, l4Off + 2, 443);
            be32(f, l4Off + 4, seq);
            be32(f, l4Off + 8, ack);
            f[l4Off + 12] = (byte) ((5 + tcpOptionWords) << 4);
            f[l4Off + 13] = (byte) tcpFlags;
            be16(f, l4Off + 14, 65535);
            for (int i = 0; i < tcpOptionWords * 4; i++) {
                f[l4Off + 20 + i] = 1; // NOP
            }
        } else {
            be16(f, l4Off, 5353);
            be16(f, l4Off + 2, 53);
            be16(f, l4Off + 4, l4Len);
        }
        System.arraycopy(payload, 0, f, hdrLen, payload.length);
        int pseudo = IndependentChecksum.pseudo(f, l3Off, ipVersion, l4, l4Len);
        be16(f, l4Off + (l4 == TCP ? 16 : 6), pseudo);
        return f;
    }

    /** A header as a Linux driver writes it for this frame as GSO with {@code gsoSize}. */
    VirtioNetHdr gsoHeader(int gsoSize) {
        VirtioNetHdr h = new VirtioNetHdr();
        h.flags = VirtioNetHdr.F_NEEDS_CSUM;
        h.gsoType = l4 == UDP ? VirtioNetHdr.GSO_UDP_L4
            : ipVersion == 4 ? VirtioNetHdr.GSO_TCPV4 : VirtioNetHdr.GSO_TCPV6;
        h.hdrLen = hdrLen;
        h.gsoSize = gsoSize;
        h.csumStart = l4Off;
        h.csumOffset = l4 == TCP ? 16 : 6;
        return h;
    }

    static void be16(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 8);
        b[off + 1] = (byte) v;
    }

    static void be32(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 24);
        b[off + 1] = (byte) (v >>> 16);
        b[off + 2] = (byte) (v >>> 8);
        b[off + 3] = (byte) v;
    }

    static int rd16(byte[] b, int off) {
        return (b[off] & 0xFF) << 8 | (b[off + 1] & 0xFF);
    }

    static int rd32(byte[] b, int off) {
        return rd16(b, off) << 16 | rd16(b, off + 2);
    }

    private static void bytes(byte[] b, int off, int... v) {
        for (int i = 0; i < v.length; i++) {
            b[off + i] = (byte) v[i];
        }
    }
}
