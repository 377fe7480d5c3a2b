package org.jvmd.vionet;

import org.jvmd.virtio.net.InetChecksum;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * Builds Ethernet/IPv4/TCP and UDP frames with a virtio_net_hdr in front, for tests: either with a complete checksum or, for NEEDS_CSUM, with the
 * pseudo-header sum in the checksum field as a driver leaves it (virtio 1.2 §5.1.6.2).
 */
public final class Packets {
    public static final int ETH = 14;
    public static final int IP = 20;
    public static final int TCP = 20;
    public static final int UDP = 8;

    private Packets() {}

    /**
     * A 12-byte header and an IPv4/TCP frame with {@code payload} bytes, into a new array.
     * {@code gsoSize} 0: no GSO. With {@code partial} the header says NEEDS_CSUM.
     */
    public static byte[] tcp4(byte[] dst, byte[] src, int payload, boolean partial, int gsoSize) {
        byte[] b = ipv4Frame(dst, src, 6, TCP + payload);
        int t = VirtioNetHdr.SIZE + ETH + IP;
        put16(b, t, 40000);
        put16(b, t + 2, 5201);
        put32(b, t + 4, 1000);
        put32(b, t + 8, 1);
        b[t + 12] = 0x50;
        b[t + 13] = 0x18;
        put16(b, t + 14, 65535);
        for (int i = 0; i < payload; i++) {
            b[t + TCP + i] = (byte) (i * 7 + 3);
        }
        finishL4(b, VirtioNetHdr.SIZE, t, 16, TCP + payload, partial);
        header(b, partial, 16, VirtioNetHdr.GSO_TCPV4, gsoSize, TCP);
        return b;
    }

    /** A 12-byte header and an IPv4/UDP frame; {@code gsoSize} > 0 makes it USO (UDP_L4). */
    public static byte[] udp4(byte[] dst, byte[] src, int payload, boolean partial, int gsoSize) {
        byte[] b = ipv4Frame(dst, src, 17, UDP + payload);
        int u = VirtioNetHdr.SIZE + ETH + IP;
        put16(b, u, 5353);
        put16(b, u + 2, 9);
        put16(b, u + 4, UDP + payload);
        for (int i = 0; i < payload; i++) {
            b[u + UDP + i] = (byte) (i * 5 + 1);
        }
        finishL4(b, VirtioNetHdr.SIZE, u, 6, UDP + payload, partial);
        header(b, partial, 6, VirtioNetHdr.GSO_UDP_L4, gsoSize, UDP);
        return b;
    }

    /** A new array: room for the 12-byte header, then Ethernet and IPv4 headers before {@code l4Len} bytes of {@code proto}. */
    private static byte[] ipv4Frame(byte[] dst, byte[] src, int proto, int l4Len) {
        byte[] b = new byte[VirtioNetHdr.SIZE + ETH + IP + l4Len];
        ipv4(b, VirtioNetHdr.SIZE, dst, src, proto, IP + l4Len);
        return b;
    }

    /**
     * The virtio_net_hdr at b[0]: with {@code partial}, NEEDS_CSUM from the L4 header with the
     * checksum at {@code csumOffset}; with {@code gsoSize} > 0, GSO of {@code gsoType} after
     * {@code l4Header} bytes of L4 header.
     */
    private static void header(byte[] b, boolean partial, int csumOffset, int gsoType, int gsoSize, int l4Header) {
        VirtioNetHdr h = new VirtioNetHdr();
        if (partial) {
            h.flags = VirtioNetHdr.F_NEEDS_CSUM;
            h.csumStart = ETH + IP;
            h.csumOffset = csumOffset;
        }
        if (gsoSize > 0) {
            h.gsoType = gsoType;
            h.gsoSize = gsoSize;
            h.hdrLen = ETH + IP + l4Header;
        }
        h.write(b, 0, VirtioNetHdr.SIZE);
    }

    private static void ipv4(byte[] b, int f, byte[] dst, byte[] src, int proto, int ipLen) {
        System.arraycopy(dst, 0, b, f, 6);
        System.arraycopy(src, 0, b, f + 6, 6);
        put16(b, f + 12, 0x0800);
        int ip = f + ETH;
        b[ip] = 0x45;
        put16(b, ip + 2, ipLen);
        put16(b, ip + 4, 0x1234);
        put16(b, ip + 6, 0x4000);
        b[ip + 8] = 64;
        b[ip + 9] = (byte) proto;
        put32(b, ip + 12, 0x64400002);   // 100.64.0.2
        put32(b, ip + 16, 0x64400001);   // 100.64.0.1
        InetChecksum.writeIpv4HeaderChecksum(b, ip, IP);
    }

    private static void finishL4(byte[] b, int f, int l4, int csumOff, int l4Len, boolean partial) {
        int pseudo = InetChecksum.pseudoHeaderV4(b, f + ETH, b[f + ETH + 9], l4Len);
        if (partial) {
            put16(b, l4 + csumOff, pseudo);
        } else {
            int c = InetChecksum.finish(InetChecksum.sum(b, l4, l4Len, pseudo));
            put16(b, l4 + csumOff, c == 0 && b[f + ETH + 9] == 17 ? 0xFFFF : c);
        }
    }

    /** True if the IPv4 header and the TCP/UDP checksum of the frame at {@code b[f]} are correct. */
    public static boolean checksumsValid(byte[] b, int f, int len) {
        int ip = f + ETH;
        int ihl = (b[ip] & 0x0F) * 4;
        if (InetChecksum.checksum(b, ip, ihl) != 0) {
            return false;
        }
        int l4Len = ((b[ip + 2] & 0xFF) << 8 | (b[ip + 3] & 0xFF)) - ihl;
        if (f + ETH + ihl + l4Len > f + len) {
            return false;
        }
        int pseudo = InetChecksum.pseudoHeaderV4(b, ip, b[ip + 9] & 0xFF, l4Len);
        return InetChecksum.sum(b, ip + ihl, l4Len, pseudo) == 0xFFFF;
    }

    static void put16(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 8);
        b[off + 1] = (byte) v;
    }

    static void put32(byte[] b, int off, int v) {
        put16(b, off, v >>> 16);
        put16(b, off + 2, v);
    }
}
