package org.jvmd.virtio.net;

import static org.jvmd.virtio.net.OffloadFeaturesTest.f;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_CSUM;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_ECN;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_UFO;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_USO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_USO6;
import static org.jvmd.virtio.net.VirtioNetHdr.F_DATA_VALID;
import static org.jvmd.virtio.net.VirtioNetHdr.F_NEEDS_CSUM;
import static org.jvmd.virtio.net.VirtioNetHdr.F_RSC_INFO;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class RxOffloadPolicyTest {
    private static final long FULL = f(GUEST_CSUM, GUEST_TSO4, GUEST_TSO6, GUEST_ECN, GUEST_USO4, GUEST_USO6);
    private final RxOffloadPolicy none = new RxOffloadPolicy(0);
    private final RxOffloadPolicy csumOnly = new RxOffloadPolicy(f(GUEST_CSUM));
    private final RxOffloadPolicy full = new RxOffloadPolicy(FULL);

    private static VirtioNetHdr hdr(int flags, int gsoType, int gsoSize, int csumStart, int csumOffset) {
        VirtioNetHdr h = new VirtioNetHdr();
        h.flags = flags;
        h.gsoType = gsoType;
        h.gsoSize = gsoSize;
        h.csumStart = csumStart;
        h.csumOffset = csumOffset;
        h.hdrLen = 66;
        return h;
    }

    @Test
    void rxMasksDataValidWithoutGuestCsum() {
        VirtioNetHdr h = hdr(F_DATA_VALID, 0, 0, 0, 0);
        assertEquals(RxVerdict.DELIVER, none.check(h, 100));
        none.prepareHeader(h, RxVerdict.DELIVER);
        assertEquals(0, h.flags);
    }

    @Test
    void rxKeepsDataValidForGuestWithGuestCsum() {
        VirtioNetHdr h = hdr(F_DATA_VALID, 0, 0, 0, 0);
        assertEquals(RxVerdict.DELIVER, csumOnly.check(h, 100));
        csumOnly.prepareHeader(h, RxVerdict.DELIVER);
        assertEquals(F_DATA_VALID, h.flags);
    }

    @Test
    void rxNeverPassesRscInfo() {
        VirtioNetHdr h = hdr(F_DATA_VALID | F_RSC_INFO, 0, 0, 0, 0);
        full.prepareHeader(h, full.check(h, 100));
        assertEquals(F_DATA_VALID, h.flags);
    }

    @Test
    void rxFinishesThePartialChecksumForGuestWithoutGuestCsum() {
        TestFrames t = new TestFrames();
        byte[] frame = t.payload(700, 1).build();
        VirtioNetHdr h = hdr(F_NEEDS_CSUM, 0, 0, t.l4Off, 16);
        assertEquals(RxVerdict.FINISH_CSUM, none.check(h, frame.length));
        InetChecksum.completePartial(frame, 0, frame.length, h.csumStart, h.csumOffset);
        none.prepareHeader(h, RxVerdict.FINISH_CSUM);
        assertEquals(0, h.flags);
        assertEquals(0, h.csumStart);
        assertEquals(0, h.csumOffset);
        assertTrue(IndependentChecksum.l4Valid(frame, t.l3Off, 4, TestFrames.TCP, t.l4Off, frame.length - t.l4Off));
    }

    @Test
    void rxPassesThePartialChecksumToGuestWithGuestCsum() {
        VirtioNetHdr h = hdr(F_NEEDS_CSUM, 0, 0, 34, 16);
        assertEquals(RxVerdict.DELIVER, csumOnly.check(h, 100));
        csumOnly.prepareHeader(h, RxVerdict.DELIVER);
        assertEquals(F_NEEDS_CSUM, h.flags);
        assertEquals(34, h.csumStart);
        assertEquals(16, h.csumOffset);
    }

    @Test
    void rxSegmentsTsoForGuestWithoutGuestTso() {
        assertEquals(RxVerdict.SEGMENT, csumOnly.check(hdr(F_NEEDS_CSUM, 1, 1448, 34, 16), 10000));
        assertEquals(RxVerdict.SEGMENT, new RxOffloadPolicy(f(GUEST_CSUM, GUEST_TSO6)).check(hdr(F_NEEDS_CSUM, 1, 1448, 34, 16), 10000));
        assertEquals(RxVerdict.SEGMENT, new RxOffloadPolicy(f(GUEST_CSUM, GUEST_TSO4)).check(hdr(F_NEEDS_CSUM, 4, 1428, 54, 16), 10000));
        assertEquals(RxVerdict.DELIVER, full.check(hdr(F_NEEDS_CSUM, 1, 1448, 34, 16), 10000));
        assertEquals(RxVerdict.DELIVER, full.check(hdr(F_NEEDS_CSUM, 4, 1428, 54, 16), 10000));
    }

    @Test
    void rxSegmentsTsoForGuestThatAckedTsoWithoutGuestCsum() {
        // GUEST_TSO4 requires GUEST_CSUM (virtio 1.2 §5.1.3.1): without it, no GSO is given.
        RxOffloadPolicy broken = new RxOffloadPolicy(f(GUEST_TSO4, GUEST_TSO6));
        assertEquals(RxVerdict.SEGMENT, broken.check(hdr(F_NEEDS_CSUM, 1, 1448, 34, 16), 10000));
    }

    @Test
    void rxSegmentsEcnFramesForGuestWithoutGuestEcn() {
        RxOffloadPolicy noEcn = new RxOffloadPolicy(f(GUEST_CSUM, GUEST_TSO4, GUEST_TSO6));
        assertEquals(RxVerdict.SEGMENT, noEcn.check(hdr(F_NEEDS_CSUM, 0x81, 1448, 34, 16), 10000));
        assertEquals(RxVerdict.DELIVER, noEcn.check(hdr(F_NEEDS_CSUM, 0x01, 1448, 34, 16), 10000));
        assertEquals(RxVerdict.DELIVER, full.check(hdr(F_NEEDS_CSUM, 0x81, 1448, 34, 16), 10000));
    }

    @Test
    void rxSegmentsUsoUnlessTheGuestAckedBothUso4AndUso6() {
        VirtioNetHdr h = hdr(F_NEEDS_CSUM, 5, 1000, 34, 6);
        assertEquals(RxVerdict.SEGMENT, new RxOffloadPolicy(f(GUEST_CSUM, GUEST_USO4)).check(h, 5000));
        assertEquals(RxVerdict.DELIVER, full.check(h, 5000));
    }

    @Test
    void rxSegmentHeadersCarryDataValidOnlyForGuestWithGuestCsum() {
        VirtioNetHdr h = hdr(F_NEEDS_CSUM, 1, 1448, 34, 16);
        h.numBuffers = 3;
        csumOnly.prepareHeader(h, RxVerdict.SEGMENT);
        assertEquals(F_DATA_VALID, h.flags);
        assertEquals(0, h.gsoType);
        assertEquals(0, h.gsoSize);
        assertEquals(0, h.csumStart);
        assertEquals(3, h.numBuffers, "num_buffers is the device's to set");
        VirtioNetHdr g = hdr(F_NEEDS_CSUM, 1, 1448, 34, 16);
        none.prepareHeader(g, RxVerdict.SEGMENT);
        assertEquals(0, g.flags);
    }

    @Test
    void rxSegmentationOfATapTsoFrameGivesCompleteFrames() {
        TestFrames t = new TestFrames();
        byte[] frame = t.payload(5000, 2).build();
        VirtioNetHdr h = t.gsoHeader(1448);
        assertEquals(RxVerdict.SEGMENT, none.check(h, frame.length));
        byte[] out = new byte[frame.length + 4 * (12 + t.hdrLen)];
        int[] off = new int[8];
        int[] len = new int[8];
        int n = new Segmenter().segment(h, frame, 0, frame.length, out, 0, 12, off, len);
        assertEquals(4, n);
        for (int i = 0; i < n; i++) {
            byte[] seg = java.util.Arrays.copyOfRange(out, off[i], off[i] + len[i]);
            assertTrue(IndependentChecksum.ipv4HeaderValid(seg, t.l3Off));
            assertTrue(IndependentChecksum.l4Valid(seg, t.l3Off, 4, TestFrames.TCP, t.l4Off, seg.length - t.l4Off));
        }
    }

    @Test
    void rxDropsHeadersTheGuestCannotBeGiven() {
        assertEquals(RxVerdict.DROP, full.check(hdr(0, 2, 1000, 0, 0), 5000));
        assertEquals(DropReason.RX_BAD_HEADER, full.dropReason());
        assertEquals(RxVerdict.DROP, full.check(hdr(F_NEEDS_CSUM, 1, 0, 34, 16), 5000));
        assertEquals(RxVerdict.DROP, full.check(hdr(F_NEEDS_CSUM, 0, 0, 90, 9), 100));
        assertEquals(RxVerdict.DROP, full.check(hdr(F_NEEDS_CSUM, 3, 1000, 34, 6), 5000)); // UFO not acked
        assertEquals(RxVerdict.DELIVER, new RxOffloadPolicy(f(GUEST_CSUM, GUEST_UFO)).check(hdr(F_NEEDS_CSUM, 3, 1000, 34, 6), 5000));
        assertEquals(RxVerdict.DELIVER, full.check(hdr(F_NEEDS_CSUM, 0, 0, 90, 8), 100));
        assertEquals(DropReason.NONE, full.dropReason());
    }

    @Property(tries = 2000)
    void rxPolicyNeverThrowsAndNeverGivesWhatTheGuestDidNotAck(@ForAll @Size(12) byte[] raw,
                                                              @ForAll @IntRange(max = 70000) int len,
                                                              @ForAll long acked) {
        VirtioNetHdr h = new VirtioNetHdr().read(raw, 0, VirtioNetHdr.SIZE);
        RxOffloadPolicy p = new RxOffloadPolicy(acked);
        RxVerdict v = p.check(h, len);
        if (v == RxVerdict.DROP) {
            assertEquals(DropReason.RX_BAD_HEADER, p.dropReason());
            return;
        }
        p.prepareHeader(h, v);
        boolean csum = (acked & VirtioNetFeatures.bit(GUEST_CSUM)) != 0;
        if (!csum) {
            assertEquals(0, h.flags, "flags for a guest without GUEST_CSUM");
        }
        assertEquals(0, h.flags & F_RSC_INFO);
        if (h.needsCsum()) {
            assertTrue(h.csumStart + h.csumOffset + 2 <= len);
        }
        if (h.gsoType != 0) {
            int need = switch (h.gsoBase()) {
                case 1 -> GUEST_TSO4;
                case 4 -> GUEST_TSO6;
                case 3 -> GUEST_UFO;
                default -> GUEST_USO4;
            };
            assertTrue(csum && (acked & VirtioNetFeatures.bit(need)) != 0, h::toString);
            if (h.ecn()) {
                assertTrue((acked & VirtioNetFeatures.bit(GUEST_ECN)) != 0);
            }
        }
    }
}
