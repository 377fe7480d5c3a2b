package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvmd.virtio.net.VirtioNetFeatures.bit;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.testkit.Allocation;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.HeapGuestMemory;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.net.TunFlags;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.virtio.net.VirtioNetHdr;

/** The device core in process: heap guest memory, the driver side of the rings, a recording tap. */
class VionetTest {
    static final byte[] MAC = {2, 0, 0, 0, 0, 1};
    static final byte[] PEER = {2, 0, 0, 0, 0, 2};
    static final byte[] OTHER = {2, 0, 0, 0, 0, 9};
    static final long RING = bit(VirtioNetFeatures.VERSION_1) | bit(Virtq.F_EVENT_IDX) | bit(Virtq.F_INDIRECT_DESC);
    static final long HOST = bit(VirtioNetFeatures.CSUM) | bit(VirtioNetFeatures.HOST_TSO4)
            | bit(VirtioNetFeatures.HOST_TSO6) | bit(VirtioNetFeatures.HOST_ECN) | bit(VirtioNetFeatures.HOST_USO);
    static final long GUEST = bit(VirtioNetFeatures.GUEST_CSUM) | bit(VirtioNetFeatures.GUEST_TSO4)
            | bit(VirtioNetFeatures.GUEST_TSO6) | bit(VirtioNetFeatures.GUEST_ECN)
            | bit(VirtioNetFeatures.GUEST_USO4) | bit(VirtioNetFeatures.GUEST_USO6);
    static final long MRG = bit(VirtioNetFeatures.MRG_RXBUF);
    static final long CTRL = bit(VirtioNetFeatures.CTRL_VQ) | bit(VirtioNetFeatures.CTRL_RX)
            | bit(VirtioNetFeatures.CTRL_GUEST_OFFLOADS);

    /** One device and its guest. */
    static final class Rig {
        final HeapGuestMemory mem;
        final MemoryTap tap;
        final GuestDriver guest;
        final Vionet dev;
        final int[] irqs = new int[8];
        final List<TunCapabilities> caps = new ArrayList<>();

        Rig(NicConfig.Builder nic, long features, int rxBufLen) throws GuestFault {
            this(nic, features, rxBufLen, 64);
        }

        Rig(NicConfig.Builder nic, long features, int rxBufLen, int queueSize) throws GuestFault {
            mem = new HeapGuestMemory(GuestDriver.memoryNeeded(queueSize, rxBufLen));
            tap = new MemoryTap(mem, 64);
            VionetConfig cfg = VionetConfig.from(nic.setMac(ByteString.copyFrom(MAC)).build());
            guest = new GuestDriver(mem, features, queueSize, rxBufLen, (features & CTRL) != 0);
            dev = new Vionet(cfg, mem, tap, v -> irqs[v]++, caps::add);
            guest.configure(dev, features);
        }

        /**
         * The privileged side applies the last TUNSCAP successfully, and the tap is read
         * empty once (so no frame made under the old flags can be left in it).
         */
        void tapApplies() {
            dev.tunCapReply(TunCapabilitiesReply.newBuilder().setOk(true)
                    .setAppliedFlags(caps.get(caps.size() - 1).getTunFlags()).build());
            dev.tapReadable();
        }

        void send(byte[] f) throws GuestFault {
            assertTrue(guest.send(f, 0, f.length) != DriverQueue.NONE);
            dev.kick(Vionet.TX);
        }

        NicStats stats() {
            return dev.stats();
        }

        long drops(String key) {
            return stats().getDropsOrDefault(key, 0);
        }
    }

    static NicConfig.Builder nic(long offered) {
        return NicConfig.newBuilder().setFeatures(offered).setMtu(1500);
    }

    static Rig full() throws GuestFault {
        long f = RING | HOST | GUEST | MRG | CTRL;
        Rig r = new Rig(nic(f), f, 1536);
        r.tapApplies();
        r.guest.postRx(64);
        return r;
    }

    static VirtioNetHdr hdrOf(byte[] b) {
        return new VirtioNetHdr().read(b, 0, VirtioNetHdr.SIZE);
    }

    static byte[] frameOf(byte[] b) {
        return Arrays.copyOfRange(b, VirtioNetHdr.SIZE, b.length);
    }

    // ---------------------------------------------------------------- transmit

    @Test
    void txPassesTsoFramesThroughWithTheirHeaderAndReturnsTheChainWithLengthZero() throws Exception {
        Rig r = full();
        byte[] f = Packets.tcp4(PEER, MAC, 20000, true, 1448);
        r.send(f);
        assertEquals(1, r.tap.written());
        byte[] out = r.tap.writtenFrame(0);
        assertArrayEquals(frameOf(f), frameOf(out));
        VirtioNetHdr h = hdrOf(out);
        assertEquals(VirtioNetHdr.F_NEEDS_CSUM, h.flags);
        assertEquals(VirtioNetHdr.GSO_TCPV4, h.gsoType);
        assertEquals(1448, h.gsoSize);
        assertEquals(34, h.csumStart);
        assertEquals(16, h.csumOffset);
        assertTrue(r.guest.tx.reap() != DriverQueue.NONE);
        assertEquals(0, r.guest.tx.usedLen());
        NicStats s = r.stats();
        assertEquals(1, s.getTxFrames());
        assertEquals(f.length - 12, s.getTxBytes());
        assertEquals(1, s.getTxTsoFrames());
        assertEquals(1, s.getTxCsumOffloaded());
        assertTrue(r.irqs[1] > 0, "TX interrupt on vector 1");
    }

    @Test
    void whileTheLoopPollsTheGuestIsAskedForNoKickAndItsFramesAreFoundInTheRing() throws Exception {
        Rig r = full();
        byte[] f = Packets.tcp4(PEER, MAC, 100, false, 0);
        r.send(f);
        r.guest.tx.kick();   // the driver's kick check after its add
        r.dev.startTxPoll();
        assertFalse(r.dev.txAvailable());
        for (int i = 0; i < 3; i++) {
            assertTrue(r.guest.send(f, 0, f.length) != DriverQueue.NONE);
            assertFalse(r.guest.tx.kick(), "a kick asked for while the loop polls");
        }
        assertTrue(r.dev.txAvailable(), "the frames are seen in the ring");
        assertEquals(1, r.tap.written(), "looking sends nothing");
        assertTrue(r.dev.endTxPoll(), "turning kicks back on reports them");
        r.dev.kick(Vionet.TX);
        assertEquals(4, r.tap.written());
        assertFalse(r.dev.txAvailable());
        assertTrue(r.guest.send(f, 0, f.length) != DriverQueue.NONE);
        assertTrue(r.guest.tx.kick(), "after the poll the next frame is kicked again");
    }

