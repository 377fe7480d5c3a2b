package org.jvmd.virtio.net;

import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_CSUM;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_ECN;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_UFO;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_USO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_USO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.has;

/**
 * What a guest may be given on receive (virtio 1.2 §5.1.6.4), from the offloads it acked (or
 * set later with VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, §5.1.6.5.6). The tap normally hands only
 * what {@link TunFlags#forGuest} allowed, but offloads change at run time and frames already
 * queued in the tap were made for the old set, so every header is checked again here:
 * <ul>
 *   <li>a guest without GUEST_CSUM gets flags 0 (§5.1.6.4.1: "the device MUST set flags to
 *       zero") and a fully checksummed frame: a NEEDS_CSUM frame is finished in software;</li>
 *   <li>a GSO frame of a type the guest did not ack (GUEST_TSO4/TSO6, GUEST_USO4 and USO6,
 *       GUEST_ECN for the ECN bit; every one of them needs GUEST_CSUM) is segmented in
 *       software (§5.1.6.4.1: gso_type NONE unless the matching GUEST_ feature);</li>
 *   <li>RSC_INFO is never passed (RSC_EXT is not offered).</li>
 * </ul>
 *
 * <p>Immutable except for the last drop reason; one instance per receive queue and offload
 * state, used by one thread.
 */
public final class RxOffloadPolicy {
    private final boolean csum;
    private final boolean tso4;
    private final boolean tso6;
    private final boolean ecn;
    private final boolean ufo;
    private final boolean uso;
    private DropReason reason = DropReason.NONE;

    /** @param guestOffloads the acked features (only the GUEST_* offload bits count) */
    public RxOffloadPolicy(long guestOffloads) {
        csum = has(guestOffloads, GUEST_CSUM);
        tso4 = csum && has(guestOffloads, GUEST_TSO4);
        tso6 = csum && has(guestOffloads, GUEST_TSO6);
        ecn = (tso4 || tso6) && has(guestOffloads, GUEST_ECN);
        ufo = csum && has(guestOffloads, GUEST_UFO);
        // USO4 and USO6 only together: telling them apart needs the frame, and the tap
        // (TunFlags.forGuest) only produces USO when both are acked.
        uso = csum && has(guestOffloads, GUEST_USO4) && has(guestOffloads, GUEST_USO6);
    }

    /** True if the guest takes partial checksums and DATA_VALID. */
    public boolean guestCsum() {
        return csum;
    }

    /**
     * The verdict for a frame of {@code frameLen} bytes from the tap with header {@code h}.
     * Never throws.
     */
    public RxVerdict check(VirtioNetHdr h, int frameLen) {
        reason = DropReason.NONE;
        if (h.needsCsum() && h.csumStart + h.csumOffset + 2 > frameLen) {
            return drop(); // would finish (or have the guest finish) outside the frame
        }
        if (h.gsoType != VirtioNetHdr.GSO_NONE) {
            boolean taken;
            switch (h.gsoBase()) {
                case VirtioNetHdr.GSO_TCPV4 -> taken = tso4 && (!h.ecn() || ecn);
                case VirtioNetHdr.GSO_TCPV6 -> taken = tso6 && (!h.ecn() || ecn);
                case VirtioNetHdr.GSO_UDP_L4 -> taken = uso && !h.ecn();
                case VirtioNetHdr.GSO_UDP -> {
                    if (!ufo || h.ecn()) {
                        return drop(); // no software UFO (IP fragmentation)
                    }
                    taken = true;
                }
                default -> {
                    return drop();
                }
            }
            if (h.gsoSize == 0) {
                return drop();
            }
            if (!taken) {
                return RxVerdict.SEGMENT;
            }
        }
        if (h.needsCsum() && !csum) {
            return RxVerdict.FINISH_CSUM;
        }
        return RxVerdict.DELIVER;
    }

    /** Why the last {@link #check} returned DROP. */
    public DropReason dropReason() {
        return reason;
    }

    /**
     * Rewrites {@code h} into the header the guest gets for a frame (or, for SEGMENT, for
     * each segment) after the work the verdict called for. num_buffers is left alone: the
     * device sets it once it knows how many buffers it used ({@link RxBufferPlan}).
     */
    public void prepareHeader(VirtioNetHdr h, RxVerdict verdict) {
        int numBuffers = h.numBuffers;
        switch (verdict) {
            case DELIVER -> {
                if (!csum) {
                    h.flags = 0;
                    h.csumStart = 0;
                    h.csumOffset = 0;
                } else {
                    h.flags &= VirtioNetHdr.F_NEEDS_CSUM | VirtioNetHdr.F_DATA_VALID;
                }
                if (h.gsoType == VirtioNetHdr.GSO_NONE) {
                    h.gsoSize = 0;
                }
            }
            case FINISH_CSUM -> h.clear();
            case SEGMENT -> {
                h.clear();
                if (csum) {
                    h.flags = VirtioNetHdr.F_DATA_VALID; // the segmenter computed every checksum
                }
            }
            case DROP -> throw new IllegalArgumentException("no header for a dropped frame");
        }
        h.numBuffers = numBuffers;
    }

    private RxVerdict drop() {
        reason = DropReason.RX_BAD_HEADER;
        return RxVerdict.DROP;
    }
}
