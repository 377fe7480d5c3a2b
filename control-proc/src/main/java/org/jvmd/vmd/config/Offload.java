package org.jvmd.vmd.config;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The virtio-net features an interface's {@code offload} statement chooses, each mapped to the
 * feature bits offered to the guest (virtio 1.2 §5.1.3 for the VIRTIO_NET_F_* bits, §6 for the
 * reserved VIRTIO_F_* ring bits). A name covers both directions: {@code tso4} offers the
 * guest both HOST_TSO4 (it may send TSO frames) and GUEST_TSO4 (it accepts them).
 *
 * <p>{@code offload on} offers {@link #ON}, {@code offload off} offers {@link #OFF} (no
 * offloads, the ring features stay), and a list offers exactly the features named.
 */
public enum Offload {
    /** VIRTIO_NET_F_CSUM (0) and VIRTIO_NET_F_GUEST_CSUM (1). */
    CSUM("csum", Bits.CSUM | Bits.GUEST_CSUM),
    /** VIRTIO_NET_F_HOST_TSO4 (11) and VIRTIO_NET_F_GUEST_TSO4 (7). */
    TSO4("tso4", Bits.HOST_TSO4 | Bits.GUEST_TSO4),
    /** VIRTIO_NET_F_HOST_TSO6 (12) and VIRTIO_NET_F_GUEST_TSO6 (8). */
    TSO6("tso6", Bits.HOST_TSO6 | Bits.GUEST_TSO6),
    /** VIRTIO_NET_F_HOST_ECN (13) and VIRTIO_NET_F_GUEST_ECN (9). */
    ECN("ecn", Bits.HOST_ECN | Bits.GUEST_ECN),
    /** VIRTIO_NET_F_HOST_USO (56), VIRTIO_NET_F_GUEST_USO4 (54), VIRTIO_NET_F_GUEST_USO6 (55). */
    USO("uso", Bits.HOST_USO | Bits.GUEST_USO4 | Bits.GUEST_USO6),
    /** VIRTIO_NET_F_MRG_RXBUF (15). */
    MRG_RXBUF("mrg_rxbuf", Bits.MRG_RXBUF),
    /** VIRTIO_F_RING_EVENT_IDX (29). */
    EVENT_IDX("event_idx", Bits.RING_EVENT_IDX),
    /** VIRTIO_F_RING_INDIRECT_DESC (28). */
    INDIRECT("indirect", Bits.RING_INDIRECT_DESC),
    /** VIRTIO_NET_F_CTRL_VQ (17) and VIRTIO_NET_F_CTRL_GUEST_OFFLOADS (2). */
    CTRL_VQ("ctrl_vq", Bits.CTRL_VQ | Bits.CTRL_GUEST_OFFLOADS);

    /** {@code offload on}, also the default: every offload but USO, and the ring features. */
    public static final Set<Offload> ON = Collections.unmodifiableSet(
            EnumSet.of(CSUM, TSO4, TSO6, ECN, MRG_RXBUF, EVENT_IDX, INDIRECT, CTRL_VQ));
    /** {@code offload off}: no checksum or segmentation offload; the ring features stay. */
    public static final Set<Offload> OFF = Collections.unmodifiableSet(
            EnumSet.of(MRG_RXBUF, EVENT_IDX, INDIRECT, CTRL_VQ));

    private static final Map<String, Offload> BY_NAME = new TreeMap<>();

    static {
        for (Offload o : values()) {
            BY_NAME.put(o.word, o);
        }
    }

    /** The name in vm.conf. */
    public final String word;
    /** The feature bits this name offers. */
    public final long bits;

    Offload(String word, long bits) {
        this.word = word;
        this.bits = bits;
    }

    public static Optional<Offload> byName(String word) {
        return Optional.ofNullable(BY_NAME.get(word));
    }

    /** The names, sorted, for messages. */
    public static String names() {
        return String.join(", ", BY_NAME.keySet());
    }

    /** The feature bits of a set of offloads. */
    public static long bits(Set<Offload> offloads) {
        long b = 0;
        for (Offload o : offloads) {
            b |= o.bits;
        }
        return b;
    }

    /**
     * The first dependency a set breaks, as a message, following the feature requirements of
     * virtio 1.2 §5.1.3.1: TSO and USO need checksum offload, ECN needs TSO.
     */
    public static Optional<String> missingDependency(Set<Offload> offloads) {
        for (Offload o : new Offload[] {TSO4, TSO6, USO}) {
            if (offloads.contains(o) && !offloads.contains(CSUM)) {
                return Optional.of("offload " + o.word + " requires csum");
            }
        }
        if (offloads.contains(ECN) && !offloads.contains(TSO4) && !offloads.contains(TSO6)) {
            return Optional.of("offload ecn requires tso4 or tso6");
        }
        return Optional.empty();
    }

    /** Feature bit numbers, virtio 1.2 §5.1.3 (network device) and §6 (reserved bits). */
    static final class Bits {
        static final long CSUM = 1L << 0;
        static final long GUEST_CSUM = 1L << 1;
        static final long CTRL_GUEST_OFFLOADS = 1L << 2;
        static final long MTU = 1L << 3;
        static final long MAC = 1L << 5;
        static final long GUEST_TSO4 = 1L << 7;
        static final long GUEST_TSO6 = 1L << 8;
        static final long GUEST_ECN = 1L << 9;
        static final long HOST_TSO4 = 1L << 11;
        static final long HOST_TSO6 = 1L << 12;
        static final long HOST_ECN = 1L << 13;
        static final long MRG_RXBUF = 1L << 15;
        static final long STATUS = 1L << 16;
        static final long CTRL_VQ = 1L << 17;
        static final long RING_INDIRECT_DESC = 1L << 28;
        static final long RING_EVENT_IDX = 1L << 29;
        static final long VERSION_1 = 1L << 32;
        static final long GUEST_USO4 = 1L << 54;
        static final long GUEST_USO6 = 1L << 55;
        static final long HOST_USO = 1L << 56;

        private Bits() {
        }
    }
}