    @Test
    void txReadsAHeaderThatSpansDescriptors() throws Exception {
        Rig r = full();
        byte[] f = Packets.tcp4(PEER, MAC, 100, true, 0);
        r.guest.sendSplit(f, 0, f.length, 5);
        r.dev.kick(Vionet.TX);
        assertEquals(1, r.tap.written());
        assertArrayEquals(f, r.tap.writtenFrame(0));
    }

    @Test
    void txNeverPassesTheGuestsDataValidOrNumBuffersToTheTap() throws Exception {
        Rig r = full();
        byte[] f = Packets.tcp4(PEER, MAC, 100, false, 0);
        f[0] = VirtioNetHdr.F_DATA_VALID;
        f[10] = 7;
        r.send(f);
        byte[] out = r.tap.writtenFrame(0);
        assertEquals(0, out[0]);
        assertEquals(0, out[10]);
    }

    @Test
    void txSegmentsUsoInSoftwareUntilTheTapTakesUso() throws Exception {
        long f = RING | HOST | MRG;    // the guest takes no receive offloads: TUNSCAP never asks for USO
        Rig r = new Rig(nic(f), f, 1536);
        r.tapApplies();
        byte[] uso = Packets.udp4(PEER, MAC, 3000, true, 1000);
        r.send(uso);
        assertEquals(3, r.tap.written());
        for (int i = 0; i < 3; i++) {
            byte[] seg = r.tap.writtenFrame(i);
            assertEquals(0, hdrOf(seg).flags);
            assertEquals(0, hdrOf(seg).gsoType);
            assertEquals(12 + 14 + 20 + 8 + 1000, seg.length);
            assertTrue(Packets.checksumsValid(seg, 12, seg.length - 12), "segment " + i);
        }
        assertEquals(1, r.stats().getTxSwSegmented());

        // A guest that takes USO makes vionet ask for it; once the tap has it, USO passes.
        long g = RING | HOST | GUEST | MRG;
        Rig r2 = new Rig(nic(g), g, 1536);
        assertEquals(TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.TSO_ECN | TunFlags.USO4 | TunFlags.USO6,
                r2.caps.get(0).getTunFlags());
        r2.tapApplies();
        r2.send(uso);
        assertEquals(1, r2.tap.written());
        assertEquals(VirtioNetHdr.GSO_UDP_L4, hdrOf(r2.tap.writtenFrame(0)).gsoType);
        assertEquals(1, r2.stats().getTxUsoFrames());
    }

    @Test
    void aRefusedTuncapFallsBackToSoftwareForWhatTheTapRefused() throws Exception {
        long f = RING | HOST | GUEST | MRG;
        Rig r = new Rig(nic(f), f, 1536);
        int base = TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.TSO_ECN;
        r.dev.tunCapReply(TunCapabilitiesReply.newBuilder().setOk(false).setAppliedFlags(base)
                .setError(org.jvmd.proto.Error.newBuilder().setMessage("ioctl(TUNSETOFFLOAD): EINVAL").setErrno(22))
                .build());
        assertEquals(TunFlags.ALL, r.dev.tapMayGive(), "until the tap reads empty, frames of the old flags may come");
        r.dev.tapReadable();
        assertEquals(base, r.dev.tapMayGive());
        r.send(Packets.udp4(PEER, MAC, 3000, true, 1000));
        assertEquals(3, r.tap.written(), "USO segmented in software");
        r.guest.postRx(64);
        byte[] in = Packets.tcp4(MAC, PEER, 5000, true, 1448);
        r.tap.offer(in, 0, in.length);
        r.dev.tapReadable();
        assertEquals(VirtioNetHdr.GSO_TCPV4, hdrOf(r.guest.receive()).gsoType, "TSO still reaches the guest");
    }

    @Test
    void txFinishesTheChecksumOfASmallUsoFrameTheTapDoesNotKnow() throws Exception {
        long f = RING | HOST | MRG;
        Rig r = new Rig(nic(f), f, 1536);
        r.tapApplies();
        r.send(Packets.udp4(PEER, MAC, 500, true, 1000));
        byte[] out = r.tap.writtenFrame(0);
        assertEquals(0, hdrOf(out).flags);
        assertEquals(0, hdrOf(out).gsoType);
        assertTrue(Packets.checksumsValid(out, 12, out.length - 12));
        assertEquals(1, r.stats().getTxSwChecksummed());
    }

    @Test
    void txDropsOffloadsTheGuestDidNotNegotiate() throws Exception {
        long f = RING | MRG;     // no CSUM, no HOST_TSO
        Rig r = new Rig(nic(f), f, 1536);
        r.send(Packets.tcp4(PEER, MAC, 100, true, 0));
        r.send(Packets.tcp4(PEER, MAC, 5000, false, 1448));
        assertEquals(0, r.tap.written());
        assertEquals(1, r.drops("csum_not_negotiated"));
        assertEquals(1, r.drops("gso_not_negotiated"));
        assertEquals(2, r.guest.reapTx());
    }

    // ---------------------------------------------------------------- malformed input

