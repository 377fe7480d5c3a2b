package org.jvmd.virtio.net;

import static org.jvmd.virtio.net.VirtioNetFeatures.CSUM;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_ECN;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_TSO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_TSO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_UFO;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_USO;
import static org.jvmd.virtio.net.VirtioNetFeatures.bit;
import static org.jvmd.virtio.net.VirtioNetHdr.F_NEEDS_CSUM;
import static org.jvmd.virtio.net.VirtioNetHdr.GSO_ECN;
import static org.jvmd.virtio.net.VirtioNetHdr.GSO_NONE;
import static org.jvmd.virtio.net.VirtioNetHdr.GSO_TCPV4;
import static org.jvmd.virtio.net.VirtioNetHdr.GSO_TCPV6;
import static org.jvmd.virtio.net.VirtioNetHdr.GSO_UDP;
import static org.jvmd.virtio.net.VirtioNetHdr.GSO_UDP_L4;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TxValidatorTest {
    static final long ALL_HOST = bit(CSUM) | bit(HOST_TSO4) | bit(HOST_TSO6) | bit(HOST_ECN) | bit(HOST_USO) | bit(HOST_UFO);
    static final TapOffloads LINUX_TAP = TapOffloads.fromTunFlags(TunFlags.ALL, 128);

    private final TxValidator all = new TxValidator(ALL_HOST, LINUX_TAP);

    private static VirtioNetHdr hdr(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset) {
        VirtioNetHdr h = new VirtioNetHdr();
        h.flags = flags;
        h.gsoType = gsoType;
        h.hdrLen = hdrLen;
        h.gsoSize = gsoSize;
        h.csumStart = csumStart;
        h.csumOffset = csumOffset;
        return h;
    }

    private static VirtioNetHdr tso4(int gsoSize) {
        return hdr(F_NEEDS_CSUM, GSO_TCPV4, 66, gsoSize, 34, 16);
    }

    private void assertDrop(TxValidator v, VirtioNetHdr h, int len, DropReason reason) {
        assertEquals(TxVerdict.DROP, v.check(h, len), h::toString);
        assertEquals(reason, v.dropReason(), h::toString);
    }

    // ---- Linux tun_get_user() / tun_vnet_hdr_get() ----

    @Test
    void plainFrameWithoutOffloadPasses() {
        assertEquals(TxVerdict.PASS, all.check(new VirtioNetHdr(), 60));
        assertEquals(DropReason.NONE, all.dropReason());
    }

    @Test
    void frameShorterThanAnEthernetHeaderIsDropped() {
        assertDrop(all, new VirtioNetHdr(), 13, DropReason.FRAME_TOO_SHORT);
        assertEquals(TxVerdict.PASS, all.check(new VirtioNetHdr(), 14));
    }

    @Test
    void hdrLenBeyondTheFrameIsDropped() {
        assertDrop(all, hdr(0, GSO_NONE, 61, 0, 0, 0), 60, DropReason.HDR_LEN_BEYOND_FRAME);
        assertEquals(TxVerdict.PASS, all.check(hdr(0, GSO_NONE, 60, 0, 0, 0), 60));
    }

    @Test
    void hdrLenShorterThanAnEthernetHeaderIsDroppedButZeroIsFine() {
        assertDrop(all, hdr(0, GSO_NONE, 13, 0, 0, 0), 60, DropReason.HDR_LEN_TOO_SHORT);
        assertEquals(TxVerdict.PASS, all.check(hdr(0, GSO_NONE, 0, 0, 0, 0), 60));
    }

    @Test
    void needsCsumRaisesHdrLenToCoverTheChecksumField() {
        // tun_vnet_hdr_get(): hdr_len = max(hdr_len, csum_start + csum_offset + 2) must fit.
        assertDrop(all, hdr(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, 16), 51, DropReason.HDR_LEN_BEYOND_FRAME);
        assertEquals(TxVerdict.PASS, all.check(hdr(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, 16), 52));
    }

    // ---- negotiation ----

    @Test
    void needsCsumWithoutTheCsumFeatureIsDropped() {
        TxValidator none = new TxValidator(0, LINUX_TAP);
        assertDrop(none, hdr(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, 16), 100, DropReason.CSUM_NOT_NEGOTIATED);
    }

    @Test
    void gsoWithoutTheMatchingHostFeatureIsDropped() {
        long csumOnly = bit(CSUM);
        TxValidator v = new TxValidator(csumOnly, LINUX_TAP);
        assertDrop(v, tso4(1448), 3000, DropReason.GSO_NOT_NEGOTIATED);
        assertDrop(v, hdr(F_NEEDS_CSUM, GSO_TCPV6, 74, 1428, 54, 16), 3000, DropReason.GSO_NOT_NEGOTIATED);
        assertDrop(v, hdr(F_NEEDS_CSUM, GSO_UDP_L4, 42, 1000, 34, 6), 3000, DropReason.GSO_NOT_NEGOTIATED);
        assertDrop(v, hdr(F_NEEDS_CSUM, GSO_UDP, 42, 1000, 34, 6), 3000, DropReason.GSO_NOT_NEGOTIATED);
        // Each HOST_ feature allows exactly its own type.
        TxValidator only4 = new TxValidator(csumOnly | bit(HOST_TSO4), LINUX_TAP);
        assertEquals(TxVerdict.PASS, only4.check(tso4(1448), 3000));
        assertDrop(only4, hdr(F_NEEDS_CSUM, GSO_TCPV6, 74, 1428, 54, 16), 3000, DropReason.GSO_NOT_NEGOTIATED);
    }

    @Test
    void ecnBitWithoutHostEcnIsDropped() {
        TxValidator v = new TxValidator(bit(CSUM) | bit(HOST_TSO4), LINUX_TAP);
        VirtioNetHdr h = tso4(1448);
        h.gsoType |= GSO_ECN;
        assertDrop(v, h, 3000, DropReason.ECN_NOT_NEGOTIATED);
        assertEquals(TxVerdict.PASS, all.check(h, 3000));
    }

    // ---- Linux __virtio_net_hdr_to_skb() ----

    @ParameterizedTest
    @ValueSource(ints = {2, 6, 7, 0x40, 0x7F, GSO_ECN, GSO_ECN | 2, 0xFF})
    void unknownGsoTypeIsDropped(int gsoType) {
        assertDrop(all, hdr(F_NEEDS_CSUM, gsoType, 66, 1448, 34, 16), 3000, DropReason.UNKNOWN_GSO_TYPE);
    }

    @Test
    void gsoSizeZeroIsDropped() {
        assertDrop(all, tso4(0), 3000, DropReason.GSO_SIZE_ZERO);
    }

    @Test
    void gsoSizeByFragsIsDropped() {
        assertDrop(all, tso4(0xFFFF), 3000, DropReason.GSO_SIZE_BY_FRAGS);
    }

    @Test
    void csumStartInsideAMinimalIpv4HeaderIsDropped() {
        // Linux counts from the start of the frame: csum_start >= sizeof(struct iphdr).
        assertDrop(all, hdr(F_NEEDS_CSUM, GSO_NONE, 0, 0, 19, 6), 100, DropReason.CSUM_START_BEFORE_L4);
        assertEquals(TxVerdict.PASS, all.check(hdr(F_NEEDS_CSUM, GSO_NONE, 0, 0, 20, 6), 100));
    }

    @Test
    void csumStartOfTcpv6MustLeaveRoomForAnIpv6Header() {
        assertDrop(all, hdr(F_NEEDS_CSUM, GSO_TCPV6, 0, 1000, 39, 16), 3000, DropReason.CSUM_START_BEFORE_L4);
        assertEquals(TxVerdict.PASS, all.check(hdr(F_NEEDS_CSUM, GSO_TCPV6, 0, 1000, 40, 16), 3000));
    }

    @Test
    void checksumAreaOrL4HeaderBeyondTheFrameIsDropped() {
        // csum_start + max(sizeof(tcphdr), csum_offset + 2) must be inside the frame.
        VirtioNetHdr h = hdr(F_NEEDS_CSUM, GSO_TCPV4, 0, 1000, 34, 16);
        assertDrop(all, h, 53, DropReason.CSUM_OUTSIDE_FRAME);
        assertEquals(TxVerdict.PASS, all.check(h, 54));
        assertDrop(all, hdr(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, 100), 135, DropReason.HDR_LEN_BEYOND_FRAME);
    }

    @Test
    void gsoWithoutNeedsCsumNeedsRoomForMinimalHeaders() {
        // A tap skb has no network header yet: Linux requires nh_min_len + thlen bytes.
        VirtioNetHdr h = hdr(0, GSO_TCPV4, 0, 1000, 0, 0);
        assertDrop(all, h, 39, DropReason.GSO_HEADERS_BEYOND_FRAME);
        assertEquals(TxVerdict.PASS, all.check(h, 40));
        assertEquals(40, all.l4End());
    }

    @Test
    void tcpGsoWithACsumOffsetOtherThanTheTcpChecksumIsDropped() {
        assertDrop(all, hdr(F_NEEDS_CSUM, GSO_TCPV4, 0, 1448, 34, 6), 3000, DropReason.GSO_CSUM_OFFSET_MISMATCH);
        assertDrop(all, hdr(F_NEEDS_CSUM, GSO_TCPV6, 0, 1448, 54, 18), 3000, DropReason.GSO_CSUM_OFFSET_MISMATCH);
    }

    @Test
    void usoWithACsumOffsetOtherThanTheUdpChecksumIsDropped() {
        assertDrop(all, hdr(F_NEEDS_CSUM, GSO_UDP_L4, 0, 1000, 34, 16), 3000, DropReason.GSO_CSUM_OFFSET_MISMATCH);
    }

    @Test
    void usoWithoutNeedsCsumIsDropped() {
        assertDrop(all, hdr(0, GSO_UDP_L4, 0, 1000, 0, 0), 3000, DropReason.USO_WITHOUT_CSUM);
    }

    @Test
    void usoWithTheEcnBitIsDropped() {
        assertDrop(all, hdr(F_NEEDS_CSUM, GSO_UDP_L4 | GSO_ECN, 0, 1000, 34, 6), 3000, DropReason.USO_WITH_ECN);
    }

    @Test
    void usoWithMoreThan128SegmentsIsDropped() {
        // p_off = 34 + 8; payload 128 * 100 is fine, one byte more is not.
        VirtioNetHdr h = hdr(F_NEEDS_CSUM, GSO_UDP_L4, 0, 100, 34, 6);
        assertEquals(TxVerdict.PASS, all.check(h, 42 + 12800));
        assertDrop(all, h, 42 + 12801, DropReason.USO_TOO_MANY_SEGMENTS);
    }

    // ---- verdicts ----

    @Test
    void tsoFramePassesWhenTheTapTakesTso() {
        assertEquals(TxVerdict.PASS, all.check(tso4(1448), 65000));
        assertTrue(all.realGso());
        assertEquals(54, all.l4End());
    }

    @Test
    void tsoFrameIsSegmentedWhenTheTapLacksTso() {
        TxValidator v = new TxValidator(ALL_HOST, TapOffloads.fromTunFlags(TunFlags.CSUM | TunFlags.TSO6));
        assertEquals(TxVerdict.SEGMENT, v.check(tso4(1448), 65000));
    }

    @Test
    void ecnTsoFrameIsSegmentedWhenTheTapLacksEcn() {
        TxValidator v = new TxValidator(ALL_HOST, TapOffloads.fromTunFlags(TunFlags.CSUM | TunFlags.TSO4));
        VirtioNetHdr h = tso4(1448);
        h.gsoType |= GSO_ECN;
        assertEquals(TxVerdict.SEGMENT, v.check(h, 65000));
        h.gsoType = GSO_TCPV4;
        assertEquals(TxVerdict.PASS, v.check(h, 65000));
    }

    @Test
    void partialChecksumIsFinishedWhenTheTapLacksCsum() {
        TxValidator v = new TxValidator(ALL_HOST, TapOffloads.NONE);
        assertEquals(TxVerdict.FINISH_CSUM, v.check(hdr(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, 16), 100));
        assertEquals(TxVerdict.PASS, v.check(new VirtioNetHdr(), 100));
    }

    @Test
    void gsoFrameTooSmallToSegmentIsSentPlainWhenTheTapLacksTheType() {
        TxValidator v = new TxValidator(ALL_HOST, TapOffloads.fromTunFlags(TunFlags.CSUM));
        // 54 bytes of headers + 1000 payload with gso_size 1448: not really GSO.
        assertEquals(TxVerdict.FINISH_CSUM, v.check(tso4(1448), 1054));
        assertTrue(!v.realGso());
        // On a tap that knows TSO it passes as is (Linux ignores gso for it).
        assertEquals(TxVerdict.PASS, all.check(tso4(1448), 1054));
    }

    @Test
    void usoWithMoreSegmentsThanTheTapTakesIsSegmented() {
        TxValidator v = new TxValidator(ALL_HOST, TapOffloads.fromTunFlags(TunFlags.ALL, 64));
        VirtioNetHdr h = hdr(F_NEEDS_CSUM, GSO_UDP_L4, 0, 100, 34, 6);
        assertEquals(TxVerdict.PASS, v.check(h, 42 + 6400));
        assertEquals(TxVerdict.SEGMENT, v.check(h, 42 + 6401));
    }

    @Test
    void ufoPassesOnlyWhereTheTapTakesUfo() {
        VirtioNetHdr h = hdr(F_NEEDS_CSUM, GSO_UDP, 0, 1000, 34, 6);
        assertEquals(TxVerdict.PASS, all.check(h, 5000));
        TxValidator v = new TxValidator(ALL_HOST, TapOffloads.fromTunFlags(TunFlags.CSUM | TunFlags.TSO4));
        assertDrop(v, h, 5000, DropReason.UFO_UNSUPPORTED);
    }

    @Test
    void dataValidOnTransmitIsIgnored() {
        assertEquals(TxVerdict.PASS, all.check(hdr(VirtioNetHdr.F_DATA_VALID, GSO_NONE, 0, 0, 0, 0), 60));
    }

    // ---- properties ----

    @Property(tries = 2000)
    void validatorNeverThrowsAndAcceptsOnlyWhatLinuxAccepts(@ForAll @Size(12) byte[] raw,
                                                            @ForAll @IntRange(max = 70000) int len,
                                                            @ForAll long features,
                                                            @ForAll @IntRange(max = 0x7F) int tapFlags) {
        VirtioNetHdr h = new VirtioNetHdr().read(raw, 0, VirtioNetHdr.SIZE);
        TxValidator v = new TxValidator(features, TapOffloads.fromTunFlags(tapFlags, 128));
        TxVerdict verdict = v.check(h, len);
        boolean linux = LinuxModel.accepts(h, len);
        boolean negotiated = negotiated(h, features);
        if (verdict == TxVerdict.DROP) {
            assertTrue(v.dropReason() != DropReason.NONE);
            assertTrue(!linux || !negotiated || v.dropReason() == DropReason.UFO_UNSUPPORTED,
                () -> "dropped " + v.dropReason() + " but Linux accepts " + h + " len " + len);
        } else {
            assertEquals(DropReason.NONE, v.dropReason());
            assertTrue(linux && negotiated, () -> verdict + " but Linux refuses " + h + " len " + len);
        }
    }

    @Property(tries = 3000)
    void validatorAgreesWithLinuxOnPlausibleHeaders(@ForAll @IntRange(max = 3) int flags,
                                                    @ForAll("gsoTypes") int gsoType,
                                                    @ForAll @IntRange(max = 200) int hdrLen,
                                                    @ForAll @IntRange(max = 3000) int gsoSize,
                                                    @ForAll @IntRange(max = 120) int csumStart,
                                                    @ForAll @IntRange(max = 24) int csumOffset,
                                                    @ForAll @IntRange(max = 9000) int len) {
        VirtioNetHdr h = hdr(flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset);
        TxVerdict verdict = all.check(h, len);
        assertEquals(LinuxModel.accepts(h, len), verdict != TxVerdict.DROP, () -> h + " len " + len + " " + all.dropReason());
    }

    @Property(tries = 200)
    void headersADriverWritesForWellFormedFramesAreAcceptedAndSegmentable(
            @ForAll @IntRange(max = 2) int vlans,
            @ForAll boolean ipv6,
            @ForAll boolean udp,
            @ForAll @IntRange(max = 10) int options,
            @ForAll @IntRange(max = 6000) int payloadLen,
            @ForAll @IntRange(min = 500, max = 9000) int mss) {
        TestFrames t = new TestFrames();
        t.vlanTags = vlans;
        t.ipVersion = ipv6 ? 6 : 4;
        t.l4 = udp ? TestFrames.UDP : TestFrames.TCP;
        t.ipv4OptionWords = ipv6 ? 0 : options;
        t.tcpOptionWords = options;
        byte[] f = t.payload(payloadLen, payloadLen).build();
        VirtioNetHdr h = t.gsoHeader(mss);
        assertEquals(TxVerdict.PASS, all.check(h, f.length), () -> all.dropReason().toString());
        TxValidator software = new TxValidator(ALL_HOST, TapOffloads.NONE);
        TxVerdict v = software.check(h, f.length);
        // Linux measures "really GSO" with a minimal L4 header, so a frame with TCP options
        // and a payload just under gso_size may still count as GSO (and gives one segment).
        if (payloadLen > mss) {
            assertEquals(TxVerdict.SEGMENT, v);
        } else {
            assertTrue(v == TxVerdict.SEGMENT || v == TxVerdict.FINISH_CSUM, v::toString);
        }
        int[] off = new int[64];
        int[] len = new int[64];
        int n = new Segmenter().segment(h, f, 0, f.length, new byte[2 * f.length + 64 * 200], 0, 12, off, len);
        assertTrue(n >= 1, () -> "segmenter dropped what the validator accepted");
    }

    @net.jqwik.api.Provide
    net.jqwik.api.Arbitrary<Integer> gsoTypes() {
        return net.jqwik.api.Arbitraries.of(0, 1, 2, 3, 4, 5, 6, 0x80, 0x81, 0x83, 0x84, 0x85);
    }

    private static boolean negotiated(VirtioNetHdr h, long f) {
        if (h.needsCsum() && (f & bit(CSUM)) == 0) {
            return false;
        }
        if (h.gsoType == GSO_NONE) {
            return true;
        }
        int need = switch (h.gsoType & 0x7F) {
            case GSO_TCPV4 -> HOST_TSO4;
            case GSO_TCPV6 -> HOST_TSO6;
            case GSO_UDP -> HOST_UFO;
            case GSO_UDP_L4 -> HOST_USO;
            default -> -1;
        };
        if (need < 0) {
            return true; // Linux refuses it anyway
        }
        return (f & bit(need)) != 0 && ((h.gsoType & GSO_ECN) == 0 || (f & bit(HOST_ECN)) != 0);
    }

    /**
     * A second, literal transcription of tun_vnet_hdr_get() + tun_get_user() +
     * __virtio_net_hdr_to_skb() (Linux 6.x, tap, network header unset), written in the
     * kernel's own control flow, as the oracle for the properties above.
     */
    static final class LinuxModel {
        static boolean accepts(VirtioNetHdr hdr, int len) {
            // tun_vnet_hdr_get
            int hdrLen = hdr.hdrLen;
            if ((hdr.flags & 1) != 0) {
                hdrLen = Math.max(hdr.csumStart + hdr.csumOffset + 2, hdrLen);
            }
            if (hdrLen > len) {
                return false;
            }
            // tun_get_user, IFF_TAP
            if (len < 14 || (hdrLen != 0 && hdrLen < 14)) {
                return false;
            }
            // __virtio_net_hdr_to_skb
            int nhMinLen = 20;
            int gsoType = 0;
            int thlen = 0;
            int pOff = 0;
            final int skbTcpv4 = 1;
            final int skbUdp = 2;
            final int skbTcpv6 = 4;
            final int skbUdpL4 = 8;
            final int skbEcn = 16;
            if (hdr.gsoType != 0) {
                switch (hdr.gsoType & ~0x80) {
                    case 1: gsoType = skbTcpv4; thlen = 20; break;
                    case 4: gsoType = skbTcpv6; thlen = 20; nhMinLen = 40; break;
                    case 3: gsoType = skbUdp; thlen = 8; break;
                    case 5: gsoType = skbUdpL4; thlen = 8; break;
                    default: return false;
                }
                if ((hdr.gsoType & 0x80) != 0) {
                    gsoType |= skbEcn;
                }
                if (hdr.gsoSize == 0) {
                    return false;
                }
            }
            if ((hdr.flags & 1) != 0) {
                int start = hdr.csumStart;
                int off = hdr.csumOffset;
                int needed = start + Math.max(thlen, off + 2);
                if (needed > len) {
                    return false;
                }
                // skb_partial_csum_set
                if (start + off + 2 > len) {
                    return false;
                }
                if (start < nhMinLen) {
                    return false;
                }
                nhMinLen = start;
                pOff = nhMinLen + thlen;
                if (pOff > len) {
                    return false;
                }
            } else if (gsoType != 0) {
                pOff = nhMinLen + thlen;
                if (pOff > len) {
                    return false;
                }
            }
            if (hdr.gsoType != 0) {
                switch (gsoType & ~skbEcn) {
                    case skbUdp:
                        break;
                    case skbUdpL4:
                        if ((hdr.flags & 1) == 0) {
                            return false;
                        }
                        if (hdr.csumOffset != 6) {
                            return false;
                        }
                        if (len - pOff > hdr.gsoSize * 128) {
                            return false;
                        }
                        if (gsoType != skbUdpL4) {
                            return false;
                        }
                        break;
                    default:
                        if ((hdr.flags & 1) != 0 && hdr.csumOffset != 16) {
                            return false;
                        }
                }
                if (hdr.gsoSize == 0xFFFF) {
                    return false;
                }
            }
            return true;
        }
    }
}
