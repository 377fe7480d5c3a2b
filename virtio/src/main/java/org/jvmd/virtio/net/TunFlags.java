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
 * The Linux {@code TUNSETOFFLOAD} flags (include/uapi/linux/if_tun.h) and the pure mapping
 * from the features the guest acked to the flags vmd applies to the tap: the content of a
 * {@code TunCapabilities} message (vmd's TUNSCAP).
 *
 * <p>{@code TUNSETOFFLOAD} sets what the kernel may hand to the tap's <em>reader</em>, that
 * is, to the guest's receive queue. So only the GUEST_* bits count; HOST_* bits describe the
 * other direction and never reach the tap.
 */
public final class TunFlags {
    private TunFlags() {}

    /** The reader can take partial checksums (NEEDS_CSUM). */
    public static final int CSUM = 0x01;
    /** The reader can take TSOv4 frames. */
    public static final int TSO4 = 0x02;
    /** The reader can take TSOv6 frames. */
    public static final int TSO6 = 0x04;
    /** The reader can take TSO frames with ECN (CWR) set. */
    public static final int TSO_ECN = 0x08;
    /** The reader can take UFO frames (accepted and ignored by Linux 6.x). */
    public static final int UFO = 0x10;
    /** The reader can take USOv4 frames (Linux 6.2+). */
    public static final int USO4 = 0x20;
    /** The reader can take USOv6 frames (Linux 6.2+). */
    public static final int USO6 = 0x40;

    /** Every flag this code knows. */
    public static final int ALL = CSUM | TSO4 | TSO6 | TSO_ECN | UFO | USO4 | USO6;

    /**
     * The {@code TUNSETOFFLOAD} argument for a guest that acked {@code ackedFeatures}. Always
     * a value Linux's tun {@code set_offload()} accepts without EINVAL:
     * <ul>
     *   <li>every bit needs {@link #CSUM}: set_offload() only clears the other bits inside
     *       {@code if (arg & TUN_F_CSUM)}, so without it they are left over and refused
     *       (and virtio 1.2 §5.1.3.1: GUEST_TSO4/6, GUEST_UFO, GUEST_USO4/6 require GUEST_CSUM);</li>
     *   <li>{@link #TSO_ECN} only with TSO4 or TSO6 (set_offload() clears it only inside
     *       {@code if (arg & (TUN_F_TSO4|TUN_F_TSO6))}; virtio: GUEST_ECN requires GUEST_TSO4 or 6);</li>
     *   <li>{@link #USO4} and {@link #USO6} together or not at all ("for now USO4 and USO6
     *       should work simultaneously"; one alone is left over and refused).</li>
     * </ul>
     */
    public static int forGuest(long ackedFeatures) {
        if (!has(ackedFeatures, GUEST_CSUM)) {
            return 0;
        }
        int flags = CSUM;
        if (has(ackedFeatures, GUEST_TSO4)) {
            flags |= TSO4;
        }
        if (has(ackedFeatures, GUEST_TSO6)) {
            flags |= TSO6;
        }
        if ((flags & (TSO4 | TSO6)) != 0 && has(ackedFeatures, GUEST_ECN)) {
            flags |= TSO_ECN;
        }
        if (has(ackedFeatures, GUEST_UFO)) {
            flags |= UFO;
        }
        if (has(ackedFeatures, GUEST_USO4) && has(ackedFeatures, GUEST_USO6)) {
            flags |= USO4 | USO6;
        }
        return flags;
    }

    /**
     * True if Linux's tun {@code set_offload()} takes {@code flags} without EINVAL (the rules
     * listed at {@link #forGuest}).
     */
    public static boolean acceptedByLinux(int flags) {
        if ((flags & ~ALL) != 0) {
            return false;
        }
        if ((flags & CSUM) == 0) {
            return flags == 0;
        }
        if ((flags & TSO_ECN) != 0 && (flags & (TSO4 | TSO6)) == 0) {
            return false;
        }
        int uso = flags & (USO4 | USO6);
        return uso == 0 || uso == (USO4 | USO6);
    }
}
