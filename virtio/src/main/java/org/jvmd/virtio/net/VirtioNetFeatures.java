package org.jvmd.virtio.net;

/**
 * Feature bits of the network device (virtio 1.2 §5.1.3; USO bits from virtio 1.3 §5.1.3,
 * as in Linux {@code include/uapi/linux/virtio_net.h}). Each constant is the bit number;
 * {@link #bit(int)} turns it into a mask for a 64-bit feature word.
 *
 * <p>Also holds the feature dependencies of virtio 1.2 §5.1.3.1 that matter to the offload
 * engine: a driver must not accept a feature without the ones it requires.
 */
public final class VirtioNetFeatures {
    private VirtioNetFeatures() {}

    /** Device handles packets with partial checksum (TX checksum offload). */
    public static final int CSUM = 0;
    /** Driver handles packets with partial checksum (RX checksum offload). */
    public static final int GUEST_CSUM = 1;
    /** Control channel offloads reconfiguration (VIRTIO_NET_CTRL_GUEST_OFFLOADS). */
    public static final int CTRL_GUEST_OFFLOADS = 2;
    /** Device maximum MTU reporting is supported (virtio_net_config.mtu). */
    public static final int MTU = 3;
    /** Device has given MAC address. */
    public static final int MAC = 5;
    /** Legacy only: device handles packets with any GSO type. */
    public static final int GSO = 6;
    /** Driver can receive TSOv4. */
    public static final int GUEST_TSO4 = 7;
    /** Driver can receive TSOv6. */
    public static final int GUEST_TSO6 = 8;
    /** Driver can receive TSO with ECN. */
    public static final int GUEST_ECN = 9;
    /** Driver can receive UFO. */
    public static final int GUEST_UFO = 10;
    /** Device can receive TSOv4. */
    public static final int HOST_TSO4 = 11;
    /** Device can receive TSOv6. */
    public static final int HOST_TSO6 = 12;
    /** Device can receive TSO with ECN. */
    public static final int HOST_ECN = 13;
    /** Device can receive UFO. */
    public static final int HOST_UFO = 14;
    /** Driver can merge receive buffers. */
    public static final int MRG_RXBUF = 15;
    /** Configuration status field is available. */
    public static final int STATUS = 16;
    /** Control channel is available. */
    public static final int CTRL_VQ = 17;
    /** Control channel RX mode support. */
    public static final int CTRL_RX = 18;
    /** Control channel VLAN filtering. */
    public static final int CTRL_VLAN = 19;
    /** Control channel extra RX modes. */
    public static final int CTRL_RX_EXTRA = 20;
    /** Driver can send gratuitous packets. */
    public static final int GUEST_ANNOUNCE = 21;
    /** Device supports multiqueue with automatic receive steering. */
    public static final int MQ = 22;
    /** Set MAC address through the control channel. */
    public static final int CTRL_MAC_ADDR = 23;
    /** Driver can receive USOv4 packets (virtio 1.3 §5.1.3). */
    public static final int GUEST_USO4 = 54;
    /** Driver can receive USOv6 packets (virtio 1.3 §5.1.3). */
    public static final int GUEST_USO6 = 55;
    /** Device can receive USO packets (virtio 1.3 §5.1.3). */
    public static final int HOST_USO = 56;
    /** Device can report per-packet hash (changes the header size; not supported here). */
    public static final int HASH_REPORT = 57;
    /** Driver provides the exact hdr_len value. */
    public static final int GUEST_HDRLEN = 59;
    /** Device supports RSS. */
    public static final int RSS = 60;
    /** Device can process duplicated ACKs and report coalescing info (RSC_INFO). */
    public static final int RSC_EXT = 61;
    /** Device may act as a standby for a primary device with the same MAC. */
    public static final int STANDBY = 62;
    /** Device reports speed and duplex. */
    public static final int SPEED_DUPLEX = 63;

