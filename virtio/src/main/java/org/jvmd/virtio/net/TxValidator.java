package org.jvmd.virtio.net;

import static org.jvmd.virtio.net.VirtioNetHdr.GSO_NONE;
import static org.jvmd.virtio.net.VirtioNetHdr.GSO_TCPV4;
import static org.jvmd.virtio.net.VirtioNetHdr.GSO_TCPV6;
import static org.jvmd.virtio.net.VirtioNetHdr.GSO_UDP;
import static org.jvmd.virtio.net.VirtioNetHdr.GSO_UDP_L4;

/**
 * Judges the header of every frame the guest transmits, before any of it is copied: the
 * header and the frame length are all it needs.
 *
 * <p>A header is accepted exactly when Linux would accept it on a tap write (tun.c
 * {@code tun_get_user()} / tun_vnet.h {@code tun_vnet_hdr_get()}, and
 * include/linux/virtio_net.h {@code __virtio_net_hdr_to_skb()} as of 6.x with a 12-byte
 * little-endian header), and it only uses offloads the guest negotiated. The verdict then
 * depends on what the tap takes ({@link TapOffloads}): pass through, finish the checksum,
 * or segment in software.
 *
 * <p>One instance per transmit queue, used by one thread: {@link #dropReason()} and
 * {@link #l4End()} describe the last {@link #check} call. No allocation.
 */
public final class TxValidator {
    /** ETH_HLEN. */
    static final int ETH_HLEN = 14;
    /** sizeof(struct iphdr): the smallest L3 header before csum_start. */
    static final int IPV4_MIN_HLEN = 20;
    /** sizeof(struct ipv6hdr): the smallest L3 header before csum_start for TCPV6. */
    static final int IPV6_HLEN = 40;
    /** sizeof(struct tcphdr). */
    static final int TCP_MIN_HLEN = 20;
    /** sizeof(struct udphdr). */
    static final int UDP_HLEN = 8;
    /** offsetof(struct tcphdr, check). */
    static final int TCP_CSUM_OFFSET = 16;
    /** offsetof(struct udphdr, check). */
    static final int UDP_CSUM_OFFSET = 6;
    /** UDP_MAX_SEGMENTS of Linux 6.9+ (include/linux/udp.h). */
    static final int UDP_MAX_SEGMENTS = 128;
    /** GSO_BY_FRAGS (include/linux/netdevice.h): refused as a gso_size. */
    static final int GSO_BY_FRAGS = 0xFFFF;

    private final boolean csum;
    private final boolean hostTso4;
    private final boolean hostTso6;
    private final boolean hostEcn;
    private final boolean hostUfo;
    private final boolean hostUso;
    private final TapOffloads tap;

    private DropReason reason = DropReason.NONE;
    private boolean realGso;
    private int l4End;

    /**
     * @param ackedFeatures the features the driver acked (virtio 1.2 §2.2)
     * @param tap what the tap's write path takes as is
     */
    public TxValidator(long ackedFeatures, TapOffloads tap) {
        this.csum = VirtioNetFeatures.has(ackedFeatures, VirtioNetFeatures.CSUM);
        this.hostTso4 = VirtioNetFeatures.has(ackedFeatures, VirtioNetFeatures.HOST_TSO4);
        this.hostTso6 = VirtioNetFeatures.has(ackedFeatures, VirtioNetFeatures.HOST_TSO6);
        this.hostEcn = VirtioNetFeatures.has(ackedFeatures, VirtioNetFeatures.HOST_ECN);
        this.hostUfo = VirtioNetFeatures.has(ackedFeatures, VirtioNetFeatures.HOST_UFO);
        this.hostUso = VirtioNetFeatures.has(ackedFeatures, VirtioNetFeatures.HOST_USO);
        if (tap == null) {
            throw new NullPointerException("tap");
        }
        this.tap = tap;
    }

    /**
     * The verdict for a frame of {@code frameLen} bytes (after the virtio_net_hdr) with
     * header {@code h}. Never throws for any header or length.
     */
    public TxVerdict check(VirtioNetHdr h, int frameLen) {
        reason = DropReason.NONE;
        realGso = false;
        l4End = 0;
        DropReason r = negotiated(h);
        if (r == DropReason.NONE) {
            r = linuxAccepts(h, frameLen);
        }
        if (r != DropReason.NONE) {
            reason = r;
            return TxVerdict.DROP;
        }
        return choose(h, frameLen);
    }

    /** Why the last {@link #check} returned DROP ({@link DropReason#NONE} otherwise). */
    public DropReason dropReason() {
        return reason;
    }

    /**
     * Where the last accepted header says the L4 header ends (Linux's {@code p_off}): the
     * bytes a device must have gathered to look at the headers. 0 for a non-GSO frame
     * without NEEDS_CSUM.
     */
    public int l4End() {
        return l4End;
    }

    /** True if the last accepted frame is really GSO (more payload than one gso_size). */
    public boolean realGso() {
        return realGso;
    }

    /** The driver requirements of virtio 1.2 §5.1.6.2.1: offloads only as negotiated. */
    private DropReason negotiated(VirtioNetHdr h) {
        if (h.needsCsum() && !csum) {
            return DropReason.CSUM_NOT_NEGOTIATED;
        }
        if (h.gsoType == GSO_NONE) {
            return DropReason.NONE;
        }
        boolean allowed = switch (h.gsoBase()) {
            case GSO_TCPV4 -> hostTso4;
            case GSO_TCPV6 -> hostTso6;
            case GSO_UDP -> hostUfo;
            case GSO_UDP_L4 -> hostUso;
            default -> true; // unknown types are Linux's to refuse, with their own reason
        };
        if (!allowed) {
            return DropReason.GSO_NOT_NEGOTIATED;
        }
        if (h.ecn() && !hostEcn) {
            return DropReason.ECN_NOT_NEGOTIATED;
        }
        return DropReason.NONE;
    }

