package org.jvmd.it.kernel;

import org.jvmd.virtio.net.FrameHeaders;
import org.jvmd.virtio.net.InetChecksum;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * Reading and crafting the few packets these tests need. A "raw" frame is the 12-byte
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

    static int be16(byte[] b, int off) {
        return (b[off] & 0xFF) << 8 | (b[off + 1] & 0xFF);
    }

    static int be32(byte[] b, int off) {
        return be16(b, off) << 16 | be16(b, off + 2);
    }

    static void putBe16(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 8);
        b[off + 1] = (byte) v;
    }

    static void putBe32(byte[] b, int off, int v) {
        putBe16(b, off, v >>> 16);
        putBe16(b, off + 2, v);
    }

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
        return be16(raw, l4) == port || be16(raw, l4 + 2) == port;
    }

    /**
     * A TCP segment with a full checksum and an empty vnet header, as a peer on the wire
     * would send it to {@code dstMac}.
     */
    static byte[] tcp(byte[] dstMac, byte[] srcMac, byte[] srcIp, byte[] dstIp, int sport, int dport,
                      int seq, int ack, int flags, int window, byte[] options) {
        boolean v6 = srcIp.length == 16;
        int l3Len = v6 ? 40 : 20;
        int thLen = 20 + options.length;
        byte[] raw = new byte[HDR + 14 + l3Len + thLen];
        int e = HDR;
        System.arraycopy(dstMac, 0, raw, e, 6);
        System.arraycopy(srcMac, 0, raw, e + 6, 6);
        putBe16(raw, e + 12, v6 ? FrameHeaders.ETH_P_IPV6 : FrameHeaders.ETH_P_IP);
        int l3 = e + 14;
        if (v6) {
            raw[l3] = 0x60;
            putBe16(raw, l3 + 4, thLen);
            raw[l3 + 6] = FrameHeaders.IPPROTO_TCP;
            raw[l3 + 7] = 64;
            System.arraycopy(srcIp, 0, raw, l3 + 8, 16);
            System.arraycopy(dstIp, 0, raw, l3 + 24, 16);
        } else {
            raw[l3] = 0x45;
            putBe16(raw, l3 + 2, l3Len + thLen);
            putBe16(raw, l3 + 6, 0x4000); // DF
            raw[l3 + 8] = 64;
            raw[l3 + 9] = FrameHeaders.IPPROTO_TCP;
            System.arraycopy(srcIp, 0, raw, l3 + 12, 4);
            System.arraycopy(dstIp, 0, raw, l3 + 16, 4);
            InetChecksum.writeIpv4HeaderChecksum(raw, l3, 20);
        }
        int th = l3 + l3Len;
        putBe16(raw, th, sport);
        putBe16(raw, th + 2, dport);
        putBe32(raw, th + 4, seq);
        putBe32(raw, th + 8, ack);
        raw[th + 12] = (byte) ((thLen / 4) << 4);
        raw[th + 13] = (byte) flags;
        putBe16(raw, th + 14, window);
        System.arraycopy(options, 0, raw, th + 20, options.length);
        int pseudo = v6
            ? InetChecksum.pseudoHeaderV6(raw, l3, FrameHeaders.IPPROTO_TCP, thLen)
            : InetChecksum.pseudoHeaderV4(raw, l3, FrameHeaders.IPPROTO_TCP, thLen);
        putBe16(raw, th + 16, InetChecksum.finish(InetChecksum.sum(raw, th, thLen, pseudo)));
        return raw;
    }

    /**
     * An IPv4 UDP datagram without a checksum (RFC 768 allows 0) and an empty vnet header:
     * the marker that follows a frame through the forwarder.
     */
    static byte[] udp4(byte[] dstMac, byte[] srcMac, byte[] srcIp, byte[] dstIp, int sport, int dport, int id) {
        byte[] raw = new byte[HDR + 14 + 20 + 8 + 4];
        int e = HDR;
        System.arraycopy(dstMac, 0, raw, e, 6);
        System.arraycopy(srcMac, 0, raw, e + 6, 6);
        putBe16(raw, e + 12, FrameHeaders.ETH_P_IP);
        int l3 = e + 14;
        raw[l3] = 0x45;
        putBe16(raw, l3 + 2, 20 + 8 + 4);
        putBe16(raw, l3 + 4, id);
        raw[l3 + 8] = 64;
        raw[l3 + 9] = FrameHeaders.IPPROTO_UDP;
        System.arraycopy(srcIp, 0, raw, l3 + 12, 4);
        System.arraycopy(dstIp, 0, raw, l3 + 16, 4);
        InetChecksum.writeIpv4HeaderChecksum(raw, l3, 20);
        putBe16(raw, l3 + 20, sport);
        putBe16(raw, l3 + 22, dport);
        putBe16(raw, l3 + 24, 8 + 4);
        putBe32(raw, l3 + 28, id);
        return raw;
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
