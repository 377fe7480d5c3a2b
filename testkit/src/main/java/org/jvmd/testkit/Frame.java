package org.jvmd.testkit;

import java.util.ArrayList;
import java.util.List;
import org.jvmd.bytes.BigEndian;

/**
 * The one frame builder of the tests: Ethernet with up to any number of VLAN tags (802.1Q,
 * 802.1ad), then ARP (RFC 826) or IPv4 (RFC 791, with NOP options) / IPv6 (RFC 8200, with
 * hop-by-hop and destination options headers), then TCP (RFC 793, with options) or UDP
 * (RFC 768), then a payload. Checksums are computed here, the slow obvious way (RFC 1071,
 * sharing no code with the product's): complete by default; {@link #partialChecksum} leaves
 * the pseudo-header sum in the L4 checksum field as a driver does for NEEDS_CSUM (virtio 1.2
 * §5.1.6.2); {@link #noUdpChecksum} sends UDP with 0, "no checksum" (RFC 768).
 *
 * <p>Fields are written through {@link BigEndian}, the product's own byte-order helper.
 * {@link #headroom} leaves bytes in front (a virtio_net_hdr); the offsets {@link #l3Off},
 * {@link #l4Off} and {@link #headersEnd} of the last {@link #build} count from the frame's
 * first byte, after the headroom.
 */
public final class Frame {
    public static final int ETH_P_IP = 0x0800;
    public static final int ETH_P_ARP = 0x0806;
    public static final int ETH_P_IPV6 = 0x86DD;
    public static final int ETH_P_8021Q = 0x8100;
    public static final int ETH_P_8021AD = 0x88A8;
    public static final int TCP = 6;
    public static final int UDP = 17;
    public static final int HOP_BY_HOP = 0;
    public static final int DEST_OPTS = 60;
    public static final int TCP_FIN = 0x01;
    public static final int TCP_SYN = 0x02;
    public static final int TCP_PSH = 0x08;
    public static final int TCP_ACK = 0x10;

    private final byte[] dst;
    private final byte[] src;
    private int headroom;
    private final List<int[]> vlans = new ArrayList<>();
    private int etherType = -1;
    private int ipVersion;
    private byte[] srcIp;
    private byte[] dstIp;
    private int tos;
    private int ipId;
    private int fragment = 0x4000; // DF
    private int ttl = 64;
    private int ipv4OptionWords;
    private final List<Integer> ipv6Ext = new ArrayList<>();
    private int l4;
    private int sport;
    private int dport;
    private int seq;
    private int ack;
    private int tcpFlags = TCP_PSH | TCP_ACK;
    private int window = 65535;
    private byte[] tcpOptions = new byte[0];
    private byte[] payload = new byte[0];
    private boolean partial;
    private boolean noUdpChecksum;

    /** After {@link #build}: where the L3 header, the L4 header and the payload start. */
    public int l3Off;
    public int l4Off;
    public int headersEnd;

    private Frame(byte[] dst, byte[] src) {
        this.dst = dst.clone();
        this.src = src.clone();
    }

    /** A frame from {@code src} to {@code dst} (6-byte MACs). */
    public static Frame ethernet(byte[] dst, byte[] src) {
        return new Frame(dst, src);
    }

    /** Leaves {@code n} zero bytes in front of the frame in the built array. */
    public Frame headroom(int n) {
        headroom = n;
        return this;
    }

    /** Adds a VLAN tag, outermost first ({@link #ETH_P_8021AD} or {@link #ETH_P_8021Q}). */
    public Frame vlan(int tpid, int tci) {
        vlans.add(new int[] {tpid, tci});
        return this;
    }

    /** An ARP packet for IPv4 over Ethernet (RFC 826): {@code op} 1 request, 2 reply. */
    public Frame arp(int op, byte[] sha, byte[] spa, byte[] tha, byte[] tpa) {
        byte[] a = new byte[28];
        BigEndian.put16(a, 0, 1);          // htype Ethernet
        BigEndian.put16(a, 2, ETH_P_IP);   // ptype
        a[4] = 6;
        a[5] = 4;
        BigEndian.put16(a, 6, op);
        System.arraycopy(sha, 0, a, 8, 6);
        System.arraycopy(spa, 0, a, 14, 4);
        System.arraycopy(tha, 0, a, 18, 6);
        System.arraycopy(tpa, 0, a, 24, 4);
        etherType = ETH_P_ARP;
        payload = a;
        return this;
    }