    @Test
    void malformedHeadersAreDroppedAndCountedAndTheNextFrameStillPasses() throws Exception {
        Rig r = full();
        byte[] good = Packets.tcp4(PEER, MAC, 100, true, 0);

        byte[] csumPast = good.clone();
        csumPast[6] = (byte) 0xF0;     // csum_start far past the frame
        byte[] gsoZero = Packets.tcp4(PEER, MAC, 5000, true, 1448);
        gsoZero[4] = 0;
        gsoZero[5] = 0;
        byte[] hdrLenBig = Packets.tcp4(PEER, MAC, 100, false, 0);
        hdrLenBig[2] = (byte) 0xFF;
        hdrLenBig[3] = 0x7F;
        byte[] unknownGso = Packets.tcp4(PEER, MAC, 5000, true, 1448);
        unknownGso[1] = 2;
        byte[] csumOutside = Packets.tcp4(PEER, MAC, 100, true, 1448);
        int start = csumOutside.length - 12 - 19;     // csum field inside, TCP header not
        csumOutside[6] = (byte) start;
        csumOutside[7] = (byte) (start >> 8);

        for (byte[] bad : List.of(csumPast, gsoZero, hdrLenBig, unknownGso, csumOutside)) {
            r.send(bad);
        }
        r.send(good);
        assertEquals(1, r.tap.written(), "only the good frame reaches the tap");
        assertArrayEquals(good, r.tap.writtenFrame(0));
        assertEquals(1, r.drops("csum_outside_frame"));
        assertEquals(1, r.drops("gso_size_zero"));
        assertEquals(2, r.drops("hdr_len_beyond_frame"), "hdr_len, and csum_start past the frame");
        assertEquals(1, r.drops("unknown_gso_type"));
        assertEquals(6, r.guest.reapTx(), "every chain is returned: the guest never stalls");
    }

    @Test
    void malformedChainsAreCompletedWithLengthZeroAndCounted() throws Exception {
        Rig r = full();
        DriverQueue tx = r.guest.tx;
        // a descriptor pointing outside guest memory
        tx.readable(r.mem.size() - 4, 100);
        tx.add(false);
        // a loop: a descriptor whose next is itself (written by hand over a fresh chain)
        long buf = 4096;
        tx.readable(buf, 20).readable(buf + 20, 20);
        int head = tx.add(false);
        long d = tx.layout().descAddr(head);
        r.mem.writeShort(d + 14, (short) head);
        r.dev.kick(Vionet.TX);
        byte[] good = Packets.tcp4(PEER, MAC, 100, true, 0);
        r.send(good);
        assertEquals(1, r.tap.written());
        assertEquals(1, r.drops("address_out_of_range"));
        assertEquals(1, r.drops("chain_loop"));
        assertEquals(3, r.guest.reapTx());
    }

    @Test
    void txChainWithADeviceWritableDescriptorIsDroppedCountedAndUsedWithLengthZero() throws Exception {
        Rig r = full();
        DriverQueue tx = r.guest.tx;
        byte[] f = Packets.tcp4(PEER, MAC, 100, true, 0);
        long buf = 4096;
        r.mem.write(buf, f, 0, f.length);
        tx.readable(buf, 12).writable(buf + 12, f.length - 12);   // a readable header, then a writable frame
        int mixed = tx.add(false);
        tx.writable(buf, f.length);                               // nothing but a writable buffer
        int writableOnly = tx.add(false);
        r.dev.kick(Vionet.TX);
        assertEquals(0, r.tap.written(), "vionet never sends a device-writable buffer");
        assertEquals(2, r.drops("tx_writable_descriptor"));
        for (int expected : new int[] {mixed, writableOnly}) {
            assertEquals(expected, tx.reap());
            assertEquals(0, tx.usedLen());
        }
        r.send(f);
        assertEquals(1, r.tap.written(), "the next good frame still passes");
    }

    // ---------------------------------------------------------------- receive

    @Test
    void rxSpreadsA64kFrameOverMergeableBuffersAndSetsNumBuffers() throws Exception {
        Rig r = full();
        byte[] f = Packets.tcp4(MAC, PEER, 60000, true, 1448);
        assertTrue(r.tap.offer(f, 0, f.length));
        r.dev.tapReadable();
        byte[] got = r.guest.receive();
        assertNotNull(got);
        int numBuffers = (got[10] & 0xFF) | (got[11] & 0xFF) << 8;
        assertEquals((f.length + 1535) / 1536, numBuffers);
        assertArrayEquals(frameOf(f), frameOf(got));
        VirtioNetHdr h = hdrOf(got);
        assertEquals(VirtioNetHdr.GSO_TCPV4, h.gsoType);
        assertEquals(VirtioNetHdr.F_NEEDS_CSUM, h.flags);
        NicStats s = r.stats();
        assertEquals(1, s.getRxFrames());
        assertEquals(1, s.getRxGsoFrames());
        assertTrue(r.irqs[0] > 0);
        assertNull(r.guest.receive());
    }

    @Test
    void aPollingLookAtTheTapReceivesWhatItHoldsAndSaysWhetherItHeldAnything() throws Exception {
        Rig r = full();
        int irqs = r.irqs[0];
        assertFalse(r.dev.pollTap(), "an empty tap");
        assertEquals(irqs, r.irqs[0], "no interrupt for nothing");
        byte[] f = Packets.tcp4(MAC, PEER, 100, false, 0);
        assertTrue(r.tap.offer(f, 0, f.length));
        assertTrue(r.tap.offer(f, 0, f.length));
        assertTrue(r.dev.pollTap(), "the look took the frames");
        assertTrue(r.irqs[0] > irqs, "and raised the interrupt");
        assertArrayEquals(frameOf(f), frameOf(r.guest.receive()));
        assertArrayEquals(frameOf(f), frameOf(r.guest.receive()));
        assertNull(r.guest.receive());
        assertFalse(r.dev.pollTap());
        byte[] runt = new byte[VirtioNetHdr.SIZE + 6];
        assertTrue(r.tap.offer(runt, 0, runt.length));
        assertTrue(r.dev.pollTap(), "a runt read and dropped is something found too");
        assertEquals(1, r.drops("rx_runt"));
    }

    @Test
    void rxWithoutMergeableBuffersPutsTheFrameInOneBigBuffer() throws Exception {
        long f = RING | HOST | GUEST;
        Rig r = new Rig(nic(f), f, 65562, 8);
        r.tapApplies();
        r.guest.postRx(8);
        byte[] frame = Packets.tcp4(MAC, PEER, 30000, true, 1448);
        r.tap.offer(frame, 0, frame.length);
        r.dev.tapReadable();
        byte[] got = r.guest.receive();
        assertArrayEquals(frameOf(frame), frameOf(got));
        assertEquals(1, (got[10] & 0xFF) | (got[11] & 0xFF) << 8, "num_buffers is 1 without MRG_RXBUF");
    }

