package org.jvmd.virtio.net;

import java.util.Random;
import org.jvmd.testkit.Frame;

/**
 * The frames the offload property tests generate, as fields a generator sets: VLAN tags,
 * IPv4 (with options) or IPv6 (with extension headers), TCP (with options) or UDP, and a
 * payload, built by the testkit's {@link Frame} without the code under test. The L4
 * checksum field holds the pseudo-header sum as a driver leaves it for NEEDS_CSUM (virtio
 * 1.2 §5.1.6.2).
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
        Frame f = Frame.ethernet(new byte[] {0x52, 0x53, 0x54, 0x55, 0x56, 0x57}, new byte[] {2, 3, 4, 5, 6, 7});
        if (vlanTags == 2) {
            f.vlan(Frame.ETH_P_8021AD, 100);
        }
        if (vlanTags >= 1) {
            f.vlan(Frame.ETH_P_8021Q, 0x2005);
        }
        if (ipVersion == 4) {
            f.ipv4(new byte[] {100, 64, 1, 2}, new byte[] {100, 64, 3, 4}).ipv4Options(ipv4OptionWords).tos(0x02); // ECT(0)
        } else {
            byte[] src = new byte[16];
            byte[] dst = new byte[16];
            java.util.Arrays.fill(src, (byte) 0xfd);
            java.util.Arrays.fill(dst, (byte) 0xfd);
            src[15] = 1;
            dst[15] = 2;
            f.ipv6(src, dst);
            if (ipv6HopByHop == 1) {
                f.ipv6Extension(Frame.HOP_BY_HOP);
            }
            if (ipv6DestOpts == 1) {
                f.ipv6Extension(Frame.DEST_OPTS);
            }
        }
        f.ipId(ipId).ttl(ttl);
        if (l4 == TCP) {
            f.tcp(40000, 443).seq(seq).ack(ack).tcpFlags(tcpFlags).tcpNopOptions(tcpOptionWords);
        } else {
            f.udp(5353, 53);
        }
        byte[] b = f.payload(payload).partialChecksum().build();
        l3Off = f.l3Off;
        l4Off = f.l4Off;
        hdrLen = f.headersEnd;
        return b;
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
}