    /** An IPv4 header from {@code src} to {@code dst} (4 bytes each). */
    public Frame ipv4(byte[] src, byte[] dst) {
        ipVersion = 4;
        srcIp = src.clone();
        dstIp = dst.clone();
        return this;
    }

    /** An IPv6 header from {@code src} to {@code dst} (16 bytes each). */
    public Frame ipv6(byte[] src, byte[] dst) {
        ipVersion = 6;
        srcIp = src.clone();
        dstIp = dst.clone();
        return this;
    }

    /** IPv4 TOS / IPv6 traffic class. */
    public Frame tos(int v) {
        tos = v;
        return this;
    }

    public Frame ipId(int v) {
        ipId = v;
        return this;
    }

    /** The IPv4 flags and fragment offset field (default 0x4000, DF). */
    public Frame fragment(int v) {
        fragment = v;
        return this;
    }

    /** IPv4 TTL / IPv6 hop limit (default 64). */
    public Frame ttl(int v) {
        ttl = v;
        return this;
    }

    /** {@code words} 4-byte words of IPv4 NOP options (0..10). */
    public Frame ipv4Options(int words) {
        ipv4OptionWords = words;
        return this;
    }

    /** Appends an 8-byte IPv6 extension header ({@link #HOP_BY_HOP} or {@link #DEST_OPTS}) holding PadN. */
    public Frame ipv6Extension(int kind) {
        ipv6Ext.add(kind);
        return this;
    }

    public Frame tcp(int sport, int dport) {
        l4 = TCP;
        this.sport = sport;
        this.dport = dport;
        return this;
    }

    public Frame udp(int sport, int dport) {
        l4 = UDP;
        this.sport = sport;
        this.dport = dport;
        return this;
    }

    public Frame seq(int v) {
        seq = v;
        return this;
    }

    public Frame ack(int v) {
        ack = v;
        return this;
    }

    /** TCP flags (default PSH|ACK). */
    public Frame tcpFlags(int v) {
        tcpFlags = v;
        return this;
    }

    public Frame window(int v) {
        window = v;
        return this;
    }

    /** TCP options, a multiple of 4 bytes. */
    public Frame tcpOptions(byte[] options) {
        if (options.length % 4 != 0) {
            throw new IllegalArgumentException("TCP options must fill whole words: " + options.length);
        }
        tcpOptions = options.clone();
        return this;
    }

    /** {@code words} words of TCP NOP options. */
    public Frame tcpNopOptions(int words) {
        byte[] o = new byte[words * 4];
        java.util.Arrays.fill(o, (byte) 1);
        tcpOptions = o;
        return this;
    }

    public Frame payload(byte[] p) {
        payload = p.clone();
        return this;
    }

    /** The L4 checksum field holds the pseudo-header sum, as a driver leaves it for NEEDS_CSUM. */
    public Frame partialChecksum() {
        partial = true;
        return this;
    }

    /** UDP goes with checksum 0, "none" (RFC 768; IPv4 only). */
    public Frame noUdpChecksum() {
        noUdpChecksum = true;
        return this;
    }

    public int l4HeaderLen() {
        return l4 == TCP ? 20 + tcpOptions.length : l4 == UDP ? 8 : 0;
    }

    private int l3HeaderLen() {
        return ipVersion == 4 ? 20 + 4 * ipv4OptionWords : ipVersion == 6 ? 40 + 8 * ipv6Ext.size() : 0;
    }

    /** The frame, after {@link #headroom} zero bytes. */
    public byte[] build() {
        l3Off = 14 + 4 * vlans.size();
        l4Off = l3Off + l3HeaderLen();
        headersEnd = l4Off + l4HeaderLen();
        int l4Len = l4HeaderLen() + payload.length;
        byte[] b = new byte[headroom + headersEnd + payload.length];
        int f = headroom;
        System.arraycopy(dst, 0, b, f, 6);
        System.arraycopy(src, 0, b, f + 6, 6);
        int p = f + 12;
        for (int[] tag : vlans) {
            BigEndian.put16(b, p, tag[0]);
            BigEndian.put16(b, p + 2, tag[1]);
            p += 4;
        }
        BigEndian.put16(b, p, etherType >= 0 ? etherType : ipVersion == 6 ? ETH_P_IPV6 : ETH_P_IP);
        int l3 = f + l3Off;
        if (ipVersion == 4) {
            writeIpv4(b, l3, l4Len);
        } else if (ipVersion == 6) {
            writeIpv6(b, l3, l4Len);
        }
        int t = f + l4Off;
        if (l4 == TCP) {
            BigEndian.put16(b, t, sport);
            BigEndian.put16(b, t + 2, dport);
            BigEndian.put32(b, t + 4, seq);
            BigEndian.put32(b, t + 8, ack);
            b[t + 12] = (byte) ((l4HeaderLen() / 4) << 4);
            b[t + 13] = (byte) tcpFlags;
            BigEndian.put16(b, t + 14, window);
            System.arraycopy(tcpOptions, 0, b, t + 20, tcpOptions.length);
        } else if (l4 == UDP) {
            BigEndian.put16(b, t, sport);
            BigEndian.put16(b, t + 2, dport);
            BigEndian.put16(b, t + 4, l4Len);
        }
        System.arraycopy(payload, 0, b, f + headersEnd, payload.length);
        if (l4 != 0) {
            writeL4Checksum(b, l3, t, l4Len);
        }
        return b;
    }