    @Test
    void rxMasksDataValidWithoutGuestCsum() throws Exception {
        long f = RING | HOST | MRG;
        Rig r = new Rig(nic(f), f, 1536);
        r.tapApplies();
        r.guest.postRx(16);
        byte[] frame = Packets.tcp4(MAC, PEER, 100, false, 0);
        frame[0] = VirtioNetHdr.F_DATA_VALID;
        r.tap.offer(frame, 0, frame.length);
        r.dev.tapReadable();
        byte[] got = r.guest.receive();
        assertEquals(0, hdrOf(got).flags);
        assertArrayEquals(frameOf(frame), frameOf(got));
    }

    @Test
    void rxFinishesPartialChecksumsForAGuestWithoutGuestCsum() throws Exception {
        long f = RING | HOST | MRG;
        Rig r = new Rig(nic(f), f, 1536);
        r.tapApplies();
        r.guest.postRx(16);
        // A frame the tap made before its offloads were switched off.
        byte[] frame = Packets.tcp4(MAC, PEER, 1000, true, 0);
        r.tap.offer(frame, 0, frame.length);
        r.dev.tapReadable();
        byte[] got = r.guest.receive();
        assertEquals(0, hdrOf(got).flags);
        assertTrue(Packets.checksumsValid(got, 12, got.length - 12));
        assertEquals(1, r.stats().getRxSwChecksummed());
    }

    @Test
    void rxSegmentsGsoFramesForAGuestWithoutGuestTso() throws Exception {
        long f = RING | HOST | MRG | bit(VirtioNetFeatures.GUEST_CSUM);
        Rig r = new Rig(nic(f), f, 1536);
        // no reply yet: vionet must not assume the tap obeyed (the scratch path checks every header)
        r.guest.postRx(64);
        byte[] frame = Packets.tcp4(MAC, PEER, 4000, true, 1448);
        r.tap.offer(frame, 0, frame.length);
        r.dev.tapReadable();
        int n = 0;
        for (byte[] got; (got = r.guest.receive()) != null; n++) {
            VirtioNetHdr h = hdrOf(got);
            assertEquals(VirtioNetHdr.GSO_NONE, h.gsoType);
            assertEquals(VirtioNetHdr.F_DATA_VALID, h.flags);
            assertTrue(got.length - 12 <= 14 + 20 + 20 + 1448);
            assertTrue(Packets.checksumsValid(got, 12, got.length - 12), "segment " + n);
        }
        assertEquals(3, n);
        assertEquals(1, r.stats().getRxSwSegmented());
        assertEquals(3, r.stats().getRxFrames());
    }

    @Test
    void rxSegmentsWaitingForBuffersSurviveATxSegmentationMeanwhile() throws Exception {
        // Received segments waiting in the backlog used to share the segmenter's output
        // array with transmit, so segmenting a guest frame meanwhile overwrote them.
        long f = RING | HOST | MRG | bit(VirtioNetFeatures.GUEST_CSUM);
        Rig r = new Rig(nic(f), f, 1536);
        byte[] frame = Packets.tcp4(MAC, PEER, 4000, true, 1448);
        r.tap.offer(frame, 0, frame.length);
        r.dev.tapReadable();                       // segmented in software; no buffers: they wait
        assertNull(r.guest.receive());
        r.send(Packets.udp4(PEER, MAC, 3000, true, 1000));   // USO, segmented in software on transmit
        assertEquals(3, r.tap.written());
        r.guest.postRx(64);
        r.dev.kick(Vionet.RX);
        int n = 0;
        for (byte[] got; (got = r.guest.receive()) != null; n++) {
            assertTrue(Packets.checksumsValid(got, 12, got.length - 12), "segment " + n);
            assertEquals(6, got[12 + 14 + 9], "segment " + n + " is still TCP");
        }
        assertEquals(3, n);
    }

    @Test
    void rxWaitsForBuffersAndResumesOnTheGuestsKick() throws Exception {
        long f = RING | HOST | GUEST | MRG;
        Rig r = new Rig(nic(f), f, 1536);
        r.tapApplies();
        byte[] frame = Packets.tcp4(MAC, PEER, 100, false, 0);
        r.tap.offer(frame, 0, frame.length);
        r.dev.tapReadable();
        assertFalse(r.dev.wantsTap(), "no buffers: the tap is not polled");
        assertEquals(1, r.tap.pendingReads(), "the frame stays in the tap");
        r.guest.postRx(64);
        assertTrue(r.guest.rx.kick(), "the device asked for a kick");
        r.dev.kick(Vionet.RX);
        assertTrue(r.dev.wantsTap());
        r.dev.tapReadable();
        assertArrayEquals(frameOf(frame), frameOf(r.guest.receive()));
    }

    @Test
    void rxTruncatedFramesAreDroppedAndTheBuffersReused() throws Exception {
        long f = RING | HOST | GUEST;       // no MRG_RXBUF, small buffers
        Rig r = new Rig(nic(f), f, 1530, 8);
        r.tapApplies();
        r.guest.postRx(8);
        byte[] big = Packets.tcp4(MAC, PEER, 3000, true, 1448);
        byte[] small = Packets.tcp4(MAC, PEER, 100, true, 0);
        r.tap.offer(big, 0, big.length);
        r.tap.offer(small, 0, small.length);
        r.dev.tapReadable();
        assertArrayEquals(frameOf(small), frameOf(r.guest.receive()));
        assertNull(r.guest.receive());
        assertEquals(1, r.drops("rx_truncated"));
    }