    /** Linux's checks, in Linux's order; sets {@link #l4End} and {@link #realGso}. */
    private DropReason linuxAccepts(VirtioNetHdr h, int len) {
        boolean needsCsum = h.needsCsum();
        int start = h.csumStart;
        int off = h.csumOffset;

        // tun_vnet_hdr_get(): under NEEDS_CSUM hdr_len covers the checksum field; in the frame.
        int hdrLen = needsCsum ? Math.max(h.hdrLen, start + off + 2) : h.hdrLen;
        if (hdrLen > len) {
            return DropReason.HDR_LEN_BEYOND_FRAME;
        }
        // tun_get_user() for IFF_TAP.
        if (len < ETH_HLEN) {
            return DropReason.FRAME_TOO_SHORT;
        }
        if (hdrLen != 0 && hdrLen < ETH_HLEN) {
            return DropReason.HDR_LEN_TOO_SHORT;
        }

        // __virtio_net_hdr_to_skb(): the GSO type.
        boolean gso = h.gsoType != GSO_NONE;
        int base = h.gsoBase();
        int nhMinLen = IPV4_MIN_HLEN;
        int thlen = 0;
        if (gso) {
            switch (base) {
                case GSO_TCPV4 -> thlen = TCP_MIN_HLEN;
                case GSO_TCPV6 -> {
                    thlen = TCP_MIN_HLEN;
                    nhMinLen = IPV6_HLEN;
                }
                case GSO_UDP, GSO_UDP_L4 -> thlen = UDP_HLEN;
                default -> {
                    return DropReason.UNKNOWN_GSO_TYPE;
                }
            }
            if (h.gsoSize == 0) {
                return DropReason.GSO_SIZE_ZERO;
            }
        }

        // The checksum and where the transport header ends (p_off).
        int pOff = 0;
        if (needsCsum) {
            long needed = (long) start + Math.max(thlen, off + 2);
            if (needed > len) {
                return DropReason.CSUM_OUTSIDE_FRAME; // pskb_may_pull / skb_partial_csum_set
            }
            if (start < nhMinLen) {
                return DropReason.CSUM_START_BEFORE_L4;
            }
            pOff = start + thlen;
        } else if (gso) {
            // A tap skb has no network header yet, so Linux takes the minimal sizes.
            pOff = nhMinLen + thlen;
            if (pOff > len) {
                return DropReason.GSO_HEADERS_BEYOND_FRAME;
            }
        }

        if (gso) {
            int nhOff = pOff;
            switch (base) {
                case GSO_UDP -> nhOff -= thlen; // UFO may not include the UDP header in gso_size
                case GSO_UDP_L4 -> {
                    if (!needsCsum) {
                        return DropReason.USO_WITHOUT_CSUM;
                    }
                    if (off != UDP_CSUM_OFFSET) {
                        return DropReason.GSO_CSUM_OFFSET_MISMATCH;
                    }
                    if ((long) len - pOff > (long) h.gsoSize * UDP_MAX_SEGMENTS) {
                        return DropReason.USO_TOO_MANY_SEGMENTS;
                    }
                    if (h.ecn()) {
                        return DropReason.USO_WITH_ECN;
                    }
                }
                default -> { // TCPV4, TCPV6
                    if (needsCsum && off != TCP_CSUM_OFFSET) {
                        return DropReason.GSO_CSUM_OFFSET_MISMATCH;
                    }
                }
            }
            if (h.gsoSize == GSO_BY_FRAGS) {
                return DropReason.GSO_SIZE_BY_FRAGS;
            }
            // "Too small packets are not really GSO ones."
            realGso = len - nhOff > h.gsoSize;
        }
        l4End = pOff;
        return DropReason.NONE;
    }

    /** PASS where the tap takes the offload, else the software fallback. */
    private TxVerdict choose(VirtioNetHdr h, int len) {
        if (realGso) {
            if (tapTakesGso(h, len)) {
                return TxVerdict.PASS;
            }
            if (h.gsoBase() == GSO_UDP) {
                reason = DropReason.UFO_UNSUPPORTED;
                return TxVerdict.DROP;
            }
            return TxVerdict.SEGMENT;
        }
        if (h.gsoType != GSO_NONE && !tapKnows(h.gsoBase())) {
            // Not really GSO, but the tap's kernel would refuse the type: send it plain.
            return TxVerdict.FINISH_CSUM;
        }
        if (h.needsCsum() && !tap.csum()) {
            return TxVerdict.FINISH_CSUM;
        }
        return TxVerdict.PASS;
    }

    private boolean tapKnows(int base) {
        return switch (base) {
            case GSO_TCPV4 -> tap.tso4();
            case GSO_TCPV6 -> tap.tso6();
            case GSO_UDP -> tap.ufo();
            case GSO_UDP_L4 -> tap.uso();
            default -> false;
        };
    }

    private boolean tapTakesGso(VirtioNetHdr h, int len) {
        int base = h.gsoBase();
        if (!tapKnows(base) || !tap.csum()) {
            return false;
        }
        if (h.ecn() && !tap.tsoEcn()) {
            return false;
        }
        if (base == GSO_UDP_L4) {
            return (long) len - l4End <= (long) h.gsoSize * tap.udpMaxSegments();
        }
        return true;
    }
}
