package org.jvmd.it.kernel;

import org.jvmd.bytes.BigEndian;
import org.jvmd.testkit.Frame;
import org.jvmd.virtio.net.FrameHeaders;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * Reading and crafting (with the testkit's {@link Frame}) the few packets these tests need. A "raw" frame is the 12-byte
 * virtio_net_hdr followed by the Ethernet frame, as a tap reader sees it.
 */
final class Packets {
    private Packets() {}

    static final int HDR = VirtioNetHdr.SIZE;
    static final int TCP_FIN = 0x01;
    static final int TCP_SYN = 0x02;
    static final int TCP_ACK = 0x10;
    static final int TCP_ECE = 0x40;
    static final int TCP_CWR = 0x80;

    static VirtioNetHdr header(byte[] raw) {
        return new VirtioNetHdr().read(raw, 0, HDR);
    }

    /** The parsed headers of the frame inside {@code raw}, or null if not TCP/UDP over IP. */
    static FrameHeaders l4(byte[] raw) {
        FrameHeaders h = new FrameHeaders();
        if (raw.length <= HDR || h.parse(raw, HDR, raw.length - HDR) != org.jvmd.virtio.net.DropReason.NONE) {
            return null;
        }
        if (h.l4Proto != FrameHeaders.IPPROTO_TCP && h.l4Proto != FrameHeaders.IPPROTO_UDP) {
            return null;
        }
        return h;
    }

    /** True if {@code raw} carries TCP or UDP with {@code port} as source or destination. */
    static boolean isFlow(byte[] raw, int proto, int port) {
        FrameHeaders h = l4(raw);
        if (h == null || h.l4Proto != proto) {
            return false;
        }
        int l4 = HDR + h.l4Off;
        return BigEndian.get16(raw, l4) == port || BigEndian.get16(raw, l4 + 2) == port;
    }

    /**
     * A TCP segment with a full checksum and an empty vnet header, as a peer on the wire
     * would send it to {@code dstMac}.
     */
    static byte[] tcp(byte[] dstMac, byte[] srcMac, byte[] srcIp, byte[] dstIp, int sport, int dport,
                      int seq, int ack, int flags, int window, byte[] options) {
        Frame f = Frame.ethernet(dstMac, srcMac).headroom(HDR);
        f = srcIp.length == 16 ? f.ipv6(srcIp, dstIp) : f.ipv4(srcIp, dstIp);
        return f.tcp(sport, dport).seq(seq).ack(ack).tcpFlags(flags).window(window).tcpOptions(options).build();
    }

    /**
     * An IPv4 UDP datagram without a checksum (RFC 768 allows 0) and an empty vnet header:
     * the marker that follows a frame through the forwarder.
     */
    static byte[] udp4(byte[] dstMac, byte[] srcMac, byte[] srcIp, byte[] dstIp, int sport, int dport, int id) {
        byte[] marker = new byte[4];
        BigEndian.put32(marker, 0, id);
        return Frame.ethernet(dstMac, srcMac).headroom(HDR).ipv4(srcIp, dstIp).ipId(id).fragment(0)
                .udp(sport, dport).noUdpChecksum().payload(marker).build();
    }

    /** Names the header field at byte {@code off} of the frame whose headers are {@code h}. */
    static String fieldAt(FrameHeaders h, int off) {
        if (off < 12) {
            return "ethernet address";
        }
        if (off < h.l3Off) {
            return "ethertype/vlan";
        }
        if (off < h.l3Off + h.l3HdrLen) {
            int o = off - h.l3Off;
            if (h.ipVersion == 4) {
                return "ipv4 " + switch (o) {
                    case 0 -> "version/ihl";
                    case 1 -> "tos";
                    case 2, 3 -> "total length";
                    case 4, 5 -> "identification";
                    case 6, 7 -> "flags/fragment offset";
                    case 8 -> "ttl";
                    case 9 -> "protocol";
                    case 10, 11 -> "header checksum";
                    default -> o < 20 ? "address" : "option";
                };
            }
            return "ipv6 " + (o < 4 ? "version/class/flow" : o < 6 ? "payload length" : o == 6 ? "next header"
                : o == 7 ? "hop limit" : "address");
        }
        if (off < h.l4Off) {
            return "ipv6 extension header";
        }
        if (off < h.headersEnd()) {
            int o = off - h.l4Off;
            if (h.l4Proto == FrameHeaders.IPPROTO_UDP) {
                return "udp " + (o < 4 ? "port" : o < 6 ? "length" : "checksum");
            }
            return "tcp " + switch (o) {
                case 0, 1, 2, 3 -> "port";
                case 4, 5, 6, 7 -> "sequence number";
                case 8, 9, 10, 11 -> "acknowledgment number";
                case 12 -> "data offset";
                case 13 -> "flags";
                case 14, 15 -> "window";
                case 16, 17 -> "checksum";
                case 18, 19 -> "urgent pointer";
                default -> "option";
            };
        }
        return "payload byte " + (off - h.headersEnd());
    }

    static String hex(byte[] b, int off, int len) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < len; i++) {
            s.append(String.format("%02x", b[off + i] & 0xFF));
        }
        return s.toString();
    }
}