    @Test
    void aGuestWithEveryOffloadOffStillWorksBothWays() throws Exception {
        long f = bit(VirtioNetFeatures.VERSION_1);      // no offloads, no MRG_RXBUF, no EVENT_IDX
        Rig r = new Rig(nic(f), f, 12 + 1518, 16);
        assertEquals(0, r.caps.get(0).getTunFlags());
        r.tapApplies();
        r.guest.postRx(16);
        byte[] out = Packets.tcp4(PEER, MAC, 1400, false, 0);
        r.send(out);
        assertArrayEquals(out, r.tap.writtenFrame(0));
        byte[] in = Packets.tcp4(MAC, PEER, 1400, false, 0);
        in[0] = VirtioNetHdr.F_DATA_VALID;
        r.tap.offer(in, 0, in.length);
        r.dev.tapReadable();
        byte[] got = r.guest.receive();
        assertEquals(0, hdrOf(got).flags);
        assertArrayEquals(frameOf(in), frameOf(got));
        assertTrue(r.irqs[0] > 0 && r.irqs[1] > 0, "interrupts without EVENT_IDX");
    }

    // ---------------------------------------------------------------- vmd's interface features

    @Test
    void lockedLladdrDropsSpoofedTxAndRxForOtherMacs() throws Exception {
        long f = RING | HOST | GUEST | MRG;
        Rig r = new Rig(nic(f).setLockedLladdr(true), f, 1536);
        r.tapApplies();
        r.guest.postRx(64);
        r.send(Packets.tcp4(PEER, OTHER, 100, true, 0));        // spoofed source
        byte[] ok = Packets.tcp4(PEER, MAC, 100, true, 0);
        r.send(ok);
        assertEquals(1, r.tap.written());
        assertArrayEquals(ok, r.tap.writtenFrame(0));
        assertEquals(1, r.drops("locked_lladdr_tx"));

        byte[] notOurs = Packets.tcp4(OTHER, PEER, 100, false, 0);
        byte[] ours = Packets.tcp4(MAC, PEER, 100, false, 0);
        byte[] bcast = Packets.tcp4(new byte[] {-1, -1, -1, -1, -1, -1}, PEER, 100, false, 0);
        r.tap.offer(notOurs, 0, notOurs.length);
        r.tap.offer(ours, 0, ours.length);
        r.tap.offer(bcast, 0, bcast.length);
        r.dev.tapReadable();
        assertArrayEquals(frameOf(ours), frameOf(r.guest.receive()));
        assertArrayEquals(frameOf(bcast), frameOf(r.guest.receive()));
        assertNull(r.guest.receive());
        assertEquals(1, r.drops("locked_lladdr_rx"));
    }

    @Test
    void lockedLladdrOnATapVmdFilteredReceivesStraightIntoGuestBuffers() throws Exception {
        long f = RING | HOST | GUEST | MRG;
        for (boolean filtered : new boolean[] {false, true}) {
            Rig r = new Rig(nic(f).setLockedLladdr(true).setTapFiltered(filtered), f, 1536);
            r.tapApplies();
            r.guest.postRx(64);
            byte[] big = Packets.tcp4(MAC, PEER, 60000, true, 1448);
            assertTrue(r.tap.offer(big, 0, big.length));
            r.dev.tapReadable();
            assertArrayEquals(frameOf(big), frameOf(r.guest.receive()));
            assertEquals(filtered ? 1 : 0, r.tap.directReads(),
                    filtered ? "the kernel filters the tap: no staging copy" : "unfiltered: staged outside guest memory");
        }
    }

    @Test
    void aFilteredLockedTapsFrameForAnotherMacIsStillDropped() throws Exception {
        long f = RING | HOST | GUEST | MRG;
        Rig r = new Rig(nic(f).setLockedLladdr(true).setTapFiltered(true), f, 1536);
        r.tapApplies();
        r.guest.postRx(64);
        byte[] notOurs = Packets.tcp4(OTHER, PEER, 1000, false, 0);   // the kernel filter would have refused it
        byte[] ours = Packets.tcp4(MAC, PEER, 1000, false, 0);
        for (int i = 0; i < 8; i++) {
            r.tap.offer(notOurs, 0, notOurs.length);
        }
        r.tap.offer(ours, 0, ours.length);
        r.dev.tapReadable();
        byte[] got = r.guest.receive();
        assertArrayEquals(frameOf(ours), frameOf(got));
        assertEquals(1, hdrOf(got).numBuffers);
        assertNull(r.guest.receive(), "the dropped frames' buffers were never given back as used");
        assertEquals(8, r.drops("locked_lladdr_rx"));
        assertEquals(1, r.stats().getRxFrames());
    }

    @Test
    void lockedLladdrStagesFramesOutsideGuestMemoryThenCopiesThemIntoMergeableBuffers() throws Exception {
        long f = RING | HOST | GUEST | MRG | CTRL;
        Rig r = new Rig(nic(f).setLockedLladdr(true), f, 1536);
        r.tapApplies();
        byte[] big = Packets.tcp4(MAC, PEER, 60000, true, 1448);
        assertTrue(r.tap.offer(big, 0, big.length));
        r.dev.tapReadable();
        assertNull(r.guest.receive(), "no buffers yet: the frame waits");
        r.guest.postRx(64);
        r.dev.kick(Vionet.RX);
        byte[] got = r.guest.receive();
        assertNotNull(got);
        assertArrayEquals(frameOf(big), frameOf(got));
        VirtioNetHdr h = hdrOf(got);
        assertEquals((big.length + 1535) / 1536, h.numBuffers);
        assertEquals(VirtioNetHdr.GSO_TCPV4, h.gsoType);
        assertEquals(VirtioNetHdr.F_NEEDS_CSUM, h.flags);
        byte[] next = Packets.tcp4(MAC, PEER, 30000, true, 1448);
        assertTrue(r.tap.offer(next, 0, next.length));
        r.dev.tapReadable();
        got = r.guest.receive();
        assertNotNull(got, "with buffers posted the staged frame goes straight in");
        assertArrayEquals(frameOf(next), frameOf(got));
        assertEquals(2, r.stats().getRxFrames());
    }

