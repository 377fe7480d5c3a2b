package org.jvmd.virtio.net;

import java.util.Random;
import org.jvmd.bytes.BigEndian;

/** Frames for the benchmarks, built here so the benchmarks need nothing from the tests. */
final class BenchFrames {
    private BenchFrames() {}

    /** Ethernet + IPv4 (20) + TCP with 12 bytes of options (32) + payload: 66 header bytes. */
    static final int TCP4_HEADERS = 14 + 20 + 32;

    /** A TSO super-frame of {@code total} bytes, checksum field holding the pseudo-header sum. */
    static byte[] tcp4SuperFrame(int total) {
        byte[] f = new byte[total];
        new Random(42).nextBytes(f);
        f[12] = 0x08;
        f[13] = 0x00;
        int l3 = 14;
        f[l3] = 0x45;
        f[l3 + 1] = 0;
        BigEndian.put16(f, l3 + 2, total - 14);
        BigEndian.put16(f, l3 + 4, 0x1234);
        BigEndian.put16(f, l3 + 6, 0x4000);
        f[l3 + 8] = 64;
        f[l3 + 9] = 6;
        InetChecksum.writeIpv4HeaderChecksum(f, l3, 20);
        int l4 = l3 + 20;
        f[l4 + 12] = (byte) 0x80; // data offset 8 words
        f[l4 + 13] = 0x18;        // PSH|ACK
        int pseudo = InetChecksum.pseudoHeaderV4(f, l3, 6, total - l4);
        BigEndian.put16(f, l4 + 16, pseudo);
        return f;
    }

    static VirtioNetHdr tso4Header(int mss) {
        VirtioNetHdr h = new VirtioNetHdr();
        h.flags = VirtioNetHdr.F_NEEDS_CSUM;
        h.gsoType = VirtioNetHdr.GSO_TCPV4;
        h.hdrLen = TCP4_HEADERS;
        h.gsoSize = mss;
        h.csumStart = 34;
        h.csumOffset = 16;
        return h;
    }
}
