package org.jvmd.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.jvmd.bytes.BigEndian;

class FrameTest {
    static final byte[] A = {2, 0, 0, 0, 0, 1};
    static final byte[] B = {2, 0, 0, 0, 0, 2};
    static final byte[] IP_A = {(byte) 192, (byte) 168, 0, 1};
    static final byte[] IP_B = {(byte) 192, (byte) 168, 0, (byte) 199};

    @Test
    void theSumIsRfc1071sExample() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to dd f2
        assertEquals(0xddf2, Frame.sum(HexFormat.of().parseHex("0001f203f4f5f6f7"), 0, 8, 0));
    }

    @Test
    void anIpv4HeaderGetsTheWellKnownChecksum() {
        // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7: the textbook IPv4 header
        byte[] f = Frame.ethernet(B, A).ipv4(IP_A, IP_B).ipId(0).udp(1, 2).noUdpChecksum()
                .payload(new byte[0x73 - 28]).build();
        assertEquals("45000073000040004011b861c0a80001c0a800c7", HexFormat.of().formatHex(f, 14, 34));
        assertEquals(0, BigEndian.get16(f, 34 + 6), "UDP without checksum");
    }

    @Test
    void aCompleteL4ChecksumVerifiesAndThePartialOneIsThePseudoHeaderSum() {
        for (int v : new int[] {4, 6}) {
            for (int proto : new int[] {Frame.TCP, Frame.UDP}) {
                Frame full = frame(v, proto);
                byte[] f = full.build();
                byte[] p = frame(v, proto).partialChecksum().build();
                int l4Len = f.length - full.l4Off;
                int pseudo = Frame.pseudoHeaderSum(f, full.l3Off, v, proto, l4Len);
                assertEquals(0xFFFF, Frame.sum(f, full.l4Off, l4Len, pseudo), "v" + v + " proto " + proto);
                int at = full.l4Off + (proto == Frame.TCP ? 16 : 6);
                assertEquals(pseudo, BigEndian.get16(p, at));
                assertArrayEquals(Arrays.copyOf(f, at), Arrays.copyOf(p, at), "only the checksum differs");
            }
        }
    }

    private static Frame frame(int v, int proto) {
        byte[] six1 = new byte[16];
        byte[] six2 = new byte[16];
        six1[0] = six2[0] = (byte) 0xfd;
        six1[15] = 1;
        six2[15] = 2;
        Frame f = Frame.ethernet(B, A).vlan(Frame.ETH_P_8021AD, 100).vlan(Frame.ETH_P_8021Q, 5);
        f = v == 4 ? f.ipv4(IP_A, IP_B).ipv4Options(2) : f.ipv6(six1, six2).ipv6Extension(Frame.HOP_BY_HOP)
                .ipv6Extension(Frame.DEST_OPTS);
        f = proto == Frame.TCP ? f.tcp(40000, 443).seq(1000).ack(77).tcpNopOptions(3) : f.udp(5353, 53);
        return f.payload(new byte[] {1, 2, 3, 4, 5});
    }

    @Test
    void headersSitWhereTheOffsetsSay() {
        Frame fr = frame(6, Frame.TCP).headroom(12);
        byte[] f = fr.build();
        assertEquals(22, fr.l3Off);
        assertEquals(22 + 40 + 16, fr.l4Off);
        assertEquals(fr.l4Off + 32, fr.headersEnd);
        assertEquals(12 + fr.headersEnd + 5, f.length);
        assertEquals(Frame.ETH_P_8021AD, BigEndian.get16(f, 12 + 12));
        assertEquals(Frame.ETH_P_IPV6, BigEndian.get16(f, 12 + 20));
        assertEquals(Frame.HOP_BY_HOP, f[12 + fr.l3Off + 6]);
        assertEquals(Frame.DEST_OPTS, f[12 + fr.l3Off + 40]);
        assertEquals(Frame.TCP, f[12 + fr.l3Off + 48]);
        assertEquals(16 + 32 + 5, BigEndian.get16(f, 12 + fr.l3Off + 4), "payload length");
        assertEquals(8 << 4, f[12 + fr.l4Off + 12] & 0xFF, "data offset");
    }

    @Test
    void anArpRequestIsLaidOutAsRfc826Says() {
        byte[] f = Frame.ethernet(new byte[] {-1, -1, -1, -1, -1, -1}, A).arp(1, A, IP_A, new byte[6], IP_B).build();
        assertEquals(42, f.length);
        assertEquals("0806" + "0001080006040001" + "020000000001c0a80001" + "000000000000c0a800c7",
                HexFormat.of().formatHex(f, 12, 42));
    }

    @Test
    void aDhcpRequestCarriesTheCookieAndItsOptions() {
        byte[] p = Dhcp.request(A, 0x1234, 0x8000, 0, new byte[] {53, 1, 3, (byte) 255}, 4, 2);
        assertEquals(Dhcp.OPTIONS + 6, p.length);
        assertEquals(0x1234, BigEndian.get32(p, 4));
        assertEquals(0x63825363, BigEndian.get32(p, 236));
        assertEquals(53, p[240]);
    }
}