    @Test
    void controlQueueAcksRxModesAndGuestOffloadsAndRefusesTheRest() throws Exception {
        Rig r = full();
        int before = r.caps.size();
        long promisc = r.guest.control(VionetCtrl.CLASS_RX, VionetCtrl.RX_PROMISC, new byte[] {0});
        long table = r.guest.control(VionetCtrl.CLASS_MAC, VionetCtrl.MAC_TABLE_SET,
                new byte[] {1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0});
        byte[] csumOnly = new byte[8];
        csumOnly[0] = (byte) bit(VirtioNetFeatures.GUEST_CSUM);
        long offloads = r.guest.control(VionetCtrl.CLASS_GUEST_OFFLOADS, VionetCtrl.GUEST_OFFLOADS_SET, csumOnly);
        byte[] notAcked = new byte[8];
        notAcked[1] = 0x04;      // GUEST_UFO (bit 10) was never negotiated
        long refused = r.guest.control(VionetCtrl.CLASS_GUEST_OFFLOADS, VionetCtrl.GUEST_OFFLOADS_SET, notAcked);
        long unknown = r.guest.control(9, 0, new byte[] {1});
        r.dev.kick(Vionet.CTRL);
        assertEquals(0, r.mem.readByte(promisc));
        assertEquals(0, r.mem.readByte(table));
        assertEquals(0, r.mem.readByte(offloads));
        assertEquals(1, r.mem.readByte(refused));
        assertEquals(1, r.mem.readByte(unknown));
        assertFalse(r.dev.promiscuous());
        assertEquals(before + 1, r.caps.size(), "one TUNSCAP for the accepted offload change");
        assertEquals(TunFlags.CSUM, r.caps.get(r.caps.size() - 1).getTunFlags());
        assertEquals(2, r.drops("ctrl_bad_command"));
        assertTrue(r.irqs[2] > 0);
    }

    @Test
    void dhcpDiscoverAndRequestAreAnsweredLocallyAndNotForwarded() throws Exception {
        long f = RING | HOST | GUEST | MRG;
        NicConfig.Builder local = nic(f).setLocal(true)
                .setLocalGuestAddr(ByteString.copyFrom(new byte[] {100, 64, 7, 3}))
                .setLocalGatewayAddr(ByteString.copyFrom(new byte[] {100, 64, 7, 2}))
                .setLocalPrefixLen(31);
        Rig r = new Rig(local, f, 1536);
        r.guest.postRx(16);
        r.send(DhcpPackets.request(MAC, DhcpMessage.DISCOVER, 0x1234, 0, 0, 0, true));
        byte[] offer = r.guest.receive();
        assertNotNull(offer, "an OFFER arrives on the receive queue");
        DhcpPackets.Reply o = DhcpPackets.parseReply(offer, 12);
        assertEquals(DhcpMessage.OFFER, o.type());
        assertEquals(0x1234, o.xid());
        assertEquals(0x64400703, o.yiaddr());
        assertEquals(0x64400702, o.serverId());
        assertEquals(0xFFFFFFFE, o.netmask());
        assertEquals(0x64400702, o.router());

        r.send(DhcpPackets.request(MAC, DhcpMessage.REQUEST, 0x1235, 0, 0x64400703, 0x64400702, false));
        DhcpPackets.Reply ack = DhcpPackets.parseReply(r.guest.receive(), 12);
        assertEquals(DhcpMessage.ACK, ack.type());
        assertEquals(0x64400703, ack.yiaddr());

        r.send(DhcpPackets.request(MAC, DhcpMessage.REQUEST, 0x1236, 0, 0x64400709, 0, false));
        assertEquals(DhcpMessage.NAK, DhcpPackets.parseReply(r.guest.receive(), 12).type());
        assertEquals(0, r.tap.written(), "DHCP of a local interface never reaches the tap");
    }

    /** Regression (found by VionetDevicePropertiesTest): a RELEASE was consumed without being counted. */
    @Test
    void dhcpMessagesThatNeedNoAnswerAreCountedAndNotForwarded() throws Exception {
        long f = RING | HOST | GUEST | MRG;
        NicConfig.Builder local = nic(f).setLocal(true)
                .setLocalGuestAddr(ByteString.copyFrom(new byte[] {100, 64, 7, 3}))
                .setLocalGatewayAddr(ByteString.copyFrom(new byte[] {100, 64, 7, 2}));
        Rig r = new Rig(local, f, 1536);
        r.guest.postRx(16);
        r.send(DhcpPackets.request(MAC, DhcpMessage.RELEASE, 0x1234, 0x64400703, 0, 0x64400702, false));
        assertEquals(1, r.guest.reapTx());
        assertNull(r.guest.receive(), "a RELEASE has no answer");
        assertEquals(0, r.tap.written(), "nor does it reach the tap");
        assertEquals(1, r.drops("dhcp_unanswered"));
        assertEquals(0, r.stats().getTxFrames());
    }

    // ---------------------------------------------------------------- faults and life cycle

    @Test
    void tapErrorsAreCountedNeverFatal() throws Exception {
        Rig r = full();
        r.tap.failWrites(5, 1);     // EIO: link down
        r.send(Packets.tcp4(PEER, MAC, 100, true, 0));
        r.tap.failWrites(105, 1);   // ENOBUFS
        r.send(Packets.tcp4(PEER, MAC, 100, true, 0));
        r.tap.failReads(22, 1);     // EINVAL on read
        r.dev.tapReadable();
        r.send(Packets.tcp4(PEER, MAC, 100, true, 0));
        assertEquals(1, r.tap.written());
        NicStats s = r.stats();
        assertEquals(3, s.getTapErrors());
        assertEquals(1, s.getDropsOrDefault("tap_eio", 0));
        assertEquals(1, s.getDropsOrDefault("tap_enobufs", 0));
        assertEquals(1, s.getDropsOrDefault("tap_einval", 0));
        assertEquals(3, r.guest.reapTx());
    }

    /** Regression (found by VionetDevicePropertiesTest): each failed segment was counted as a dropped frame. */
    @Test
    void aSegmentedFrameWhoseWritesFailIsOneDroppedFrameAndATapErrorPerWrite() throws Exception {
        long f = RING | HOST | MRG;    // no USO asked of the tap: USO is segmented in software
        Rig r = new Rig(nic(f), f, 1536);
        r.tapApplies();
        r.tap.failWrites(5, 2);
        r.send(Packets.udp4(PEER, MAC, 3000, true, 1000));
        assertEquals(1, r.tap.written(), "the third segment went through");
        assertEquals(1, r.guest.reapTx());
        NicStats s = r.stats();
        assertEquals(1, s.getDropsOrDefault("tx_tap_error", 0));
        assertEquals(2, s.getTapErrors());
        assertEquals(0, s.getTxFrames());
    }

