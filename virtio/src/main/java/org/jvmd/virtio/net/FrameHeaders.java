package org.jvmd.virtio.net;

import org.jvmd.bytes.BigEndian;

/**
 * Where the headers of an Ethernet frame are: up to two VLAN tags (802.1Q, 802.1ad QinQ),
 * IPv4 or IPv6 (with hop-by-hop, routing and destination options headers skipped), and the
 * TCP or UDP header. Offsets are relative to the start of the frame.
 *
 * <p>Mutable and reusable; {@link #parse} reads only inside {@code [off, off+len)} and
 * never throws for any content.
 */
public final class FrameHeaders {
    /** EtherType IPv4. */
    public static final int ETH_P_IP = 0x0800;
    /** EtherType IPv6. */
    public static final int ETH_P_IPV6 = 0x86DD;
    /** EtherType of an IEEE 802.1Q customer VLAN tag. */
    public static final int ETH_P_8021Q = 0x8100;
    /** EtherType of an IEEE 802.1ad service VLAN tag (QinQ outer tag). */
    public static final int ETH_P_8021AD = 0x88A8;
    /** IP protocol number of TCP. */
    public static final int IPPROTO_TCP = 6;
    /** IP protocol number of UDP. */
    public static final int IPPROTO_UDP = 17;

    static final int ETH_HLEN = 14;
    static final int VLAN_HLEN = 4;
    /** An outer 802.1ad tag and an inner 802.1Q tag. */
    static final int MAX_VLAN_TAGS = 2;
    /** RFC 8200 §4.1 recommends at most one of each; a bound keeps the walk finite. */
    static final int MAX_IPV6_EXTENSIONS = 8;

    private static final int IPV6_HOPOPTS = 0;
    private static final int IPV6_ROUTING = 43;
    private static final int IPV6_FRAGMENT = 44;
    private static final int IPV6_DSTOPTS = 60;

    /** VLAN tags in front of the L3 header. */
    public int vlanTags;
    /** Offset of the IPv4/IPv6 header. */
    public int l3Off;
    /** 4 or 6. */
    public int ipVersion;
    /** IPv4 header length in bytes (IHL * 4); 40 for IPv6. */
    public int l3HdrLen;
    /** Offset of the L4 header (after any IPv6 extension headers). */
    public int l4Off;
    /** The upper-layer protocol (IPv4 protocol / last IPv6 next header). */
    public int l4Proto;
    /** TCP header length (data offset * 4) or 8 for UDP; 0 for another protocol. */
    public int l4HdrLen;

    /** {@link #l4Off} + {@link #l4HdrLen}: where the payload begins. */
    public int headersEnd() {
        return l4Off + l4HdrLen;
    }

    /**
     * Locates the headers of the frame {@code b[off..off+len)}. Returns
     * {@link DropReason#NONE} and fills the fields, or the reason the frame cannot be
     * segmented. TCP and UDP headers are checked to lie inside the frame; another L4
     * protocol is located but not checked.
     */
    public DropReason parse(byte[] b, int off, int len) {
        clear();
        if (off < 0 || len < 0 || off > b.length - len) {
            throw new IndexOutOfBoundsException("off " + off + " len " + len + " of " + b.length);
        }
        if (len < ETH_HLEN) {
            return DropReason.FRAME_TOO_SHORT;
        }
        int type = BigEndian.get16(b, off + 12);
        int pos = ETH_HLEN;
        while (type == ETH_P_8021Q || type == ETH_P_8021AD) {
            if (vlanTags == MAX_VLAN_TAGS) {
                return DropReason.TOO_MANY_VLAN_TAGS;
            }
            if (pos + VLAN_HLEN > len) {
                return DropReason.FRAME_TOO_SHORT;
            }
            type = BigEndian.get16(b, off + pos + 2);
            pos += VLAN_HLEN;
            vlanTags++;
        }
        l3Off = pos;
        DropReason r = switch (type) {
            case ETH_P_IP -> parseIpv4(b, off, len);
            case ETH_P_IPV6 -> parseIpv6(b, off, len);
            default -> DropReason.NOT_IP;
        };
        if (r != DropReason.NONE) {
            return r;
        }
        return parseL4(b, off, len);
    }

    private DropReason parseIpv4(byte[] b, int off, int len) {
        int p = off + l3Off;
        if (l3Off + 20 > len || (b[p] & 0xF0) != 0x40) {
            return DropReason.BAD_L3_HEADER;
        }
        int ihl = (b[p] & 0x0F) * 4;
        if (ihl < 20 || l3Off + ihl > len) {
            return DropReason.BAD_L3_HEADER;
        }
        if ((BigEndian.get16(b, p + 6) & 0x3FFF) != 0) { // MF or a fragment offset (RFC 791)
            return DropReason.IP_FRAGMENT;
        }
        ipVersion = 4;
        l3HdrLen = ihl;
        l4Proto = b[p + 9] & 0xFF;
        l4Off = l3Off + ihl;
        return DropReason.NONE;
    }

    private DropReason parseIpv6(byte[] b, int off, int len) {
        int p = off + l3Off;
        if (l3Off + 40 > len || (b[p] & 0xF0) != 0x60) {
            return DropReason.BAD_L3_HEADER;
        }
        ipVersion = 6;
        l3HdrLen = 40;
        int next = b[p + 6] & 0xFF;
        int pos = l3Off + 40;
        for (int i = 0; ; i++) {
            if (next == IPV6_FRAGMENT) {
                return DropReason.IP_FRAGMENT;
            }
            if (next != IPV6_HOPOPTS && next != IPV6_ROUTING && next != IPV6_DSTOPTS) {
                break;
            }
            if (i == MAX_IPV6_EXTENSIONS || pos + 8 > len) {
                return DropReason.BAD_IPV6_EXTENSION;
            }
            int extLen = ((b[off + pos + 1] & 0xFF) + 1) * 8; // RFC 8200 §4.3-4.6: 8-octet units, first excluded
            if (next == IPV6_ROUTING && b[off + pos + 3] != 0) {
                // Segments left: the pseudo header would need the final destination (RFC 8200 §8.1).
                return DropReason.BAD_IPV6_EXTENSION;
            }
            if (pos + extLen > len) {
                return DropReason.BAD_IPV6_EXTENSION;
            }
            next = b[off + pos] & 0xFF;
            pos += extLen;
        }
        l4Proto = next;
        l4Off = pos;
        return DropReason.NONE;
    }

    private DropReason parseL4(byte[] b, int off, int len) {
        switch (l4Proto) {
            case IPPROTO_TCP -> {
                if (l4Off + 20 > len) {
                    return DropReason.BAD_L4_HEADER;
                }
                int doff = ((b[off + l4Off + 12] & 0xF0) >>> 4) * 4; // RFC 9293 §3.1 data offset
                if (doff < 20 || l4Off + doff > len) {
                    return DropReason.BAD_L4_HEADER;
                }
                l4HdrLen = doff;
            }
            case IPPROTO_UDP -> {
                if (l4Off + 8 > len) {
                    return DropReason.BAD_L4_HEADER;
                }
                l4HdrLen = 8;
            }
            default -> l4HdrLen = 0;
        }
        return DropReason.NONE;
    }

    private void clear() {
        vlanTags = 0;
        l3Off = 0;
        ipVersion = 0;
        l3HdrLen = 0;
        l4Off = 0;
        l4Proto = -1;
        l4HdrLen = 0;
    }
}
