package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jvmd.virtio.net.InetChecksum;

/** DHCP requests as a client (dhclient, udhcpc) sends them, and a decoder of replies, for tests. */
final class DhcpPackets {
    private DhcpPackets() {}

    record Reply(int type, int xid, int yiaddr, int serverId, int netmask, int router, byte[] ethDst, int ipDst) {}

    /** A 12-byte empty virtio_net_hdr and the request frame. */
    static byte[] request(byte[] mac, int type, int xid, int ciaddr, int requested, int serverId, boolean broadcast) {
        byte[] opts = new byte[64];
        int o = 0;
        opts[o++] = 53;
        opts[o++] = 1;
        opts[o++] = (byte) type;
        if (requested != 0) {
            opts[o++] = 50;
            opts[o++] = 4;
            Packets.put32(opts, o, requested);
            o += 4;
        }
        if (serverId != 0) {
            opts[o++] = 54;
            opts[o++] = 4;
            Packets.put32(opts, o, serverId);
            o += 4;
        }
        opts[o++] = 55;   // parameter request list
        opts[o++] = 3;
        opts[o++] = 1;
        opts[o++] = 3;
        opts[o++] = 6;
        opts[o++] = (byte) 255;
        return frame(mac, xid, ciaddr, broadcast ? 0x8000 : 0, opts, o, 0);
    }

    /** The frame: header, Ethernet broadcast, IPv4 0.0.0.0 -> 255.255.255.255, UDP 68 -> 67, BOOTP. */
    static byte[] frame(byte[] mac, int xid, int ciaddr, int flags, byte[] opts, int optLen, int pad) {
        int bootp = 236 + 4 + optLen + pad;
        int len = 14 + 20 + 8 + bootp;
        byte[] b = new byte[12 + len];
        int f = 12;
        for (int i = 0; i < 6; i++) {
            b[f + i] = (byte) 0xFF;
        }
        System.arraycopy(mac, 0, b, f + 6, 6);
        b[f + 12] = 0x08;
        int ip = f + 14;
        b[ip] = 0x45;
        Packets.put16(b, ip + 2, 20 + 8 + bootp);
        b[ip + 8] = 64;
        b[ip + 9] = 17;
        Packets.put32(b, ip + 12, ciaddr);
        Packets.put32(b, ip + 16, -1);
        InetChecksum.writeIpv4HeaderChecksum(b, ip, 20);
        int udp = ip + 20;
        Packets.put16(b, udp, 68);
        Packets.put16(b, udp + 2, 67);
        Packets.put16(b, udp + 4, 8 + bootp);
        int p = udp + 8;
        b[p] = 1;
        b[p + 1] = 1;
        b[p + 2] = 6;
        Packets.put32(b, p + 4, xid);
        Packets.put16(b, p + 10, flags);
        Packets.put32(b, p + 12, ciaddr);
        System.arraycopy(mac, 0, b, p + 28, 6);
        b[p + 236] = 99;
        b[p + 237] = (byte) 130;
        b[p + 238] = 83;
        b[p + 239] = 99;
        System.arraycopy(opts, 0, b, p + 240, optLen);
        return b;
    }

    /** Decodes a reply frame at {@code b[off]}, checking its IPv4 and UDP checksums. */
    static Reply parseReply(byte[] b, int off) {
        int ip = off + 14;
        assertTrue(InetChecksum.checksum(b, ip, 20) == 0, "IPv4 header checksum");
        int udp = ip + 20;
        int udpLen = DhcpMessage.be16(b, udp + 4);
        assertTrue(InetChecksum.sum(b, udp, udpLen, InetChecksum.pseudoHeaderV4(b, ip, 17, udpLen)) == 0xFFFF,
                "UDP checksum");
        assertTrue(DhcpMessage.be16(b, udp) == 67 && DhcpMessage.be16(b, udp + 2) == 68, "ports");
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
                case 54 -> server = DhcpMessage.be32(b, o + 2);
                case 1 -> mask = DhcpMessage.be32(b, o + 2);
                case 3 -> router = DhcpMessage.be32(b, o + 2);
                default -> { }
            }
            o += 2 + n;
        }
        return new Reply(type, DhcpMessage.be32(b, p + 4), DhcpMessage.be32(b, p + 16), server, mask, router,
                java.util.Arrays.copyOfRange(b, off, off + 6), DhcpMessage.be32(b, ip + 16));
    }
}
