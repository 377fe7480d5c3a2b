package org.jvmd.virtio.net;

/**
 * What the tap's <em>write</em> path takes as is, so TX can pass a guest header through
 * instead of finishing the checksum or segmenting in software.
 *
 * <p>On Linux, a frame written to an {@code IFF_VNET_HDR} tap goes through
 * {@code virtio_net_hdr_to_skb()}, which accepts every GSO type the kernel knows whatever
 * {@code TUNSETOFFLOAD} says ({@code TUNSETOFFLOAD} governs the reader side). What varies is
 * which types the running kernel knows: a kernel knows USO on write exactly when it takes
 * {@link TunFlags#USO4}|{@link TunFlags#USO6} in {@code TUNSETOFFLOAD} (both came in 6.2).
 * So vmd probes the flags the kernel supports once, and {@link #fromTunFlags} maps that set
 * to what TX may pass through.
 *
 * <p>Immutable; built when the tap is configured, never per packet.
 */
public final class TapOffloads {
    /**
     * Linux {@code UDP_MAX_SEGMENTS} was 64 until 6.8 and is 128 since 6.9
     * (include/linux/udp.h). A USO frame with more segments than the running kernel allows
     * is refused with EINVAL, so pass-through is bounded by the older value unless told.
     */
    public static final int LINUX_UDP_MAX_SEGMENTS_BEFORE_6_9 = 64;

    /** A tap that takes nothing: every offload is done in software. */
    public static final TapOffloads NONE = new TapOffloads(false, false, false, false, false, false, 0);

    private final boolean csum;
    private final boolean tso4;
    private final boolean tso6;
    private final boolean tsoEcn;
    private final boolean ufo;
    private final boolean uso;
    private final int udpMaxSegments;

    private TapOffloads(boolean csum, boolean tso4, boolean tso6, boolean tsoEcn, boolean ufo,
                        boolean uso, int udpMaxSegments) {
        this.csum = csum;
        this.tso4 = tso4;
        this.tso6 = tso6;
        this.tsoEcn = tsoEcn;
        this.ufo = ufo;
        this.uso = uso;
        this.udpMaxSegments = udpMaxSegments;
    }

    /**
     * The write-path capabilities of a tap whose kernel supports the {@code TUN_F_*} flags
     * {@code supportedTunFlags}, with a USO frame limit of
     * {@link #LINUX_UDP_MAX_SEGMENTS_BEFORE_6_9} segments. Partial checksums are the base of
     * every offload: without {@link TunFlags#CSUM} nothing passes.
     */
    public static TapOffloads fromTunFlags(int supportedTunFlags) {
        return fromTunFlags(supportedTunFlags, LINUX_UDP_MAX_SEGMENTS_BEFORE_6_9);
    }

    /** As {@link #fromTunFlags(int)}, with the kernel's {@code UDP_MAX_SEGMENTS}. */
    public static TapOffloads fromTunFlags(int supportedTunFlags, int udpMaxSegments) {
        if (udpMaxSegments < 0) {
            throw new IllegalArgumentException("udpMaxSegments " + udpMaxSegments);
        }
        boolean csum = (supportedTunFlags & TunFlags.CSUM) != 0;
        boolean tso4 = csum && (supportedTunFlags & TunFlags.TSO4) != 0;
        boolean tso6 = csum && (supportedTunFlags & TunFlags.TSO6) != 0;
        boolean ecn = (tso4 || tso6) && (supportedTunFlags & TunFlags.TSO_ECN) != 0;
        boolean ufo = csum && (supportedTunFlags & TunFlags.UFO) != 0;
        int usoBits = TunFlags.USO4 | TunFlags.USO6;
        boolean uso = csum && (supportedTunFlags & usoBits) == usoBits;
        return new TapOffloads(csum, tso4, tso6, ecn, ufo, uso, uso ? udpMaxSegments : 0);
    }

    public boolean csum() {
        return csum;
    }

    public boolean tso4() {
        return tso4;
    }

    public boolean tso6() {
        return tso6;
    }

    public boolean tsoEcn() {
        return tsoEcn;
    }

    public boolean ufo() {
        return ufo;
    }

    public boolean uso() {
        return uso;
    }

    /** The most segments a USO frame may carry to pass through (0 without USO). */
    public int udpMaxSegments() {
        return udpMaxSegments;
    }

    @Override
    public String toString() {
        return "TapOffloads[csum=" + csum + ", tso4=" + tso4 + ", tso6=" + tso6 + ", ecn=" + tsoEcn
            + ", ufo=" + ufo + ", uso=" + uso + ", udpMaxSegments=" + udpMaxSegments + "]";
    }
}
