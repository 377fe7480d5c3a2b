package org.jvmd.it.sim;

/**
 * A malformed transmit chain or header the simulated guest can hand vionet (issue 5:
 * "malformed descriptors and headers ... are dropped and counted; vionet keeps serving;
 * the guest is never stalled"). Each must come back used with length 0.
 */
public enum TxFault {
    /** A descriptor whose buffer lies entirely beyond guest memory. */
    ADDRESS_OUT_OF_RANGE,
    /** A descriptor whose buffer starts inside guest memory and runs past its end. */
    ADDRESS_CROSSES_END,
    /** A two-descriptor chain whose last descriptor points back at its head (virtio 1.2 §2.7.5.2: no loops). */
    DESCRIPTOR_LOOP,
    /** A loop inside an indirect table (needs VIRTIO_F_INDIRECT_DESC). */
    INDIRECT_LOOP,
    /** An indirect descriptor whose table lies beyond guest memory. */
    INDIRECT_TABLE_OUT_OF_RANGE,
    /** A transmit chain made only of a device-writable buffer. */
    WRITABLE_ONLY,
    /** A virtio_net_hdr and no frame. */
    HEADER_ONLY,
    /** NEEDS_CSUM with csum_start beyond the end of the frame. */
    CSUM_START_PAST_FRAME,
    /** A TCPv4 GSO frame with gso_size 0. */
    GSO_SIZE_ZERO,
    /** A TCPv4 GSO frame whose hdr_len is larger than the frame. */
    HDR_LEN_TOO_LARGE,
    /** A gso_type Linux does not define (2). */
    UNKNOWN_GSO_TYPE,
}