    /** VIRTIO_F_VERSION_1 (virtio 1.2 §6): the header is always 12 bytes (§5.1.6). */
    public static final int VERSION_1 = 32;

    /**
     * The offloads VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET can switch at run time (virtio 1.2
     * §5.1.6.5.6.1; USO4/6 from virtio 1.3): GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN, GUEST_UFO,
     * GUEST_USO4/6.
     */
    public static final long GUEST_OFFLOADS = bit(GUEST_CSUM) | bit(GUEST_TSO4) | bit(GUEST_TSO6)
        | bit(GUEST_ECN) | bit(GUEST_UFO) | bit(GUEST_USO4) | bit(GUEST_USO6);

    /**
     * True if VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET may set {@code requested}: only
     * GUEST_OFFLOADS bits, each of them negotiated (§5.1.6.5.6.2: "A driver MUST NOT enable
     * an offload for which the appropriate feature has not been negotiated"). Otherwise the
     * device answers VIRTIO_NET_ERR and keeps its state.
     */
    public static boolean guestOffloadsAllowed(long ackedFeatures, long requested) {
        return (requested & ~(ackedFeatures & GUEST_OFFLOADS)) == 0;
    }

    /**
     * The feature word the receive path works from after an allowed
     * VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET: {@code ackedFeatures} with its GUEST_OFFLOADS bits
     * replaced by {@code requested}.
     */
    public static long withGuestOffloads(long ackedFeatures, long requested) {
        if (!guestOffloadsAllowed(ackedFeatures, requested)) {
            throw new IllegalArgumentException("offloads 0x" + Long.toHexString(requested)
                + " not negotiated in 0x" + Long.toHexString(ackedFeatures));
        }
        return (ackedFeatures & ~GUEST_OFFLOADS) | requested;
    }

    /** The mask of one feature bit. */
    public static long bit(int feature) {
        return 1L << feature;
    }

    /** True if {@code feature} is set in {@code features}. */
    public static boolean has(long features, int feature) {
        return (features & bit(feature)) != 0;
    }

    /**
     * The feature dependencies of virtio 1.2 §5.1.3.1 ("The driver MUST NOT accept a feature
     * which the device did not offer, and MUST NOT accept a feature which requires another
     * feature which was not accepted"). Returns the first bit whose requirement is missing,
     * or -1 when the set is consistent.
     */
    public static int firstUnmetDependency(long features) {
        int[][] rules = DEPENDENCIES;
        for (int[] rule : rules) {
            int feature = rule[0];
            if (!has(features, feature)) {
                continue;
            }
            boolean met = false;
            for (int i = 1; i < rule.length; i++) {
                met |= has(features, rule[i]);
            }
            if (!met) {
                return feature;
            }
        }
        return -1;
    }

    /** {feature, any-of required...}: virtio 1.2 §5.1.3.1 (USO: virtio 1.3 §5.1.3.1). */
    private static final int[][] DEPENDENCIES = {
        {GUEST_TSO4, GUEST_CSUM},
        {GUEST_TSO6, GUEST_CSUM},
        {GUEST_ECN, GUEST_TSO4, GUEST_TSO6},
        {GUEST_UFO, GUEST_CSUM},
        {GUEST_USO4, GUEST_CSUM},
        {GUEST_USO6, GUEST_CSUM},
        {HOST_TSO4, CSUM},
        {HOST_TSO6, CSUM},
        {HOST_ECN, HOST_TSO4, HOST_TSO6},
        {HOST_UFO, CSUM},
        {HOST_USO, CSUM},
        {CTRL_RX, CTRL_VQ},
        {CTRL_VLAN, CTRL_VQ},
        {GUEST_ANNOUNCE, CTRL_VQ},
        {MQ, CTRL_VQ},
        {CTRL_MAC_ADDR, CTRL_VQ},
        {RSC_EXT, HOST_TSO4, HOST_TSO6},
        {RSS, CTRL_VQ},
    };
}
