package org.jvmd.virtio.net;

/**
 * Why the offload engine refused a frame; the device counts drops per reason. Each TX
 * header reason names the check of Linux's tun / {@code virtio_net_hdr_to_skb()} that would
 * refuse the same header with EINVAL, or the virtio negotiation rule it breaks.
 */
public enum DropReason {
    /** No drop (the verdict was not DROP). */
    NONE,

    // ---- TX header: negotiation (virtio 1.2 §5.1.6.2.1, driver requirements) ----
    /** NEEDS_CSUM without VIRTIO_NET_F_CSUM negotiated. */
    CSUM_NOT_NEGOTIATED,
    /** A GSO type whose HOST_TSO4/HOST_TSO6/HOST_UFO/HOST_USO was not negotiated. */
    GSO_NOT_NEGOTIATED,
    /** The GSO ECN bit without VIRTIO_NET_F_HOST_ECN negotiated. */
    ECN_NOT_NEGOTIATED,

    // ---- TX header: Linux tun_get_user() / tun_vnet_hdr_get() ----
    /** Frame shorter than an Ethernet header (ETH_HLEN 14). */
    FRAME_TOO_SHORT,
    /** hdr_len (raised to csum_start + csum_offset + 2 under NEEDS_CSUM) beyond the frame. */
    HDR_LEN_BEYOND_FRAME,
    /** hdr_len non-zero but shorter than an Ethernet header. */
    HDR_LEN_TOO_SHORT,

    // ---- TX header: Linux virtio_net_hdr_to_skb() ----
    /** gso_type (without the ECN bit) is none of TCPV4, TCPV6, UDP, UDP_L4. */
    UNKNOWN_GSO_TYPE,
    /** GSO with gso_size 0. */
    GSO_SIZE_ZERO,
    /** gso_size 0xFFFF (GSO_BY_FRAGS, reserved inside the kernel). */
    GSO_SIZE_BY_FRAGS,
    /** csum_start + max(L4 header, csum_offset + 2) beyond the frame. */
    CSUM_OUTSIDE_FRAME,
    /** csum_start before the end of a minimal L3 header (20 bytes, 40 for TCPV6). */
    CSUM_START_BEFORE_L4,
    /** GSO without NEEDS_CSUM, frame shorter than a minimal L3 + L4 header. */
    GSO_HEADERS_BEYOND_FRAME,
    /** TCP GSO with csum_offset other than 16, UDP_L4 with csum_offset other than 6. */
    GSO_CSUM_OFFSET_MISMATCH,
    /** UDP_L4 GSO without NEEDS_CSUM. */
    USO_WITHOUT_CSUM,
    /** UDP_L4 GSO with the ECN bit. */
    USO_WITH_ECN,
    /** UDP_L4 GSO carrying more than UDP_MAX_SEGMENTS (128) segments. */
    USO_TOO_MANY_SEGMENTS,
    /** UFO (IP fragmentation) that neither the tap nor the engine can do. */
    UFO_UNSUPPORTED,

    // ---- software segmentation: the frame's own headers ----
    /** Neither IPv4 nor IPv6 after the Ethernet header and VLAN tags. */
    NOT_IP,
    /** More than two VLAN tags (802.1Q / 802.1ad). */
    TOO_MANY_VLAN_TAGS,
    /** A truncated or malformed IPv4 / IPv6 header. */
    BAD_L3_HEADER,
    /** An IPv4 fragment, or an IPv6 fragment header. */
    IP_FRAGMENT,
    /** Too many or malformed IPv6 extension headers. */
    BAD_IPV6_EXTENSION,
    /** The L3 protocol or L4 protocol does not match the GSO type. */
    GSO_PROTOCOL_MISMATCH,
    /** A truncated or malformed TCP / UDP header. */
    BAD_L4_HEADER,
    /** NEEDS_CSUM with csum_start not at the parsed L4 header. */
    CSUM_START_MISMATCH,
    /** A segment would not fit its IPv4 total length, IPv6 payload length or UDP length (64 KiB). */
    SEGMENT_TOO_LONG,
    /** More segments than the caller has room to describe. */
    TOO_MANY_SEGMENTS,
    /** The output buffer cannot hold all segments. */
    OUTPUT_TOO_SMALL,

    // ---- RX: frames from the tap ----
    /** The tap handed a header the guest cannot be given (bad GSO type or size). */
    RX_BAD_HEADER,
    /** The frame does not fit the guest's receive buffers. */
    RX_BUFFER_TOO_SMALL,
    /** Merging would need more receive buffers than allowed. */
    RX_TOO_MANY_BUFFERS,
}
