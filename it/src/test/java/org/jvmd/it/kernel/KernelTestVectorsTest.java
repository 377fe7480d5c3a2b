package org.jvmd.it.kernel;

import static org.jvmd.it.kernel.Packets.HDR;
import static org.jvmd.it.kernel.Packets.be16;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;
import org.jvmd.sys.Fd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.LibC;
import org.jvmd.sys.NativeBuffer;
import org.jvmd.sys.net.Netns;
import org.jvmd.virtio.net.FrameHeaders;
import org.jvmd.virtio.net.InetChecksum;
import org.jvmd.virtio.net.Segmenter;
import org.jvmd.virtio.net.TapOffloads;
import org.jvmd.virtio.net.TxValidator;
import org.jvmd.virtio.net.TxVerdict;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.virtio.net.VirtioNetHdr;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Test vectors from the running kernel (issue 3): the kernel of a private namespace sends
 * TCP over IPv4 and IPv6 and UDP through a tap with every offload on, so the test reads
 * what a guest's virtio-net driver would queue (partial checksums, GSO super-frames); then
 * a second namespace's kernel forwards each of those frames to a tap with no offload, so
 * it finishes the checksum or segments in software, and the test compares that with ours.
 * Layout: {@link KernelLab}. Needs root; about 2 s.
 *
 * <p><b>What is compared.</b> Our frame and the kernel's are compared byte for byte, from
 * the Ethernet header to the last payload byte: segment count and sizes, the IPv4 total
 * length, identification (incremented per segment from the super-frame's) and header
 * checksum, the IPv6 payload length, TCP sequence numbers, flags (PSH/FIN on the last
 * segment only, CWR on the first only), UDP lengths, every TCP/UDP checksum and the
 * payload. Both sides segment the <em>same</em> super-frame, so nothing legitimately
 * differs but what forwarding changes before the kernel segments: the Ethernet addresses
 * (the forwarder's out-MAC and the next hop) and the TTL / hop limit (one less, IPv4
 * header checksum updated). Our side applies exactly that to the super-frame before
 * segmenting ({@link #asForwarded}). The vnet header of the kernel's frames must be empty
 * (no GSO, no partial checksum): the kernel did the work.
 */
class KernelTestVectorsTest {
    private static final int TCP4_PORT = 5001;
    private static final int TCP6_PORT = 5002;
    private static final int UDP_PORT = 5003;
    private static final int USO_PORT = 5004;
    private static final int MARKER_PORT = 9;
    /**
     * UDP GSO sends as {gso_size, bytes}: a remainder segment, an exact multiple of full-MTU
     * segments, an odd size, and one that fits a single segment (sent without GSO).
     */
    private static final int[][] USO4_SENDS = {{1000, 4500}, {1472, 1472 * 8}, {333, 2001}, {1000, 500}};
    private static final int[][] USO6_SENDS = {{1000, 4500}, {1452, 1452 * 8}, {333, 2001}, {1000, 500}};
    /** Odd and even lengths, one byte, and a full 1500-byte IP packet for each family. */
    private static final int[] UDP4_SIZES = {1, 2, 99, 1000, 1472};
    private static final int[] UDP6_SIZES = {1, 2, 99, 1000, 1452};
    private static final byte[] STREAM = new byte[384 * 1024];

    /** What a driver of a Linux guest acks: every transmit offload the tap showed us. */
    private static final long ACKED = VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1)
        | VirtioNetFeatures.bit(VirtioNetFeatures.CSUM) | VirtioNetFeatures.bit(VirtioNetFeatures.HOST_TSO4)
        | VirtioNetFeatures.bit(VirtioNetFeatures.HOST_TSO6) | VirtioNetFeatures.bit(VirtioNetFeatures.HOST_ECN)
        | VirtioNetFeatures.bit(VirtioNetFeatures.HOST_USO);

    private static KernelLab lab;
    private static TcpPeer.Result tcp4;
    private static TcpPeer.Result tcp6;
    private static List<byte[]> udp;
    /** Frames of UDP_SEGMENT sends; empty if the kernel's taps cannot take USO. */
    private static List<byte[]> uso;
    /** The forwarder kernel's frames for each captured frame (identity: the captured array). */
    private static final Map<byte[], List<byte[]>> KERNEL = new IdentityHashMap<>();
    private static int markerId;

    @BeforeAll
    static void captureFromTheKernel() throws Exception {
        new Random(3).nextBytes(STREAM);
        lab = KernelLab.create();
        tcp4 = TcpPeer.exchange(lab, false, STREAM, TCP4_PORT);
        tcp6 = TcpPeer.exchange(lab, true, STREAM, TCP6_PORT);
        udp = new ArrayList<>();
        udp.addAll(sendUdp(false, UDP4_SIZES));
        udp.addAll(sendUdp(true, UDP6_SIZES));
        uso = new ArrayList<>();
        if (lab.uso()) {
            uso.addAll(sendUdpGso(false, USO4_SENDS));
            uso.addAll(sendUdpGso(true, USO6_SENDS));
        }
        for (List<byte[]> frames : List.of(tcp4.frames(), tcp6.frames(), udp, uso)) {
            for (byte[] raw : frames) {
                KERNEL.put(raw, forwardThroughTheKernel(raw));
            }
        }
        System.out.printf("kernel vectors: TCPv4 %d frames (%d GSO), TCPv6 %d frames (%d GSO), UDP %d, USO %d (%d GSO);"
                + " %d kernel frames to compare with%n",
            tcp4.frames().size(), count(tcp4.frames(), KernelTestVectorsTest::isRealGso),
            tcp6.frames().size(), count(tcp6.frames(), KernelTestVectorsTest::isRealGso), udp.size(),
            uso.size(), count(uso, KernelTestVectorsTest::isRealGso),
            KERNEL.values().stream().mapToInt(List::size).sum());
    }

    @AfterAll
    static void removeNamespaces() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    // ---- (a) the validator ----

    @Test
    void validatorAcceptsEveryKernelTcp4Header() {
        assertAcceptedAsTheKernelWroteThem(tcp4.frames());
        assertTrue(count(tcp4.frames(), KernelTestVectorsTest::isRealGso) > 0, "no TCPv4 GSO super-frame captured");
    }

    @Test
    void validatorAcceptsEveryKernelTcp6Header() {
        assertAcceptedAsTheKernelWroteThem(tcp6.frames());
        assertTrue(count(tcp6.frames(), KernelTestVectorsTest::isRealGso) > 0, "no TCPv6 GSO super-frame captured");
    }

    @Test
    void validatorAcceptsEveryKernelUdpHeader() {
        assertAcceptedAsTheKernelWroteThem(udp);
        assertEquals(UDP4_SIZES.length + UDP6_SIZES.length, count(udp, r -> Packets.header(r).needsCsum()),
            "every UDP datagram leaves a CSUM tap with a partial checksum");
    }

    @Test
    void validatorAcceptsEveryKernelUsoHeader() {
        assumeTrue(lab.uso(), "this kernel's taps take no USO (Linux < 6.2)");
        assertAcceptedAsTheKernelWroteThem(uso);
        assertEquals(6, count(uso, KernelTestVectorsTest::isRealGso), "UDP GSO super-frames captured");
    }

    // ---- (b) segmentation ----

    @Test
    void softwareTso4MatchesKernelSegmentation() {
        int n = assertSegmentationMatches(tcp4.frames(), VirtioNetHdr.GSO_TCPV4, r -> true);
        assertTrue(n > 0, "no TCPv4 GSO frame to compare");
    }

    @Test
    void softwareTso6MatchesKernelSegmentation() {
        int n = assertSegmentationMatches(tcp6.frames(), VirtioNetHdr.GSO_TCPV6, r -> true);
        assertTrue(n > 0, "no TCPv6 GSO frame to compare");
    }

    @Test
    void softwareUsoMatchesKernelSegmentation() {
        assumeTrue(lab.uso(), "this kernel's taps take no USO (Linux < 6.2)");
        assertEquals(6, assertSegmentationMatches(uso, VirtioNetHdr.GSO_UDP_L4, r -> true));
    }

    @Test
    void cwrFromAnEcnEchoIsSegmentedAsTheKernelDoes() {
        assertTrue(tcp4.sawCwr() && tcp6.sawCwr(), "the sender never answered ECE with CWR");
        Predicate<byte[]> ecn = r -> Packets.header(r).ecn();
        int n = assertSegmentationMatches(tcp4.frames(), VirtioNetHdr.GSO_TCPV4, ecn)
            + assertSegmentationMatches(tcp6.frames(), VirtioNetHdr.GSO_TCPV6, ecn);
        assertTrue(n > 0, "no GSO frame with the ECN bit (CWR) captured");
        for (List<byte[]> frames : List.of(tcp4.frames(), tcp6.frames())) {
            for (byte[] raw : frames) {
                if (ecn.test(raw)) {
                    List<byte[]> k = KERNEL.get(raw);
                    for (int i = 0; i < k.size(); i++) {
                        FrameHeaders fh = Packets.l4(k.get(i));
                        boolean cwr = (k.get(i)[HDR + fh.l4Off + 13] & Packets.TCP_CWR) != 0;
                        assertEquals(i == 0, cwr, "the kernel puts CWR on the first segment only");
                    }
                }
            }
        }
    }

    // ---- (c) checksums ----

    @Test
    void completedPartialChecksumsMatchTheKernels() {
        int compared = 0;
        for (List<byte[]> frames : List.of(tcp4.frames(), tcp6.frames(), udp, uso)) {
            for (byte[] raw : frames) {
                VirtioNetHdr h = Packets.header(raw);
                if (h.gsoType != VirtioNetHdr.GSO_NONE || !h.needsCsum()) {
                    continue;
                }
                byte[] ours = asForwarded(raw);
                InetChecksum.completePartial(ours, 0, ours.length, h.csumStart, h.csumOffset);
                assertSameFrames(describe(raw), List.of(ours), KERNEL.get(raw));
                compared++;
            }
        }
        assertTrue(compared >= UDP4_SIZES.length + UDP6_SIZES.length + 4, "only " + compared + " partial checksums");
    }

    @Test
    void inetChecksumAgreesWithEveryKernelComputedChecksum() {
        int checked = 0;
        for (List<byte[]> out : KERNEL.values()) {
            for (byte[] raw : out) {
                FrameHeaders fh = Packets.l4(raw);
                byte[] f = Arrays.copyOfRange(raw, HDR, raw.length);
                int l3 = fh.l3Off;
                if (fh.ipVersion == 4) {
                    int stored = be16(f, l3 + 10);
                    assertEquals(0, InetChecksum.checksum(f, l3, fh.l3HdrLen), "IPv4 header checksum does not verify");
                    InetChecksum.writeIpv4HeaderChecksum(f, l3, fh.l3HdrLen);
                    assertEquals(stored, be16(f, l3 + 10), "IPv4 header checksum");
                }
                boolean tcp = fh.l4Proto == FrameHeaders.IPPROTO_TCP;
                int field = fh.l4Off + (tcp ? 16 : 6);
                int l4Len = (fh.ipVersion == 4 ? l3 + be16(f, l3 + 2) : l3 + 40 + be16(f, l3 + 4)) - fh.l4Off;
                int stored = be16(f, field);
                f[field] = 0;
                f[field + 1] = 0;
                int pseudo = fh.ipVersion == 4
                    ? InetChecksum.pseudoHeaderV4(f, l3, fh.l4Proto, l4Len)
                    : InetChecksum.pseudoHeaderV6(f, l3, fh.l4Proto, l4Len);
                int ours = InetChecksum.finish(InetChecksum.sum(f, fh.l4Off, l4Len, pseudo));
                if (!tcp && ours == 0) {
                    ours = 0xFFFF; // RFC 768
                }
                assertEquals(stored, ours, (tcp ? "TCP" : "UDP") + " checksum of a " + l4Len + "-byte segment");
                checked++;
            }
        }
        assertTrue(checked > 100, "only " + checked + " kernel frames checked");
    }

    // ---- VLAN tags (derived vectors) ----

    /**
     * This kernel may lack 802.1Q (CONFIG_VLAN_8021Q), so the tags come from the test:
     * every captured frame gets an 802.1Q tag, or an 802.1ad tag outside an 802.1Q tag,
     * inserted after its MAC addresses with csum_start and hdr_len moved by the tag length,
     * as tun.c does for a tagged skb ({@code tun_put_user()}: {@code vlan_hlen}). Segmentation
     * and checksums do not look at L2, so the reference is the kernel's own output for the
     * untagged frame with the same tags inserted into each frame.
     */
    @Test
    void tagsInFrontOfKernelFramesChangeNothingButTheOffsets() {
        TxValidator software = new TxValidator(ACKED, TapOffloads.NONE);
        Segmenter seg = new Segmenter();
        byte[] out = new byte[2 * TapPort.MAX_FRAME];
        int[] offs = new int[256];
        int[] lens = new int[256];
        int gso = 0;
        for (byte[] tags : List.of(DOT1Q, QINQ)) {
            for (List<byte[]> frames : List.of(tcp4.frames(), tcp6.frames(), udp, uso)) {
                for (byte[] raw : frames) {
                    VirtioNetHdr h = Packets.header(raw);
                    if (!h.needsCsum()) {
                        continue;
                    }
                    byte[] tagged = withTags(raw, tags);
                    VirtioNetHdr th = Packets.header(tagged);
                    TxVerdict v = software.check(th, tagged.length - HDR);
                    assertTrue(v != TxVerdict.DROP, () -> "dropped (" + software.dropReason() + "): " + describe(tagged));
                    byte[] in = asForwarded(tagged);
                    List<byte[]> expected = KERNEL.get(raw).stream().map(k -> withTags(k, tags)).toList();
                    if (h.gsoType == VirtioNetHdr.GSO_NONE) {
                        InetChecksum.completePartial(in, 0, in.length, th.csumStart, th.csumOffset);
                        assertSameFrames("tagged " + describe(tagged), List.of(in), expected);
                        continue;
                    }
                    int n = seg.segment(th, in, 0, in.length, out, 0, 0, offs, lens);
                    assertTrue(n > 0, () -> "our segmenter refused (" + seg.dropReason() + "): " + describe(tagged));
                    List<byte[]> ours = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        ours.add(Arrays.copyOfRange(out, offs[i], offs[i] + lens[i]));
                    }
                    assertSameFrames("tagged " + describe(tagged), ours, expected);
                    gso++;
                }
            }
        }
        assertTrue(gso > 20, "only " + gso + " tagged GSO frames");
    }

    /** 802.1Q, VLAN 5 (IEEE 802.1Q: TPID 0x8100, TCI = PCP/DEI/VID). */
    private static final byte[] DOT1Q = {(byte) 0x81, 0x00, 0x00, 0x05};
    /** QinQ: 802.1ad service tag 7 (TPID 0x88A8) outside 802.1Q tag 5. */
    private static final byte[] QINQ = {(byte) 0x88, (byte) 0xA8, 0x00, 0x07, (byte) 0x81, 0x00, 0x00, 0x05};

    /** {@code raw} with {@code tags} after the MAC addresses and the vnet header's offsets moved. */
    private static byte[] withTags(byte[] raw, byte[] tags) {
        byte[] t = new byte[raw.length + tags.length];
        System.arraycopy(raw, 0, t, 0, HDR + 12);
        System.arraycopy(tags, 0, t, HDR + 12, tags.length);
        System.arraycopy(raw, HDR + 12, t, HDR + 12 + tags.length, raw.length - HDR - 12);
        VirtioNetHdr h = Packets.header(raw);
        if (h.needsCsum()) {
            h.csumStart += tags.length;
        }
        if (h.hdrLen != 0) {
            h.hdrLen += tags.length;
        }
        h.write(t, 0, HDR);
        return t;
    }

    @Test
    void kernelStreamsArriveIntactAtTheTestPeer() {
        assertArrayEquals(STREAM, tcp4.received(), "TCPv4 stream");
        assertArrayEquals(STREAM, tcp6.received(), "TCPv6 stream");
    }

    // ---- helpers ----

    private static void assertAcceptedAsTheKernelWroteThem(List<byte[]> frames) {
        TxValidator software = new TxValidator(ACKED, TapOffloads.NONE);
        TxValidator passing = new TxValidator(ACKED, TapOffloads.fromTunFlags(lab.wireOffloads));
        assertTrue(!frames.isEmpty(), "no frames captured");
        for (byte[] raw : frames) {
            VirtioNetHdr h = Packets.header(raw);
            int len = raw.length - HDR;
            TxVerdict v = software.check(h, len);
            assertTrue(v != TxVerdict.DROP, () -> "dropped (" + software.dropReason() + "): " + describe(raw));
            TxVerdict expected = software.realGso() ? TxVerdict.SEGMENT
                : h.needsCsum() ? TxVerdict.FINISH_CSUM : TxVerdict.PASS;
            assertEquals(expected, v, () -> describe(raw));
            assertEquals(TxVerdict.PASS, passing.check(h, len), () -> "with a tap that takes it: " + describe(raw));
            if (h.needsCsum()) {
                FrameHeaders fh = Packets.l4(raw);
                assertEquals(fh.l4Off, h.csumStart, () -> "csum_start is the L4 header: " + describe(raw));
                assertEquals(fh.l4Proto == FrameHeaders.IPPROTO_TCP ? 16 : 6, h.csumOffset, () -> describe(raw));
            }
        }
    }

    /** Segments every GSO frame of {@code type} and compares with the kernel; returns how many. */
    private static int assertSegmentationMatches(List<byte[]> frames, int type, Predicate<byte[]> which) {
        Segmenter seg = new Segmenter();
        byte[] out = new byte[2 * TapPort.MAX_FRAME];
        int[] offs = new int[256];
        int[] lens = new int[256];
        int compared = 0;
        for (byte[] raw : frames) {
            VirtioNetHdr h = Packets.header(raw);
            if (h.gsoBase() != type || !which.test(raw)) {
                continue;
            }
            byte[] in = asForwarded(raw);
            int n = seg.segment(h, in, 0, in.length, out, 0, 0, offs, lens);
            assertTrue(n > 0, () -> "our segmenter refused (" + seg.dropReason() + "): " + describe(raw));
            List<byte[]> ours = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ours.add(Arrays.copyOfRange(out, offs[i], offs[i] + lens[i]));
            }
            assertSameFrames(describe(raw), ours, KERNEL.get(raw));
            compared++;
        }
        return compared;
    }

    /** The frame as the forwarder passes it to segmentation: new MACs, TTL / hop limit less one. */
    static byte[] asForwarded(byte[] raw) {
        byte[] f = Arrays.copyOfRange(raw, HDR, raw.length);
        System.arraycopy(KernelLab.NEXT_HOP_MAC, 0, f, 0, 6);
        System.arraycopy(KernelLab.OUT_MAC, 0, f, 6, 6);
        FrameHeaders fh = Packets.l4(raw);
        if (fh.ipVersion == 4) {
            f[fh.l3Off + 8]--;
            InetChecksum.writeIpv4HeaderChecksum(f, fh.l3Off, fh.l3HdrLen);
        } else {
            f[fh.l3Off + 7]--;
        }
        return f;
    }

    private static void assertSameFrames(String what, List<byte[]> ours, List<byte[]> kernelRaw) {
        assertNotNull(kernelRaw, "not forwarded: " + what);
        List<Integer> ourLens = ours.stream().map(b -> b.length).toList();
        List<Integer> kernelLens = kernelRaw.stream().map(b -> b.length - HDR).toList();
        assertEquals(kernelLens, ourLens, "segment sizes of " + what);
        for (int i = 0; i < ours.size(); i++) {
            byte[] k = kernelRaw.get(i);
            VirtioNetHdr kh = Packets.header(k);
            assertEquals(VirtioNetHdr.GSO_NONE, kh.gsoType, "kernel left GSO on segment " + i + " of " + what);
            assertEquals(0, kh.flags & VirtioNetHdr.F_NEEDS_CSUM, "kernel left a partial checksum: " + what);
            byte[] o = ours.get(i);
            int diff = Arrays.mismatch(o, 0, o.length, k, HDR, k.length);
            if (diff >= 0) {
                FrameHeaders fh = Packets.l4(k);
                fail("segment " + i + "/" + ours.size() + " of " + what + " differs at byte " + diff + " ("
                    + Packets.fieldAt(fh, diff) + "): ours " + Packets.hex(o, diff, Math.min(4, o.length - diff))
                    + " kernel " + Packets.hex(k, HDR + diff, Math.min(4, k.length - HDR - diff)));
            }
        }
    }

    private static String describe(byte[] raw) {
        FrameHeaders fh = Packets.l4(raw);
        return Packets.header(raw) + " frame " + (raw.length - HDR) + " bytes, IPv" + (fh == null ? "?" : fh.ipVersion)
            + (fh == null ? "" : fh.l4Proto == FrameHeaders.IPPROTO_TCP ? " TCP" : " UDP");
    }

    private static boolean isRealGso(byte[] raw) {
        VirtioNetHdr h = Packets.header(raw);
        FrameHeaders fh = Packets.l4(raw);
        return h.gsoType != VirtioNetHdr.GSO_NONE && raw.length - HDR - fh.headersEnd() > h.gsoSize;
    }

    private static int count(List<byte[]> frames, Predicate<byte[]> p) {
        return (int) frames.stream().filter(p).count();
    }

    // ---- capture ----

    /** Sends one datagram per size from the sender's namespace; returns the frames the tap got. */
    private static List<byte[]> sendUdp(boolean v6, int[] sizes) throws Exception {
        byte[] peer = v6 ? KernelLab.PEER6 : KernelLab.PEER4;
        Netns.call(lab.tx, () -> {
            try (DatagramChannel dc = DatagramChannel.open(v6 ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET)) {
                dc.connect(new InetSocketAddress(InetAddress.getByAddress(peer), UDP_PORT));
                int at = 0;
                for (int size : sizes) {
                    dc.write(ByteBuffer.wrap(STREAM, at, size));
                    at += size;
                }
            }
            return null;
        });
        List<byte[]> frames = new ArrayList<>();
        while (frames.size() < sizes.length) {
            byte[] raw = lab.wire.read(2_000);
            if (raw == null) {
                throw new IOException("only " + frames.size() + " of " + sizes.length + " UDP datagrams reached the tap");
            }
            if (Packets.isFlow(raw, FrameHeaders.IPPROTO_UDP, UDP_PORT)) {
                frames.add(raw);
            }
        }
        return frames;
    }

    /**
     * Sends {@code bytes} in one write per entry from a native UDP socket with
     * {@code UDP_SEGMENT} = gso_size (Java has no such option); returns the frames the tap got,
     * one per write: the kernel hands the reader one USO super-frame.
     */
    private static List<byte[]> sendUdpGso(boolean v6, int[][] sends) throws Exception {
        byte[] peer = v6 ? KernelLab.PEER6 : KernelLab.PEER4;
        Netns.call(lab.tx, () -> {
            try (Fd s = LibC.socket(v6 ? LibC.AF_INET6 : LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0)) {
                LibC.connect(s, new InetSocketAddress(InetAddress.getByAddress(peer), USO_PORT));
                NativeBuffer buf = new NativeBuffer(STREAM.length);
                buf.put(0, STREAM, 0, STREAM.length);
                IoVec iov = new IoVec(1);
                for (int[] send : sends) {
                    LibC.setsockopt(s, LibC.SOL_UDP, LibC.UDP_SEGMENT, send[0]);
                    iov.clear();
                    iov.add(buf, 0, send[1]);
                    assertEquals(send[1], LibC.writev(s, iov));
                }
            }
            return null;
        });
        List<byte[]> frames = new ArrayList<>();
        while (frames.size() < sends.length) {
            byte[] raw = lab.wire.read(2_000);
            if (raw == null) {
                throw new IOException("only " + frames.size() + " of " + sends.length + " UDP GSO frames reached the tap");
            }
            if (Packets.isFlow(raw, FrameHeaders.IPPROTO_UDP, USO_PORT)) {
                frames.add(raw);
            }
        }
        return frames;
    }

    /**
     * Writes {@code raw} into the forwarder, then a marker datagram, and returns the TCP/UDP
     * frames the forwarder sent out before the marker: the kernel's rendering of {@code raw}.
     */
    private static List<byte[]> forwardThroughTheKernel(byte[] raw) throws IOException {
        int id = ++markerId & 0xFFFF;
        lab.fwIn.write(raw);
        lab.fwIn.write(Packets.udp4(KernelLab.PEER_MAC, KernelLab.TX_MAC, KernelLab.LOCAL4, KernelLab.PEER4,
            MARKER_PORT, MARKER_PORT, id));
        List<byte[]> out = new ArrayList<>();
        while (true) {
            byte[] f = lab.fwOut.read(2_000);
            if (f == null) {
                throw new IOException("the forwarder sent nothing more after " + out.size() + " frames for " + describe(raw));
            }
            if (Packets.isFlow(f, FrameHeaders.IPPROTO_UDP, MARKER_PORT)) {
                FrameHeaders fh = Packets.l4(f);
                if (Packets.be32(f, HDR + fh.l4Off + 8) == id) {
                    return out;
                }
                continue;
            }
            if (Packets.l4(f) != null) {
                out.add(f);
            }
        }
    }
}
