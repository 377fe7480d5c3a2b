package org.jvmd.virtio.net;

import static org.jvmd.bytes.BigEndian.get16;
import static org.jvmd.bytes.BigEndian.get32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Random;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class SegmenterTest {
    private static final int FIN = 0x01;
    private static final int PSH = 0x08;
    private static final int ACK = 0x10;
    private static final int CWR = 0x80;
    private static final int ECE = 0x40;

    private final Segmenter segmenter = new Segmenter();

    /** The result of one segmentation, checked with the independent code. */
    private record Result(int n, byte[] out, int[] off, int[] len) {}

    private Result run(TestFrames t, byte[] frame, VirtioNetHdr h, int headroom) {
        int payload = frame.length - t.hdrLen;
        int n = Math.max(1, (payload + h.gsoSize - 1) / h.gsoSize);
        byte[] out = new byte[n * (headroom + t.hdrLen) + payload];
        int[] off = new int[n];
        int[] len = new int[n];
        int got = segmenter.segment(h, frame, 0, frame.length, out, 0, headroom, off, len);
        return new Result(got, out, off, len);
    }

    /** Every property a segment must have, checked without the code under test. */
    private static void assertSegmentsValid(TestFrames t, byte[] frame, int mss, Result r) {
        assertTrue(r.n >= 1, "segments " + r.n);
        ByteArrayOutputStream payload = new ByteArrayOutputStream();
        int l3 = t.l3Off;
        int l4 = t.l4Off;
        int hdr = t.hdrLen;
        int origFlags = t.l4 == TestFrames.TCP ? frame[l4 + 13] & 0xFF : 0;
        for (int i = 0; i < r.n; i++) {
            byte[] s = Arrays.copyOfRange(r.out, r.off[i], r.off[i] + r.len[i]);
            int seg = s.length - hdr;
            boolean last = i == r.n - 1;
            assertTrue(seg <= mss && (last || seg == mss), "segment " + i + " payload " + seg);
            // L2 and untouched header bytes are copies of the super-frame's.
            assertArrayEquals(Arrays.copyOfRange(frame, 0, l3), Arrays.copyOfRange(s, 0, l3));
            if (t.ipVersion == 4) {
                assertEquals(s.length - l3, get16(s, l3 + 2), "IPv4 total length");
                assertEquals((t.ipId + i) & 0xFFFF, get16(s, l3 + 4), "IPv4 id");
                assertTrue(IndependentChecksum.ipv4HeaderValid(s, l3), "IPv4 header checksum of segment " + i);
            } else {
                assertEquals(s.length - l3 - 40, get16(s, l3 + 4), "IPv6 payload length");
            }
            if (t.l4 == TestFrames.TCP) {
                assertEquals(t.seq + i * mss, get32(s, l4 + 4), "sequence number");
                int flags = s[l4 + 13] & 0xFF;
                int expect = origFlags;
                if (!last) {
                    expect &= ~(FIN | PSH);
                }
                if (i > 0) {
                    expect &= ~CWR;
                }
                assertEquals(expect, flags, "TCP flags of segment " + i);
            } else {
                assertEquals(s.length - l4, get16(s, l4 + 4), "UDP length");
            }
            assertTrue(IndependentChecksum.l4Valid(s, l3, t.ipVersion, t.l4, l4, s.length - l4),
                "L4 checksum of segment " + i);
            payload.write(s, hdr, seg);
        }
        assertArrayEquals(Arrays.copyOfRange(frame, hdr, frame.length), payload.toByteArray(), "reassembled payload");
    }

    @Test
    void tsoFrameOf64KiBBecomesMss1448Segments() {
        TestFrames t = new TestFrames();
        t.tcpFlags = ACK | PSH | FIN | CWR | ECE;
        t.tcpOptionWords = 3; // timestamps-sized options
        byte[] f = t.payload(65536 - 66, 7).build();
        Result r = run(t, f, t.gsoHeader(1448), 0);
        assertEquals((65536 - 66 + 1447) / 1448, r.n);
        assertSegmentsValid(t, f, 1448, r);
    }

    @Test
    void pshAndFinStayOnlyOnTheLastSegmentAndCwrOnlyOnTheFirst() {
        TestFrames t = new TestFrames();
        t.tcpFlags = ACK | PSH | FIN | CWR;
        byte[] f = t.payload(3000, 8).build();
        Result r = run(t, f, t.gsoHeader(1000), 0);
        assertEquals(3, r.n);
        int l4 = t.l4Off;
        assertEquals(ACK | CWR, r.out[r.off[0] + l4 + 13] & 0xFF);
        assertEquals(ACK, r.out[r.off[1] + l4 + 13] & 0xFF);
        assertEquals(ACK | PSH | FIN, r.out[r.off[2] + l4 + 13] & 0xFF);
    }

    @Test
    void ipv4IdAdvancesPerSegmentAndWrapsAt16Bits() {
        TestFrames t = new TestFrames();
        t.ipId = 0xFFFF;
        byte[] f = t.payload(2500, 9).build();
        Result r = run(t, f, t.gsoHeader(1000), 0);
        assertEquals(0xFFFF, get16(r.out, r.off[0] + t.l3Off + 4));
        assertEquals(0x0000, get16(r.out, r.off[1] + t.l3Off + 4));
        assertEquals(0x0001, get16(r.out, r.off[2] + t.l3Off + 4));
        assertSegmentsValid(t, f, 1000, r);
    }

    @Test
    void sequenceNumbersWrapAround() {
        TestFrames t = new TestFrames();
        t.seq = 0xFFFFFF00;
        byte[] f = t.payload(1000, 10).build();
        Result r = run(t, f, t.gsoHeader(300), 0);
        assertEquals(0xFFFFFF00 + 300, get32(r.out, r.off[1] + t.l4Off + 4));
        assertEquals(0x00000158, get32(r.out, r.off[2] + t.l4Off + 4)); // 0xFFFFFF00 + 600 mod 2^32
        assertSegmentsValid(t, f, 300, r);
    }

    @Test
    void tcpv6SuperFrameIsSegmentedWithPayloadLengths() {
        TestFrames t = new TestFrames();
        t.ipVersion = 6;
        byte[] f = t.payload(10000, 11).build();
        Result r = run(t, f, t.gsoHeader(1428), 0);
        assertEquals(8, r.n);
        assertSegmentsValid(t, f, 1428, r);
    }

    @Test
    void ipv6ExtensionHeadersAreCopiedIntoEverySegment() {
        TestFrames t = new TestFrames();
        t.ipVersion = 6;
        t.ipv6HopByHop = 1;
        t.ipv6DestOpts = 1;
        byte[] f = t.payload(5000, 12).build();
        Result r = run(t, f, t.gsoHeader(1400), 0);
        assertEquals(4, r.n);
        assertSegmentsValid(t, f, 1400, r);
    }

    @Test
    void usoFrameGetsPerSegmentUdpLengthAndChecksum() {
        for (int v : new int[] {4, 6}) {
            TestFrames t = new TestFrames();
            t.ipVersion = v;
            t.l4 = TestFrames.UDP;
            byte[] f = t.payload(4000, 13).build();
            Result r = run(t, f, t.gsoHeader(1200), 0);
            assertEquals(4, r.n);
            assertSegmentsValid(t, f, 1200, r);
        }
    }

    @Test
    void vlanAndQinQTaggedFramesAreSegmented() {
        for (int tags = 1; tags <= 2; tags++) {
            TestFrames t = new TestFrames();
            t.vlanTags = tags;
            byte[] f = t.payload(4000, 14 + tags).build();
            Result r = run(t, f, t.gsoHeader(1448), 0);
            assertEquals(3, r.n);
            assertSegmentsValid(t, f, 1448, r);
        }
    }

    @Test
    void frameThatFitsOneSegmentGivesOneCompleteSegment() {
        TestFrames t = new TestFrames();
        t.tcpFlags = ACK | PSH | CWR;
        byte[] f = t.payload(500, 15).build();
        Result r = run(t, f, t.gsoHeader(1448), 0);
        assertEquals(1, r.n);
        assertSegmentsValid(t, f, 1448, r);
        assertEquals(ACK | PSH | CWR, r.out[r.off[0] + t.l4Off + 13] & 0xFF);
    }

    @Test
    void headroomBeforeEachSegmentIsZeroed() {
        TestFrames t = new TestFrames();
        byte[] f = t.payload(3000, 16).build();
        VirtioNetHdr h = t.gsoHeader(1000);
        byte[] out = new byte[8000];
        Arrays.fill(out, (byte) 0x5A);
        int[] off = new int[8];
        int[] len = new int[8];
        int n = segmenter.segment(h, f, 0, f.length, out, 3, 12, off, len);
        assertEquals(3, n);
        int cursor = 3;
        for (int i = 0; i < n; i++) {
            assertEquals(cursor + 12, off[i]);
            for (int j = cursor; j < off[i]; j++) {
                assertEquals(0, out[j]);
            }
            cursor = off[i] + len[i];
        }
        assertEquals(0x5A, out[cursor]); // nothing written past the last segment
    }

    @Test
    void mismatchedProtocolsAreDropped() {
        TestFrames t = new TestFrames();
        byte[] f = t.payload(3000, 17).build();
        VirtioNetHdr h = t.gsoHeader(1000);
        h.gsoType = VirtioNetHdr.GSO_TCPV6; // the frame is IPv4
        assertDropped(h, f, DropReason.GSO_PROTOCOL_MISMATCH);
        h.gsoType = VirtioNetHdr.GSO_UDP_L4; // the frame is TCP
        assertDropped(h, f, DropReason.GSO_PROTOCOL_MISMATCH);
    }

    @Test
    void csumStartNotAtTheL4HeaderIsDropped() {
        TestFrames t = new TestFrames();
        byte[] f = t.payload(3000, 18).build();
        VirtioNetHdr h = t.gsoHeader(1000);
        h.csumStart += 4;
        assertDropped(h, f, DropReason.CSUM_START_MISMATCH);
    }

    @Test
    void ipv4FragmentsAreDropped() {
        TestFrames t = new TestFrames();
        byte[] f = t.payload(3000, 19).build();
        f[t.l3Off + 6] = 0x20; // MF
        assertDropped(t.gsoHeader(1000), f, DropReason.IP_FRAGMENT);
    }

    @Test
    void truncatedOrBogusTcpHeaderIsDropped() {
        TestFrames t = new TestFrames();
        byte[] f = t.payload(3000, 20).build();
        f[t.l4Off + 12] = 0x40; // data offset 4 words
        assertDropped(t.gsoHeader(1000), f, DropReason.BAD_L4_HEADER);
        f[t.l4Off + 12] = (byte) 0xF0; // 60 bytes: fine
        assertTrue(segmenter.segment(t.gsoHeader(1000), f, 0, 100, new byte[4000], 0, 0, new int[4], new int[4]) >= 1);
        assertDropped(t.gsoHeader(1000), Arrays.copyOf(f, t.l4Off + 59), DropReason.BAD_L4_HEADER);
    }

    @Test
    void ufoIsNotSegmented() {
        TestFrames t = new TestFrames();
        t.l4 = TestFrames.UDP;
        byte[] f = t.payload(3000, 21).build();
        VirtioNetHdr h = t.gsoHeader(1000);
        h.gsoType = VirtioNetHdr.GSO_UDP;
        assertDropped(h, f, DropReason.UFO_UNSUPPORTED);
    }

    @Test
    void tooFewSegmentSlotsOrTooSmallOutputIsDroppedWithoutWriting() {
        TestFrames t = new TestFrames();
        byte[] f = t.payload(3000, 22).build();
        VirtioNetHdr h = t.gsoHeader(1000);
        byte[] out = new byte[10000];
        assertEquals(-1, segmenter.segment(h, f, 0, f.length, out, 0, 0, new int[2], new int[3]));
        assertEquals(DropReason.TOO_MANY_SEGMENTS, segmenter.dropReason());
        byte[] small = new byte[3000 + 3 * t.hdrLen - 1];
        assertEquals(-1, segmenter.segment(h, f, 0, f.length, small, 0, 0, new int[3], new int[3]));
        assertEquals(DropReason.OUTPUT_TOO_SMALL, segmenter.dropReason());
        assertTrue(isAllZero(small) && isAllZero(out));
        assertEquals(3, segmenter.segment(h, f, 0, f.length, Arrays.copyOf(small, small.length + 1), 0, 0, new int[3], new int[3]));
    }

    @Test
    void segmentLongerThanIpAllowsIsDropped() {
        TestFrames t = new TestFrames();
        byte[] f = t.payload(65535 - 40 + 1, 23).build();
        assertDropped(t.gsoHeader(65534), f, DropReason.SEGMENT_TOO_LONG);
    }

    private void assertDropped(VirtioNetHdr h, byte[] f, DropReason reason) {
        int n = segmenter.segment(h, f, 0, f.length, new byte[20000], 0, 0, new int[64], new int[64]);
        assertEquals(-1, n);
        assertEquals(reason, segmenter.dropReason());
    }

    private static boolean isAllZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    // ---- properties ----

    @Property(tries = 250)
    void segmentThenReassembleGivesThePayloadAndEverySegmentVerifies(
            @ForAll @IntRange(max = 2) int vlans,
            @ForAll boolean ipv6,
            @ForAll boolean udp,
            @ForAll @IntRange(max = 10) int ipv4Options,
            @ForAll @IntRange(max = 1) int hopByHop,
            @ForAll @IntRange(max = 1) int destOpts,
            @ForAll @IntRange(max = 10) int tcpOptions,
            @ForAll @IntRange(max = 20000) int payloadLen,
            @ForAll @IntRange(min = 1, max = 9000) int mss,
            @ForAll int seq,
            @ForAll @IntRange(max = 0xFFFF) int ipId,
            @ForAll @IntRange(max = 0xFF) int tcpFlags,
            @ForAll @IntRange(max = 16) int headroom,
            @ForAll long seed) {
        Assume.that((long) payloadLen / mss <= 2000);
        TestFrames t = new TestFrames();
        t.vlanTags = vlans;
        t.ipVersion = ipv6 ? 6 : 4;
        t.l4 = udp ? TestFrames.UDP : TestFrames.TCP;
        t.ipv4OptionWords = ipv4Options;
        t.ipv6HopByHop = hopByHop;
        t.ipv6DestOpts = destOpts;
        t.tcpOptionWords = tcpOptions;
        t.seq = seq;
        t.ipId = ipId;
        t.tcpFlags = tcpFlags;
        byte[] f = t.payload(payloadLen, seed).build();
        Result r = run(t, f, t.gsoHeader(mss), headroom);
        assertEquals(DropReason.NONE, segmenter.dropReason());
        assertSegmentsValid(t, f, mss, r);
    }

    @Property(tries = 1000)
    void segmenterNeverThrowsOnArbitraryFramesAndHeaders(@ForAll @Size(max = 2000) byte[] frame,
                                                         @ForAll @Size(12) byte[] rawHdr,
                                                         @ForAll @IntRange(max = 1) int shape,
                                                         @ForAll @IntRange(max = 300) int outLen,
                                                         @ForAll @IntRange(max = 8) int slots) {
        VirtioNetHdr h = new VirtioNetHdr().read(rawHdr, 0, VirtioNetHdr.SIZE);
        if (shape == 1 && frame.length > 40) {
            // Make the L2/L3 plausible so parsing goes deeper.
            frame[12] = 0x08;
            frame[13] = 0x00;
            frame[14] = 0x45;
            h.gsoType = VirtioNetHdr.GSO_TCPV4;
        }
        byte[] out = new byte[outLen];
        Arrays.fill(out, (byte) 0x77);
        int[] off = new int[slots];
        int[] len = new int[slots];
        int n = segmenter.segment(h, frame, 0, frame.length, out, 0, 0, off, len);
        boolean[] written = new boolean[outLen];
        if (n < 0) {
            assertTrue(segmenter.dropReason() != DropReason.NONE);
        } else {
            assertTrue(n >= 1 && n <= slots);
            for (int i = 0; i < n; i++) {
                Arrays.fill(written, off[i], off[i] + len[i], true);
            }
        }
        for (int i = 0; i < outLen; i++) {
            if (!written[i]) {
                assertEquals(0x77, out[i], "byte " + i + " written outside the reported segments");
            }
        }
    }

    @Property(tries = 100)
    void segmentsOfAnyOffsetInTheInputMatchSegmentsAtOffsetZero(@ForAll @IntRange(max = 9) int inOff,
                                                                @ForAll @IntRange(min = 100, max = 3000) int payloadLen,
                                                                @ForAll @IntRange(min = 1, max = 1500) int mss) {
        TestFrames t = new TestFrames();
        byte[] f = t.payload(payloadLen, payloadLen).build();
        byte[] shifted = new byte[f.length + inOff + 5];
        new Random(1).nextBytes(shifted);
        System.arraycopy(f, 0, shifted, inOff, f.length);
        VirtioNetHdr h = t.gsoHeader(mss);
        byte[] a = new byte[200000];
        byte[] b = new byte[200000];
        int[] oa = new int[4000];
        int[] la = new int[4000];
        int[] ob = new int[4000];
        int[] lb = new int[4000];
        int na = segmenter.segment(h, f, 0, f.length, a, 0, 0, oa, la);
        int nb = segmenter.segment(h, shifted, inOff, f.length, b, 0, 0, ob, lb);
        assertEquals(na, nb);
        assertArrayEquals(a, b);
    }
}