    private void writeIpv4(byte[] b, int l3, int l4Len) {
        int hl = l3HeaderLen();
        b[l3] = (byte) (0x40 | hl / 4);
        b[l3 + 1] = (byte) tos;
        BigEndian.put16(b, l3 + 2, hl + l4Len);
        BigEndian.put16(b, l3 + 4, ipId);
        BigEndian.put16(b, l3 + 6, fragment);
        b[l3 + 8] = (byte) ttl;
        b[l3 + 9] = (byte) l4;
        System.arraycopy(srcIp, 0, b, l3 + 12, 4);
        System.arraycopy(dstIp, 0, b, l3 + 16, 4);
        java.util.Arrays.fill(b, l3 + 20, l3 + hl, (byte) 1); // NOP options
        BigEndian.put16(b, l3 + 10, ~sum(b, l3, hl, 0) & 0xFFFF);
    }

    private void writeIpv6(byte[] b, int l3, int l4Len) {
        BigEndian.put32(b, l3, 6 << 28 | (tos & 0xFF) << 20);
        BigEndian.put16(b, l3 + 4, 8 * ipv6Ext.size() + l4Len);
        b[l3 + 6] = (byte) (ipv6Ext.isEmpty() ? l4 : ipv6Ext.get(0));
        b[l3 + 7] = (byte) ttl;
        System.arraycopy(srcIp, 0, b, l3 + 8, 16);
        System.arraycopy(dstIp, 0, b, l3 + 24, 16);
        int ext = l3 + 40;
        for (int i = 0; i < ipv6Ext.size(); i++) {
            b[ext] = (byte) (i + 1 < ipv6Ext.size() ? ipv6Ext.get(i + 1) : l4);
            b[ext + 1] = 0;  // 8 bytes long
            b[ext + 2] = 1;  // PadN
            b[ext + 3] = 4;
            ext += 8;
        }
    }

    private void writeL4Checksum(byte[] b, int l3, int t, int l4Len) {
        int at = t + (l4 == TCP ? 16 : 6);
        if (l4 == UDP && noUdpChecksum) {
            BigEndian.put16(b, at, 0);
            return;
        }
        int pseudo = pseudoHeaderSum(b, l3, ipVersion, l4, l4Len);
        if (partial) {
            BigEndian.put16(b, at, pseudo);
            return;
        }
        int c = ~sum(b, t, l4Len, pseudo) & 0xFFFF;
        BigEndian.put16(b, at, c == 0 && l4 == UDP ? 0xFFFF : c);
    }

    /** The ones' complement sum (RFC 1071) of {@code b[off..off+len)} plus {@code seed}, folded to 16 bits. */
    public static int sum(byte[] b, int off, int len, int seed) {
        long s = seed & 0xFFFF;
        for (int i = 0; i < len; i++) {
            s += (i % 2 == 0 ? (b[off + i] & 0xFF) << 8 : b[off + i] & 0xFF);
        }
        while ((s >> 16) != 0) {
            s = (s & 0xFFFF) + (s >> 16);
        }
        return (int) s;
    }

    /** The pseudo-header sum (RFC 793 §3.1, RFC 768, RFC 8200 §8.1) of the IP header at {@code b[l3]}. */
    public static int pseudoHeaderSum(byte[] b, int l3, int ipVersion, int proto, int l4Len) {
        byte[] ph;
        if (ipVersion == 4) {
            ph = new byte[12];
            System.arraycopy(b, l3 + 12, ph, 0, 8);
            ph[9] = (byte) proto;
            BigEndian.put16(ph, 10, l4Len);
        } else {
            ph = new byte[40];
            System.arraycopy(b, l3 + 8, ph, 0, 32);
            BigEndian.put32(ph, 32, l4Len);
            ph[39] = (byte) proto;
        }
        return sum(ph, 0, ph.length, 0);
    }
}
