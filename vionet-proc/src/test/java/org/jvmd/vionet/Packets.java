package org.jvmd.vionet;

import org.jvmd.testkit.Frame;
import org.jvmd.virtio.net.InetChecksum;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * Ethernet/IPv4/TCP and UDP frames (the testkit's {@link Frame}) with a virtio_net_hdr in
 * front, for tests: either with a complete checksum or, for NEEDS_CSUM, with the
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
        byte[] data = new byte[payload];
        for (int i = 0; i < payload; i++) {
            data[i] = (byte) (i * 7 + 3);
        }
        byte[] b = ipv4(dst, src, partial).tcp(40000, 5201).seq(1000).ack(1).payload(data).build();
        header(b, partial, 16, VirtioNetHdr.GSO_TCPV4, gsoSize, TCP);
        return b;
    }

    /** A 12-byte header and an IPv4/UDP frame; {@code gsoSize} > 0 makes it USO (UDP_L4). */
    public static byte[] udp4(byte[] dst, byte[] src, int payload, boolean partial, int gsoSize) {
        byte[] data = new byte[payload];
        for (int i = 0; i < payload; i++) {
            data[i] = (byte) (i * 5 + 1);
        }
        byte[] b = ipv4(dst, src, partial).udp(5353, 9).payload(data).build();
        header(b, partial, 6, VirtioNetHdr.GSO_UDP_L4, gsoSize, UDP);
        return b;
    }

    /** Room for the 12-byte header, then Ethernet and IPv4 100.64.0.2 -> 100.64.0.1. */
    private static Frame ipv4(byte[] dst, byte[] src, boolean partial) {
        Frame f = Frame.ethernet(dst, src).headroom(VirtioNetHdr.SIZE)
                .ipv4(new byte[] {100, 64, 0, 2}, new byte[] {100, 64, 0, 1}).ipId(0x1234);
        return partial ? f.partialChecksum() : f;
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
}
