package org.jvmd.virtio.net;

import static org.jvmd.virtio.net.FrameHeaders.IPPROTO_TCP;
import static org.jvmd.virtio.net.FrameHeaders.IPPROTO_UDP;

import java.util.Arrays;
import org.jvmd.bytes.BigEndian;

/**
 * Software GSO: cuts a TCPv4/TCPv6 (TSO) or UDP (USO, {@code VIRTIO_NET_HDR_GSO_UDP_L4})
 * super-frame into frames of at most {@code gso_size} payload bytes, as Linux's
 * {@code inet_gso_segment()}/{@code ipv6_gso_segment()} with {@code tcp_gso_segment()} and
 * {@code __udp_gso_segment()} do:
 * <ul>
 *   <li>every segment starts with a copy of the L2/L3/L4 headers;</li>
 *   <li>IPv4: total length per segment, the identification incremented per segment starting
 *       from the super-frame's, header checksum recomputed; IPv6: payload length per segment;</li>
 *   <li>TCP: the sequence number advanced by the payload before it; FIN and PSH only on the
 *       last segment, CWR only on the first; UDP: length per segment;</li>
 *   <li>the TCP/UDP checksum computed in full over the pseudo header (from the segment's
 *       addresses), header and payload; a UDP checksum of 0 is sent as 0xFFFF.</li>
 * </ul>
 * A frame whose payload fits in one {@code gso_size} gives one segment with the same rules.
 *
 * <p>Output goes to a caller-supplied buffer: each segment is preceded by {@code headroom}
 * zero bytes (room for the empty virtio_net_hdr the device writes with it), and its offset
 * and length are stored in the caller's arrays. One instance per queue, one thread; no
 * allocation.
 */
public final class Segmenter {
    private static final int TCP_FIN = 0x01;
    private static final int TCP_PSH = 0x08;
    private static final int TCP_CWR = 0x80;
    private static final int MAX_L3_LEN = 0xFFFF;

    private final FrameHeaders headers = new FrameHeaders();
    private DropReason reason = DropReason.NONE;

    /** Why the last {@link #segment} returned -1 ({@link DropReason#NONE} otherwise). */
    public DropReason dropReason() {
        return reason;
    }

    /** The headers of the last frame {@link #segment} parsed. */
    public FrameHeaders headers() {
        return headers;
    }

    /**
     * Segments the frame {@code in[inOff..inOff+inLen)} described by {@code h} (its gso_type
     * and gso_size; under NEEDS_CSUM csum_start must point at the parsed L4 header).
     *
     * @param out where the segments go, from {@code out[outOff]} on
     * @param headroom zero bytes written before each segment
     * @param segOff receives the offset in {@code out} of each segment (after its headroom)
     * @param segLen receives the length of each segment
     * @return the number of segments, or -1 with {@link #dropReason()} set; never throws for
     *     any frame content or header, and never writes outside what it reports
     */
    public int segment(VirtioNetHdr h, byte[] in, int inOff, int inLen,
                       byte[] out, int outOff, int headroom, int[] segOff, int[] segLen) {
        reason = DropReason.NONE;
        if (headroom < 0 || outOff < 0 || outOff > out.length) {
            throw new IllegalArgumentException("headroom " + headroom + " outOff " + outOff);
        }
        DropReason r = check(h, in, inOff, inLen);
        if (r != DropReason.NONE) {
            return drop(r);
        }
        int mss = h.gsoSize;
        int hdrLen = headers.headersEnd();
        int payload = inLen - hdrLen;
        int n = payload == 0 ? 1 : (int) ((payload + (long) mss - 1) / mss);
        if (hdrLen - headers.l3Off + Math.min(mss, payload) > MAX_L3_LEN) {
            return drop(DropReason.SEGMENT_TOO_LONG);
        }
        if (n > segOff.length || n > segLen.length) {
            return drop(DropReason.TOO_MANY_SEGMENTS);
        }
        if ((long) n * ((long) headroom + hdrLen) + payload > out.length - outOff) {
            return drop(DropReason.OUTPUT_TOO_SMALL);
        }
        int cursor = outOff;
        int taken = 0;
        for (int i = 0; i < n; i++) {
            int seg = Math.min(mss, payload - taken);
            Arrays.fill(out, cursor, cursor + headroom, (byte) 0);
            int start = cursor + headroom;
            System.arraycopy(in, inOff, out, start, hdrLen);
            System.arraycopy(in, inOff + hdrLen + taken, out, start + hdrLen, seg);
            fixL3(out, start, i, seg);
            if (headers.l4Proto == IPPROTO_TCP) {
                fixTcp(out, start, i, n, seg, mss);
            } else {
                fixUdp(out, start, seg);
            }
            segOff[i] = start;
            segLen[i] = hdrLen + seg;
            cursor = start + hdrLen + seg;
            taken += seg;
        }
        return n;
    }