    /** A chain too long for any frame is a counted drop of the transmit path, like one too short, not a ring fault. */
    @Test
    void txChainsTooShortOrTooLongAreDroppedCountedAndReturned() throws Exception {
        Rig r = full();
        byte[] tooLong = new byte[12 + Vionet.MAX_FRAME + 1];
        System.arraycopy(Packets.tcp4(PEER, MAC, 100, false, 0), 0, tooLong, 0, 12 + 54 + 100);
        r.guest.send(tooLong, 0, tooLong.length);
        r.guest.send(new byte[8], 0, 8);
        r.dev.kick(Vionet.TX);
        assertEquals(2, r.guest.reapTx());
        assertEquals(0, r.tap.written());
        assertEquals(1, r.drops("frame_too_long"));
        assertEquals(1, r.drops("frame_too_short"));
        assertEquals(0, r.dev.ringCounters()[Vionet.TX].total(), "the ring itself was fine");
        assertEquals(2, VionetPaths.tx(r.dev).drops(NicCounters.Drop.FRAME_TOO_LONG)
                + VionetPaths.tx(r.dev).drops(org.jvmd.virtio.net.DropReason.FRAME_TOO_SHORT));
    }

    @Test
    void resetMidTrafficStopsTheQueuesAsksForNoOffloadsAndRenegotiates() throws Exception {
        Rig r = full();
        byte[] f = Packets.tcp4(PEER, MAC, 100, true, 0);
        r.guest.send(f, 0, f.length);        // queued, not kicked
        byte[] in = Packets.tcp4(MAC, PEER, 100, false, 0);
        r.tap.offer(in, 0, in.length);
        r.dev.reset();
        TunCapabilities last = r.caps.get(r.caps.size() - 1);
        assertEquals(0, last.getTunFlags());
        assertEquals(0, last.getTunFlags() & TunFlags.CSUM);
        assertFalse(r.dev.wantsTap());
        r.dev.kick(Vionet.TX);
        assertEquals(0, r.tap.written(), "a reset device does not touch the old rings");

        // the driver starts over on fresh rings
        long feat = RING | HOST | GUEST | MRG;
        GuestDriver g2 = new GuestDriver(r.mem, feat, 64, 1536, false);
        g2.configure(r.dev, feat);
        r.dev.tunCapReply(TunCapabilitiesReply.newBuilder().setOk(true).build());   // the reset's TUNSCAP
        r.tapApplies();
        g2.postRx(64);
        g2.send(f, 0, f.length);
        r.dev.kick(Vionet.TX);
        assertEquals(1, r.tap.written());
        r.dev.tapReadable();
        assertArrayEquals(frameOf(in), frameOf(g2.receive()));
    }

    @Test
    void statsCountFramesBytesAndDropsByReason() throws Exception {
        Rig r = full();
        r.send(Packets.tcp4(PEER, MAC, 100, true, 0));
        byte[] bad = Packets.tcp4(PEER, MAC, 5000, true, 1448);
        bad[1] = 9;
        r.send(bad);
        byte[] in = Packets.tcp4(MAC, PEER, 200, false, 0);
        r.tap.offer(in, 0, in.length);
        r.dev.tapReadable();
        NicStats s = r.stats();
        assertEquals(1, s.getTxFrames());
        assertEquals(100 + 54, s.getTxBytes());
        assertEquals(1, s.getRxFrames());
        assertEquals(200 + 54, s.getRxBytes());
        assertEquals(1, s.getDropsOrDefault("unknown_gso_type", 0));
    }

    @Test
    void aBogusAvailIndexStopsOnlyThatQueueUntilReset() throws Exception {
        Rig r = full();
        r.mem.writeShort(r.guest.tx.layout().availIdx(), (short) 1000);
        r.dev.kick(Vionet.TX);
        assertEquals(1, r.drops("queue_broken"));
        byte[] in = Packets.tcp4(MAC, PEER, 200, false, 0);
        r.tap.offer(in, 0, in.length);
        r.dev.tapReadable();
        assertNotNull(r.guest.receive(), "receive still works");
    }

    static final byte[] BCAST = {-1, -1, -1, -1, -1, -1};
    static final byte[] TABLE_UNI = {2, 0, 0, 0, 0, 7};
    static final byte[] TABLE_MULTI = {1, 0, 0x5e, 0, 0, 5};
    static final byte[] OTHER_MULTI = {1, 0, 0x5e, 0, 0, 6};

    /** MAC_TABLE_SET data: one unicast entry and one multicast entry. */
    static byte[] macTable(byte[] uni, byte[] multi) {
        byte[] d = new byte[4 + 6 + 4 + 6];
        d[0] = 1;
        System.arraycopy(uni, 0, d, 4, 6);
        d[10] = 1;
        System.arraycopy(multi, 0, d, 14, 6);
        return d;
    }

    /** Offers one small frame to each address and returns which of them the guest received, in order. */
    static List<String> deliveredOf(Rig r, byte[]... dsts) throws GuestFault {
        for (byte[] dst : dsts) {
            byte[] f = Packets.tcp4(dst, PEER, 100, false, 0);
            assertTrue(r.tap.offer(f, 0, f.length));
        }
        r.dev.tapReadable();
        List<String> got = new ArrayList<>();
        byte[] g;
        while ((g = r.guest.receive()) != null) {
            got.add(Arrays.toString(Arrays.copyOfRange(g, 12, 18)));
        }
        r.guest.postRx(16);
        return got;
    }

    static List<String> names(byte[]... macs) {
        List<String> l = new ArrayList<>();
        for (byte[] m : macs) {
            l.add(Arrays.toString(m));
        }
        return l;
    }

