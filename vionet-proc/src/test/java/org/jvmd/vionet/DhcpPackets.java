package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jvmd.bytes.BigEndian;
import org.jvmd.testkit.Dhcp;
import org.jvmd.testkit.Frame;
import org.jvmd.virtio.net.InetChecksum;

/** DHCP requests as a client (dhclient, udhcpc) sends them, and a decoder of replies, for tests. */
final class DhcpPackets {
    private DhcpPackets() {}

    record Reply(int type, int xid, int yiaddr, int serverId, int netmask, int router, byte[] ethDst, int ipDst) {}

    /** A 12-byte empty virtio_net_hdr and the request frame. */
    static byte[] request(byte[] mac, int type, int xid, int ciaddr, int requested, int serverId, boolean broadcast) {
        byte[] opts = new byte[64];
        int o = options(opts, 0, type, requested, serverId);
        opts[o++] = 55;   // parameter request list
        opts[o++] = 3;
        opts[o++] = 1;
        opts[o++] = 3;
        opts[o++] = 6;
        opts[o++] = (byte) 255;
        return frame(mac, xid, ciaddr, broadcast ? 0x8000 : 0, opts, o, 0);
    }

    /**
     * Writes the message type (53) and, when not 0, the requested address (50) and the server
     * identifier (54) at {@code opts[o]}; returns the offset after them.
     */
    static int options(byte[] opts, int o, int type, int requested, int serverId) {
        opts[o++] = 53;
        opts[o++] = 1;
        opts[o++] = (byte) type;
        if (requested != 0) {
            opts[o++] = 50;
            opts[o++] = 4;
            BigEndian.put32(opts, o, requested);
            o += 4;
        }
        if (serverId != 0) {
            opts[o++] = 54;
            opts[o++] = 4;
            BigEndian.put32(opts, o, serverId);
            o += 4;
        }
        return o;
    }

    /** The frame: header, Ethernet broadcast, IPv4 0.0.0.0 -> 255.255.255.255, UDP 68 -> 67, BOOTP. */
    static byte[] frame(byte[] mac, int xid, int ciaddr, int flags, byte[] opts, int optLen, int pad) {
        byte[] ca = new byte[4];
        BigEndian.put32(ca, 0, ciaddr);
        return Frame.ethernet(new byte[] {-1, -1, -1, -1, -1, -1}, mac).headroom(12)
                .ipv4(ca, new byte[] {-1, -1, -1, -1}).fragment(0).udp(Dhcp.CLIENT_PORT, Dhcp.SERVER_PORT).noUdpChecksum()
                .payload(Dhcp.request(mac, xid, flags, ciaddr, opts, optLen, pad)).build();
    }

    /** Decodes a reply frame at {@code b[off]}, checking its IPv4 and UDP checksums. */
    static Reply parseReply(byte[] b, int off) {
        int ip = off + 14;
        assertTrue(InetChecksum.checksum(b, ip, 20) == 0, "IPv4 header checksum");
        int udp = ip + 20;
        int udpLen = BigEndian.get16(b, udp + 4);
        assertTrue(InetChecksum.sum(b, udp, udpLen, InetChecksum.pseudoHeaderV4(b, ip, 17, udpLen)) == 0xFFFF,
                "UDP checksum");
        assertTrue(BigEndian.get16(b, udp) == 67 && BigEndian.get16(b, udp + 2) == 68, "ports");
        int p = udp + 8;
        assertTrue(b[p] == 2, "BOOTREPLY");
        int type = 0;
        int server = 0;
        int mask = 0;
        int router = 0;
        for (int o = p + 240; o < udp + udpLen && (b[o] & 0xFF) != 255; ) {
            int code = b[o] & 0xFF;
            if (code == 0) {
                o++;
                continue;
            }
            int n = b[o + 1] & 0xFF;
            switch (code) {
                case 53 -> type = b[o + 2] & 0xFF;
                case 54 -> server = BigEndian.get32(b, o + 2);
                case 1 -> mask = BigEndian.get32(b, o + 2);
                case 3 -> router = BigEndian.get32(b, o + 2);
                default -> { }
            }
            o += 2 + n;
        }
        return new Reply(type, BigEndian.get32(b, p + 4), BigEndian.get32(b, p + 16), server, mask, router,
                java.util.Arrays.copyOfRange(b, off, off + 6), BigEndian.get32(b, ip + 16));
    }
}