    private DropReason check(VirtioNetHdr h, byte[] in, int inOff, int inLen) {
        int base = h.gsoBase();
        if (base == VirtioNetHdr.GSO_UDP) {
            return DropReason.UFO_UNSUPPORTED;
        }
        if (base != VirtioNetHdr.GSO_TCPV4 && base != VirtioNetHdr.GSO_TCPV6 && base != VirtioNetHdr.GSO_UDP_L4) {
            return DropReason.UNKNOWN_GSO_TYPE;
        }
        if (h.gsoSize <= 0) {
            return DropReason.GSO_SIZE_ZERO;
        }
        DropReason r = headers.parse(in, inOff, inLen);
        if (r != DropReason.NONE) {
            return r;
        }
        boolean match = switch (base) {
            case VirtioNetHdr.GSO_TCPV4 -> headers.ipVersion == 4 && headers.l4Proto == IPPROTO_TCP;
            case VirtioNetHdr.GSO_TCPV6 -> headers.ipVersion == 6 && headers.l4Proto == IPPROTO_TCP;
            default -> headers.l4Proto == IPPROTO_UDP;
        };
        if (!match) {
            return DropReason.GSO_PROTOCOL_MISMATCH;
        }
        if (h.needsCsum() && h.csumStart != headers.l4Off) {
            return DropReason.CSUM_START_MISMATCH;
        }
        return DropReason.NONE;
    }

    /** IPv4 total length, identification and header checksum; IPv6 payload length. */
    private void fixL3(byte[] b, int start, int index, int seg) {
        int l3 = start + headers.l3Off;
        int l3Len = headers.headersEnd() - headers.l3Off + seg;
        if (headers.ipVersion == 4) {
            BigEndian.put16(b, l3 + 2, l3Len);
            BigEndian.put16(b, l3 + 4, BigEndian.get16(b, l3 + 4) + index); // the copy still holds the first id
            InetChecksum.writeIpv4HeaderChecksum(b, l3, headers.l3HdrLen);
        } else {
            BigEndian.put16(b, l3 + 4, l3Len - 40);
        }
    }

    private void fixTcp(byte[] b, int start, int index, int n, int seg, int mss) {
        int th = start + headers.l4Off;
        int seq = BigEndian.get32(b, th + 4) + index * mss; // the copy holds the first sequence number
        BigEndian.put32(b, th + 4, seq);
        int flags = b[th + 13] & 0xFF;
        if (index < n - 1) {
            flags &= ~(TCP_FIN | TCP_PSH);
        }
        if (index > 0) {
            flags &= ~TCP_CWR;
        }
        b[th + 13] = (byte) flags;
        int c = l4Checksum(b, start, th, headers.l4HdrLen + seg);
        BigEndian.put16(b, th + 16, c);
    }

    private void fixUdp(byte[] b, int start, int seg) {
        int uh = start + headers.l4Off;
        BigEndian.put16(b, uh + 4, 8 + seg);
        int c = l4Checksum(b, start, uh, 8 + seg);
        BigEndian.put16(b, uh + 6, c == 0 ? 0xFFFF : c); // RFC 768: 0 means "no checksum"
    }

    /** Zeroes the checksum field, then computes pseudo header + L4 header + payload. */
    private int l4Checksum(byte[] b, int start, int l4, int l4Len) {
        int field = l4 + (headers.l4Proto == IPPROTO_TCP ? 16 : 6);
        b[field] = 0;
        b[field + 1] = 0;
        int l3 = start + headers.l3Off;
        int pseudo = headers.ipVersion == 4
            ? InetChecksum.pseudoHeaderV4(b, l3, headers.l4Proto, l4Len)
            : InetChecksum.pseudoHeaderV6(b, l3, headers.l4Proto, l4Len);
        return InetChecksum.finish(InetChecksum.sum(b, l4, l4Len, pseudo));
    }

    private int drop(DropReason r) {
        reason = r;
        return -1;
    }
}