    void rxAppliesTheMacFilter(Rig r) throws Exception {
        byte[][] all = {MAC, OTHER, TABLE_UNI, BCAST, TABLE_MULTI, OTHER_MULTI};
        assertEquals(names(all), deliveredOf(r, all), "promiscuous until the driver sets the filter");
        r.guest.control(VionetCtrl.CLASS_RX, VionetCtrl.RX_PROMISC, new byte[] {0});
        r.guest.control(VionetCtrl.CLASS_RX, VionetCtrl.RX_ALLMULTI, new byte[] {0});
        long table = r.guest.control(VionetCtrl.CLASS_MAC, VionetCtrl.MAC_TABLE_SET, macTable(TABLE_UNI, TABLE_MULTI));
        r.dev.kick(Vionet.CTRL);
        assertEquals(0, r.mem.readByte(table));
        assertEquals(names(MAC, TABLE_UNI, BCAST, TABLE_MULTI), deliveredOf(r, all));
        assertEquals(2, r.drops("rx_mac_filter"));
        r.guest.control(VionetCtrl.CLASS_RX, VionetCtrl.RX_ALLMULTI, new byte[] {1});
        r.dev.kick(Vionet.CTRL);
        assertEquals(names(MAC, TABLE_UNI, BCAST, TABLE_MULTI, OTHER_MULTI), deliveredOf(r, all));
        assertEquals(3, r.drops("rx_mac_filter"));
        r.guest.control(VionetCtrl.CLASS_RX, VionetCtrl.RX_PROMISC, new byte[] {1});
        r.dev.kick(Vionet.CTRL);
        assertEquals(names(all), deliveredOf(r, all));
        assertEquals(3, r.drops("rx_mac_filter"));
    }

    @Test
    void rxDropsUnicastAndMulticastTheMacFilterExcludesOnTheDirectPath() throws Exception {
        rxAppliesTheMacFilter(full());
    }

    @Test
    void rxDropsUnicastAndMulticastTheMacFilterExcludesOnTheScratchPath() throws Exception {
        long f = RING | HOST | GUEST | MRG | CTRL;
        Rig r = new Rig(nic(f), f, 1536);   // no TUNSCAP answer yet: every frame goes through the scratch path
        r.guest.postRx(64);
        rxAppliesTheMacFilter(r);
    }

    @Test
    void macTableSetRefusesMalformedTablesAndKeepsTheOldOne() throws Exception {
        Rig r = full();
        r.guest.control(VionetCtrl.CLASS_RX, VionetCtrl.RX_PROMISC, new byte[] {0});
        r.guest.control(VionetCtrl.CLASS_MAC, VionetCtrl.MAC_TABLE_SET, macTable(TABLE_UNI, TABLE_MULTI));
        byte[] shortTable = Arrays.copyOf(macTable(OTHER, OTHER_MULTI), 19);
        long bad = r.guest.control(VionetCtrl.CLASS_MAC, VionetCtrl.MAC_TABLE_SET, shortTable);
        r.dev.kick(Vionet.CTRL);
        assertEquals(1, r.mem.readByte(bad));
        assertEquals(names(TABLE_UNI), deliveredOf(r, OTHER, TABLE_UNI));
    }

    @Test
    void macAddrSetMovesTheFilterAndIsRefusedForAnotherMacWhenLocked() throws Exception {
        long f = RING | HOST | GUEST | MRG | CTRL | bit(VirtioNetFeatures.CTRL_MAC_ADDR);
        Rig open = new Rig(nic(f), f, 1536);
        open.tapApplies();
        open.guest.postRx(64);
        open.guest.control(VionetCtrl.CLASS_RX, VionetCtrl.RX_PROMISC, new byte[] {0});
        long moved = open.guest.control(VionetCtrl.CLASS_MAC, VionetCtrl.MAC_ADDR_SET, OTHER);
        open.dev.kick(Vionet.CTRL);
        assertEquals(0, open.mem.readByte(moved));
        assertEquals(names(OTHER), deliveredOf(open, MAC, OTHER));

        Rig locked = new Rig(nic(f).setLockedLladdr(true), f, 1536);
        locked.tapApplies();
        locked.guest.postRx(64);
        long refused = locked.guest.control(VionetCtrl.CLASS_MAC, VionetCtrl.MAC_ADDR_SET, OTHER);
        long same = locked.guest.control(VionetCtrl.CLASS_MAC, VionetCtrl.MAC_ADDR_SET, MAC);
        locked.dev.kick(Vionet.CTRL);
        assertEquals(1, locked.mem.readByte(refused));
        assertEquals(0, locked.mem.readByte(same));
    }

    @Test
    void theHotPathsAllocateNothingPerPacket() throws Exception {
        assertNoAllocationPerPacket(full());
    }

    @Test
    void theStagedReceivePathOfLockedLladdrAllocatesNothingPerPacket() throws Exception {
        long f = RING | HOST | GUEST | MRG | CTRL;
        Rig r = new Rig(nic(f).setLockedLladdr(true), f, 1536);
        r.tapApplies();
        r.guest.postRx(64);
        assertNoAllocationPerPacket(r);
    }

    static void assertNoAllocationPerPacket(Rig r) throws Exception {
        byte[] out = Packets.tcp4(PEER, MAC, 1400, true, 0);
        byte[] tso = Packets.tcp4(PEER, MAC, 30000, true, 1448);
        byte[] in = Packets.tcp4(MAC, PEER, 1400, true, 0);
        Runnable round = () -> {
            try {
                for (int i = 0; i < 16; i++) {
                    r.guest.send(i % 4 == 0 ? tso : out, 0, i % 4 == 0 ? tso.length : out.length);
                    r.tap.offer(in, 0, in.length);
                }
                r.dev.kick(Vionet.TX);
                r.dev.tapReadable();
                r.guest.reapTx();
                while (r.guest.rx.reap() != DriverQueue.NONE) {
                    r.guest.postRx(1);
                }
            } catch (GuestFault e) {
                throw new AssertionError(e);
            }
        };
        for (int i = 0; i < 2000; i++) {
            round.run();     // warm up: JIT, lazily built state
        }
        long[] ran = {2000};
        Runnable counted = () -> {
            round.run();
            ran[0]++;
        };
        Allocation.assertNonePerCall("rounds of 32 packets", counted, 2000, 20, 2000 * 32 / 10);
        assertEquals(ran[0] * 16L, r.stats().getTxFrames());     // every frame sent went out
    }
}
