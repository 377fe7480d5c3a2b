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
        int len = ETH + IP + TCP + payload;
        byte[] b = new byte[VirtioNetHdr.SIZE + len];
        int f = VirtioNetHdr.SIZE;
        ipv4(b, f, dst, src, 6, IP + TCP + payload);
        int t = f + ETH + IP;
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
        finishL4(b, f, t, 16, TCP + payload, partial);
        VirtioNetHdr h = new VirtioNetHdr();
        if (partial) {
            h.flags = VirtioNetHdr.F_NEEDS_CSUM;
            h.csumStart = ETH + IP;
            h.csumOffset = 16;
        }
        if (gsoSize > 0) {
            h.gsoType = VirtioNetHdr.GSO_TCPV4;
            h.gsoSize = gsoSize;
            h.hdrLen = ETH + IP + TCP;
        }
        h.write(b, 0, VirtioNetHdr.SIZE);
        return b;
    }

    /** A 12-byte header and an IPv4/UDP frame; {@code gsoSize} > 0 makes it USO (UDP_L4). */
    public static byte[] udp4(byte[] dst, byte[] src, int payload, boolean partial, int gsoSize) {
        int len = ETH + IP + UDP + payload;
        byte[] b = new byte[VirtioNetHdr.SIZE + len];
        int f = VirtioNetHdr.SIZE;
        ipv4(b, f, dst, src, 17, IP + UDP + payload);
        int u = f + ETH + IP;
        put16(b, u, 5353);
        put16(b, u + 2, 9);
        put16(b, u + 4, UDP + payload);
        for (int i = 0; i < payload; i++) {
            b[u + UDP + i] = (byte) (i * 5 + 1);
        }
        finishL4(b, f, u, 6, UDP + payload, partial);
        VirtioNetHdr h = new VirtioNetHdr();
        if (partial) {
            h.flags = VirtioNetHdr.F_NEEDS_CSUM;
            h.csumStart = ETH + IP;
            h.csumOffset = 6;
        }
        if (gsoSize > 0) {
            h.gsoType = VirtioNetHdr.GSO_UDP_L4;
            h.gsoSize = gsoSize;
            h.hdrLen = ETH + IP + UDP;
        }
        h.write(b, 0, VirtioNetHdr.SIZE);
        return b;
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
