package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvmd.virtio.net.VirtioNetFeatures.bit;
import static org.jvmd.virtio.net.VirtioNetFeatures.has;

import com.google.protobuf.ByteString;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.HeapGuestMemory;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * The whole device against a hostile guest and a hostile tap: generated sequences of
 * transmit chains (good frames, random virtio_net_hdr headers, random bytes, too short and
 * too long, writable descriptors, DHCP), tap frames (good, random headers, runts, oversize),
 * receive buffers (good and too small), control-queue commands (valid and random), TUNSCAP
 * answers (applied, refused, unasked), tap errors, spurious kicks, a bogus avail.idx,
 * resets and feature renegotiation, on heap guest memory and the in-memory tap. The shell's loop is played by
 * {@link #pump}; the guest kicks only when the ring's notification suppression says so, so
 * a lost wake-up shows as a stall. After every step:
 * <ul>
 * <li>nothing throws, and no queue is stopped but one whose avail.idx the guest made bogus
 *     (until the next reset; the other queues keep working);</li>
 * <li>{@code used.idx} never passes {@code avail.idx} on any queue;</li>
 * <li>every chain the device returns was in flight and is returned once (the driver side
 *     checks id and length), a transmit chain with length 0, a control chain with its ack;</li>
 * <li>every header the guest receives carries only offloads it negotiated.</li>
 * </ul>
 * At drain points (and at the end) the guest keeps reaping and offering buffers: the tap
 * must then empty, the backlog drain and every transmit and control chain come back (the
 * guest is never stalled while buffers exist); and the counters add up: each transmit chain
 * has exactly one outcome (a frame, a DHCP answer, a counted drop or a ring fault), each
 * frame the guest took is one {@code rx_frames} with its bytes, and each frame read from
 * the tap has at least one outcome.
 */
class VionetDevicePropertiesTest {
    static final byte[] MAC = {2, 0, 0, 0, 0, 1};
    static final byte[] PEER = {2, 0, 0, 0, 0, 2};
    static final byte[] OTHER = {2, 0, 0, 0, 0, 9};
    static final byte[] BCAST = {-1, -1, -1, -1, -1, -1};
    static final byte[] MULTI = {1, 0, 0x5e, 0, 0, 5};
    static final byte[][] ADDRS = {MAC, PEER, OTHER, BCAST, MULTI};
    static final int HDR = VirtioNetHdr.SIZE;
    static final int TX_SLOT = HDR + Vionet.MAX_FRAME + 64;
    static final int CTRL_SLOT = 128;
    static final int CTRL_SIZE = 16;
    static final long V1 = bit(VirtioNetFeatures.VERSION_1);

    enum Kind {
        TX_FRAME, TX_HOSTILE_HEADER, TX_RANDOM, TX_WRITABLE, TX_DHCP,
        TAP_FRAME, TAP_HOSTILE_HEADER, TAP_RANDOM,
        RX_POST, RX_SMALL, RX_REAP, TX_REAP,
        CTRL_COMMAND, CTRL_RANDOM,
        TUNCAP_OK, TUNCAP_REFUSED,
        TAP_WRITE_ERRORS, TAP_READ_ERRORS, SPURIOUS_KICK,
        RESET, RENEGOTIATE, DRAIN, CORRUPT_AVAIL, POLL
    }

    record Op(Kind kind, int a, int b, int c, long bits) {
        @Override
        public String toString() {
            return kind + "(" + a + "," + b + "," + c + ",0x" + Long.toHexString(bits) + ")";
        }
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Kind> kind = Arbitraries.frequency(
                Tuple.of(8, Kind.TX_FRAME), Tuple.of(4, Kind.TX_HOSTILE_HEADER),
                Tuple.of(2, Kind.TX_RANDOM), Tuple.of(1, Kind.TX_WRITABLE),
                Tuple.of(1, Kind.TX_DHCP), Tuple.of(8, Kind.TAP_FRAME),
                Tuple.of(4, Kind.TAP_HOSTILE_HEADER), Tuple.of(2, Kind.TAP_RANDOM),
                Tuple.of(5, Kind.RX_POST), Tuple.of(1, Kind.RX_SMALL),
                Tuple.of(4, Kind.RX_REAP), Tuple.of(2, Kind.TX_REAP),
                Tuple.of(3, Kind.CTRL_COMMAND), Tuple.of(1, Kind.CTRL_RANDOM),
                Tuple.of(2, Kind.TUNCAP_OK), Tuple.of(1, Kind.TUNCAP_REFUSED),
                Tuple.of(1, Kind.TAP_WRITE_ERRORS), Tuple.of(1, Kind.TAP_READ_ERRORS),
                Tuple.of(1, Kind.SPURIOUS_KICK), Tuple.of(1, Kind.RESET),
                Tuple.of(1, Kind.RENEGOTIATE), Tuple.of(1, Kind.DRAIN),
                Tuple.of(1, Kind.CORRUPT_AVAIL), Tuple.of(2, Kind.POLL));
        Arbitrary<Integer> small = Arbitraries.integers().between(0, 255);
        Arbitrary<Integer> any = Arbitraries.integers().between(0, Integer.MAX_VALUE);
        return Combinators.combine(kind, small, any, any, Arbitraries.longs()).as(Op::new).list().ofMaxSize(50);
    }

    @Provide
    Arbitrary<Integer> rxBufLens() {
        return Arbitraries.of(64, 1526, 1536, 4096, HDR + Vionet.MAX_FRAME);
    }

    @Property(tries = 1000)
    void hostileTrafficNeverBreaksTheDeviceOrItsBookkeeping(
            @ForAll long offeredBits, @ForAll long ackedBits, @ForAll boolean locked, @ForAll boolean dhcp,
            @ForAll boolean tapFiltered, @ForAll @IntRange(min = 1, max = 6) int sizeLog, @ForAll("rxBufLens") int rxBufLen,
            @ForAll("ops") List<Op> ops) throws Exception {
        Harness h = new Harness((offeredBits & Vionet.SUPPORTED) | V1, locked, tapFiltered, dhcp, 1 << sizeLog,
                rxBufLen);
        h.renegotiate(ackedBits);
        for (Op op : ops) {
            h.apply(op);
            h.pump();
            h.check(op);
        }
        h.drain();
    }

    /** One device, its tap, and the guest driving it. */
    static final class Harness {
        final HeapGuestMemory mem;
        final MemoryTap tap;
        final Vionet dev;
        final long offered;
        final boolean locked;
        final boolean dhcp;
        final int size;
        final int rxBufLen;
        final List<TunCapabilities> caps = new ArrayList<>();
        Guest guest;
        /** Between DRIVER_OK and the next reset. */
        boolean live;
        /** Queues whose avail.idx the guest made bogus since the last reset: they may stop (and only they). */
        final boolean[] corrupted = new boolean[3];

        // bookkeeping of the current epoch (since the last reset), checked at drain points
        long txReaped;
        long rxTaken;
        long rxBytesTaken;
        long tapOffered;
        NicCounters epochTx;
        NicCounters epochRx;
        long epochRingTx;
        long epochTapConsumed;
        long epochCtrlBroken;

        Harness(long offered, boolean locked, boolean tapFiltered, boolean dhcp, int size, int rxBufLen)
                throws GuestFault {
            this.offered = offered;
            this.locked = locked;
            this.dhcp = dhcp;
            this.size = size;
            this.rxBufLen = rxBufLen;
            this.mem = new HeapGuestMemory(Guest.memoryNeeded(size, rxBufLen));
            this.tap = new MemoryTap(mem, 32);
            NicConfig.Builder nic = NicConfig.newBuilder().setMac(ByteString.copyFrom(MAC)).setMtu(1500)
                    .setFeatures(offered).setLockedLladdr(locked).setTapFiltered(tapFiltered);
            if (dhcp) {
                nic.setLocal(true).setLocalGuestAddr(ByteString.copyFrom(new byte[] {100, 64, 0, 3}))
                        .setLocalGatewayAddr(ByteString.copyFrom(new byte[] {100, 64, 0, 2}));
            }
            this.dev = new Vionet(VionetConfig.from(nic.build()), mem, tap, v -> { }, caps::add);
        }

        /** A new driver on fresh rings: acks a consistent subset of what was offered, then DRIVER_OK. */
        void renegotiate(long bits) throws GuestFault {
            long allowed = (offered | V1) & Vionet.SUPPORTED;
            long features = (bits | V1) & allowed;
            for (int unmet; (unmet = VirtioNetFeatures.firstUnmetDependency(features)) >= 0; ) {
                features &= ~bit(unmet);
            }
            guest = new Guest(mem, features, size, rxBufLen);
            Arrays.fill(corrupted, false);
            dev.featuresAcked(features);
            dev.queueReady(Vionet.RX, guest.rx.layout(), 0);
            dev.queueReady(Vionet.TX, guest.tx.layout(), 1);
            if (guest.ctrl != null) {
                dev.queueReady(Vionet.CTRL, guest.ctrl.layout(), 2);
            }
            dev.driverOk();
            live = true;
            newEpoch();
        }

        void newEpoch() {
            txReaped = 0;
            rxTaken = 0;
            rxBytesTaken = 0;
            epochTx = copy(VionetPaths.tx(dev));
            epochRx = copy(VionetPaths.rx(dev));
            epochRingTx = dev.ringCounters()[Vionet.TX].total();
            epochTapConsumed = tapOffered - tap.pendingReads();
            epochCtrlBroken = dev.ctrl().counters().drops(NicCounters.Drop.QUEUE_BROKEN);
        }

        static NicCounters copy(NicCounters c) {
            NicCounters n = new NicCounters();
            n.add(c);
            return n;
        }

        void apply(Op op) throws GuestFault {
            Random r = new Random(op.bits());
            switch (op.kind()) {
                case TX_FRAME -> send(frame(r, op, false), op.c() % 3 == 0 ? op.b() % 80 : 0, false);
                case TX_HOSTILE_HEADER -> {
                    byte[] f = frame(r, op, false);
                    hostileHeader(r, f);
                    send(f, op.c() % 2 == 0 ? op.b() % 40 : 0, false);
                }
                case TX_RANDOM -> {
                    int len = switch (op.a() % 4) {
                        case 0 -> op.b() % (HDR + 1);                              // shorter than the header
                        case 1 -> op.b() % 200;
                        case 2 -> HDR + Vionet.MAX_FRAME + 1 + op.b() % 60;        // longer than any frame
                        default -> HDR + Vionet.MAX_FRAME - op.b() % 4;
                    };
                    byte[] f = new byte[Math.max(len, 1)];
                    r.nextBytes(f);
                    send(f, op.c() % 3 == 0 && f.length > 1 ? 1 + op.c() % (f.length - 1) : 0, false);
                }
                case TX_WRITABLE -> send(frame(r, op, false), 0, true);
                case TX_DHCP -> {
                    byte[] mac = op.a() % 4 == 0 ? OTHER : MAC;
                    send(DhcpPackets.request(mac, 1 + op.b() % 8, op.c(), 0, op.c() % 2 == 0 ? 0 : 0x64400003,
                            op.b() % 3 == 0 ? 0x64400002 : 0, op.a() % 2 == 0), 0, false);
                }
                case TAP_FRAME -> offer(frame(r, op, true));
                case TAP_HOSTILE_HEADER -> {
                    byte[] f = frame(r, op, true);
                    hostileHeader(r, f);
                    offer(f);
                }
                case TAP_RANDOM -> {
                    int len = switch (op.a() % 3) {
                        case 0 -> op.b() % (HDR + 14);                               // runts
                        case 1 -> HDR + 14 + op.b() % 200;
                        default -> MemoryTap.SLOT - op.b() % 100;                    // longer than any frame
                    };
                    byte[] f = new byte[len];
                    r.nextBytes(f);
                    offer(f);
                }
                case RX_POST -> guest.postRx(dev, 1 + op.a() % size);
                case RX_SMALL -> guest.postSmallRx(dev, op.a() % 2 == 0, 1 + op.b() % (HDR - 1));
                case RX_REAP -> reapAll();
                case TX_REAP -> txReaped += guest.reapTx();
                case CTRL_COMMAND -> {
                    if (guest.ctrl != null) {
                        command(r, op);
                    }
                }
                case CTRL_RANDOM -> {
                    if (guest.ctrl != null) {
                        byte[] data = new byte[op.a() % 40];
                        r.nextBytes(data);
                        guest.control(dev, op.b() & 0xFF, op.c() & 0xFF, data, op.bits() % 5 != 0);
                    }
                }
                case TUNCAP_OK -> dev.tunCapReply(TunCapabilitiesReply.newBuilder().setOk(true)
                        .setAppliedFlags(caps.isEmpty() ? 0 : caps.get(caps.size() - 1).getTunFlags()).build());
                case TUNCAP_REFUSED -> dev.tunCapReply(TunCapabilitiesReply.newBuilder().setOk(false)
                        .setAppliedFlags(op.a() & 0x7F)
                        .setError(org.jvmd.proto.Error.newBuilder().setMessage("TUNSETOFFLOAD: EINVAL").setErrno(22))
                        .build());
                case TAP_WRITE_ERRORS -> tap.failWrites(new int[] {5, 22, 105, 11, 90}[op.a() % 5], 1 + op.b() % 3);
                // EAGAIN means "empty" to the device: a real tap never says it while it holds frames.
                case TAP_READ_ERRORS -> tap.failReads(new int[] {5, 22, 14, 100}[op.a() % 4], 1 + op.b() % 3);
                case SPURIOUS_KICK -> dev.kick(op.a() % 4 - (op.a() % 8 == 7 ? 5 : 0));
                case RESET -> {
                    if (live) {
                        drain();
                    }
                    dev.reset();
                    live = false;
                    newEpoch();
                }
                case RENEGOTIATE -> {
                    if (live) {
                        drain();
                    }
                    dev.reset();
                    renegotiate(op.bits());
                }
                case DRAIN -> drain();
                case POLL -> {
                    // VionetLoop's poll: kicks off, frames added meanwhile, the ring looked at,
                    // kicks on again, and what was found sent
                    dev.startTxPoll();
                    for (int i = 0; i < op.a() % 3; i++) {
                        send(frame(r, op, false), 0, false);
                    }
                    boolean found = dev.txAvailable();
                    byte[] f = frame(r, op, true);
                    if (op.b() % 2 == 0 && tap.offer(f, 0, f.length)) {
                        tapOffered++;   // a frame the look below, not tapReadable, is to find
                    }
                    if (!found && dev.wantsTap()) {
                        // (it may find nothing with a frame held: too few buffers, a failing read)
                        boolean held = tap.pendingReads() > 0;
                        assertTrue(!dev.pollTap() || held, "the tap's look found a frame in an empty tap");
                    }
                    if (dev.endTxPoll() || found) {
                        dev.kick(Vionet.TX);
                    }
                }
                case CORRUPT_AVAIL -> {
                    // avail.idx more than a ring ahead of the device (virtio 1.2 §2.7.13): the
                    // device stops that queue until reset, and nothing else
                    int q = op.a() % 3;
                    org.jvmd.virtio.DriverQueue dq = q == Vionet.RX ? guest.rx : q == Vionet.TX ? guest.tx : guest.ctrl;
                    if (dq != null) {
                        corrupted[q] = true;
                        mem.writeShort(dq.layout().availIdx(), (short) (dq.availIdx() + dq.size() + 1 + op.b() % 1000));
                        dev.kick(q);
                    }
                }
            }
        }

        /** A well-formed TCP or UDP frame with a header a driver (or the tap) would write. */
        byte[] frame(Random r, Op op, boolean fromTap) {
            byte[] dst = fromTap ? ADDRS[op.a() % ADDRS.length] : op.a() % 5 == 0 ? MAC : PEER;
            byte[] src = fromTap ? PEER : op.a() % 7 == 0 ? OTHER : MAC;
            boolean partial = r.nextBoolean();
            boolean gso = op.c() % 3 == 0;
            int payload = gso ? 1 + op.b() % 62000 : op.b() % 1460;
            int gsoSize = gso ? 1 + r.nextInt(1500) : 0;
            return op.c() % 2 == 0 ? Packets.tcp4(dst, src, payload, partial, gsoSize)
                    : Packets.udp4(dst, src, Math.min(payload, 65000), partial, gsoSize);
        }

        static void hostileHeader(Random r, byte[] f) {
            byte[] h = new byte[HDR];
            r.nextBytes(h);
            int keep = r.nextInt(4);   // 0: all random; else only some fields
            if (keep == 1) {
                h[0] &= 0x07;          // plausible flags, random GSO fields
            } else if (keep == 2) {
                h[1] = (byte) (r.nextInt(6) | (r.nextBoolean() ? 0x80 : 0));
            }
            System.arraycopy(h, 0, f, 0, HDR);
        }

        void send(byte[] f, int cut, boolean writable) throws GuestFault {
            if (guest.tx.numFree() < 3) {
                txReaped += guest.reapTx();
            }
            guest.send(dev, f, cut, writable);
        }

        void offer(byte[] f) {
            if (tap.offer(f, 0, f.length)) {
                tapOffered++;
            }
            dev.tapReadable();
        }

        void command(Random r, Op op) throws GuestFault {
            byte[] data;
            int cls;
            int cmd;
            switch (op.a() % 5) {
                case 0 -> {
                    cls = VionetCtrl.CLASS_RX;
                    cmd = r.nextInt(3);
                    data = new byte[] {(byte) r.nextInt(3)};
                }
                case 1 -> {
                    cls = VionetCtrl.CLASS_MAC;
                    cmd = VionetCtrl.MAC_TABLE_SET;
                    int uni = r.nextInt(3);
                    int multi = r.nextInt(3);
                    data = new byte[8 + 6 * (uni + multi)];
                    data[0] = (byte) (r.nextInt(8) == 0 ? r.nextInt() : uni);
                    for (int i = 0; i < uni; i++) {
                        System.arraycopy(ADDRS[r.nextInt(ADDRS.length)], 0, data, 4 + 6 * i, 6);
                    }
                    int m = 4 + 6 * uni;
                    data[m] = (byte) (r.nextInt(8) == 0 ? r.nextInt() : multi);
                    for (int i = 0; i < multi; i++) {
                        System.arraycopy(r.nextBoolean() ? MULTI : BCAST, 0, data, m + 4 + 6 * i, 6);
                    }
                    if (r.nextInt(6) == 0) {
                        data = Arrays.copyOf(data, r.nextInt(data.length + 1));
                    }
                }
                case 2 -> {
                    cls = VionetCtrl.CLASS_MAC;
                    cmd = VionetCtrl.MAC_ADDR_SET;
                    data = (r.nextBoolean() ? MAC : OTHER).clone();
                }
                default -> {
                    cls = VionetCtrl.CLASS_GUEST_OFFLOADS;
                    cmd = VionetCtrl.GUEST_OFFLOADS_SET;
                    long want = op.bits() & (r.nextInt(4) == 0 ? -1L : VirtioNetFeatures.GUEST_OFFLOADS);
                    data = new byte[8];
                    for (int i = 0; i < 8; i++) {
                        data[i] = (byte) (want >>> 8 * i);
                    }
                }
            }
            guest.control(dev, cls, cmd, data, true);
        }

        /** The shell's loop: pending work and a readable tap, until nothing is left to do now. */
        void pump() {
            for (int i = 0; ; i++) {
                assertTrue(i < 10_000, "the device keeps asking for work without making progress");
                boolean did = false;
                if (dev.txHasPendingWork()) {
                    dev.runPendingTx();
                    did = true;
                }
                if (dev.rxHasPendingWork()) {
                    dev.runPendingRx();
                    did = true;
                }
                if (dev.wantsTap() && tap.pendingReads() > 0) {
                    dev.tapReadable();
                    did = true;
                }
                if (!did) {
                    return;
                }
            }
        }

        void reapAll() throws GuestFault {
            txReaped += guest.reapTx();
            guest.reapCtrl();
            int n;
            while ((n = guest.receive()) >= 0) {
                rxTaken++;
                rxBytesTaken += n;
            }
        }

        void check(Op op) throws GuestFault {
            NicStats s = dev.stats();
            if (!corrupted[Vionet.TX]) {
                assertEquals(epochTx.drops(NicCounters.Drop.QUEUE_BROKEN), VionetPaths.tx(dev).drops(NicCounters.Drop.QUEUE_BROKEN), "transmit stopped after " + op);
            }
            if (!corrupted[Vionet.RX]) {
                assertEquals(epochRx.drops(NicCounters.Drop.QUEUE_BROKEN), VionetPaths.rx(dev).drops(NicCounters.Drop.QUEUE_BROKEN), "receive stopped after " + op);
            }
            if (!corrupted[Vionet.CTRL]) {
                assertEquals(epochCtrlBroken, dev.ctrl().counters().drops(NicCounters.Drop.QUEUE_BROKEN), "control stopped after " + op);
            }
            guest.checkIndices(mem, corrupted);
        }

        /**
         * The guest reaps everything and offers buffers until the device has nothing left:
         * the tap must empty and every chain come back; then the counters must add up.
         */
        void drain() throws GuestFault {
            if (!live) {
                pump();
                return;
            }
            tap.failReads(0, 0);
            // Until a round in which the guest offers every buffer it has and nothing moves.
            for (int round = 0; ; round++) {
                assertTrue(round < 1_000_000, "draining does not end");
                long taken = rxTaken;
                long sent = txReaped;
                int pending = tap.pendingReads();
                reapAll();
                guest.postRx(dev, size);
                pump();
                reapAll();
                if (rxTaken == taken && txReaped == sent && tap.pendingReads() == pending) {
                    break;
                }
            }
            reapAll();
            if (!corrupted[Vionet.RX]) {
                assertEquals(0, tap.pendingReads(), "tap frames left while the guest offers buffers");
                assertTrue(dev.wantsTap(), "the device does not read the tap while the guest offers buffers");
            }
            if (!corrupted[Vionet.CTRL]) {
                assertEquals(0, guest.ctrl == null ? 0 : guest.ctrl.inFlight(), "control chains never returned");
            }
            if (corrupted[Vionet.TX]) {
                return;   // chains behind the bogus index are never returned: nothing to account
            }
            assertEquals(0, guest.tx.inFlight(), "transmit chains never returned");

            NicCounters tx = VionetPaths.tx(dev);
            NicCounters rx = VionetPaths.rx(dev);
            long ringTx = dev.ringCounters()[Vionet.TX].total() - epochRingTx;
            long outcomes = tx.txFrames - epochTx.txFrames + tx.dhcpReplies - epochTx.dhcpReplies
                    + allDrops(tx) - allDrops(epochTx) + ringTx;
            assertEquals(txReaped, outcomes, "transmit chains returned vs. their outcomes (frames "
                    + (tx.txFrames - epochTx.txFrames) + ", dhcp " + (tx.dhcpReplies - epochTx.dhcpReplies)
                    + ", drops " + (allDrops(tx) - allDrops(epochTx)) + ", ring faults " + ringTx + ")");
            if (corrupted[Vionet.RX]) {
                return;   // used entries pushed before the stop are never published: nothing to account
            }
            NicCounters all = dev.counters();
            long rxFrames = all.rxFrames - epochRx.rxFrames;
            assertEquals(rxTaken, rxFrames, "frames the guest took vs. rx_frames");
            assertEquals(rxBytesTaken, all.rxBytes - epochRx.rxBytes, "bytes the guest took vs. rx_bytes");
            long consumed = tapOffered - tap.pendingReads() - epochTapConsumed;
            long dhcpIn = tx.dhcpReplies - epochTx.dhcpReplies;
            long rxOutcomes = rxFrames + allDrops(rx) - allDrops(epochRx);
            assertTrue(consumed + dhcpIn <= rxOutcomes, "frames read from the tap (" + consumed + ") and DHCP answers ("
                    + dhcpIn + ") without an outcome: " + rxOutcomes + " frames and drops");
        }

        static long allDrops(NicCounters c) {
            long n = 0;
            for (org.jvmd.virtio.net.DropReason r : org.jvmd.virtio.net.DropReason.values()) {
                n += c.drops(r);
            }
            for (NicCounters.Drop d : NicCounters.Drop.values()) {
                n += c.drops(d);
            }
            return n;
        }
    }

    /**
     * The guest's side of one NIC: rings as Linux lays them out, receive buffers in slots
     * that are reused only when the device returned them, transmit frames copied into
     * slots, control commands with their ack byte.
     */
    static final class Guest {
        final long features;
        final int size;
        final int rxBufLen;
        final HeapGuestMemory mem;
        final DriverQueue rx;
        final DriverQueue tx;
        final DriverQueue ctrl;
        final long rxBase;
        final long txBase;
        final long ctrlBase;
        final ArrayDeque<Integer> freeRxSlots = new ArrayDeque<>();
        final int[] slotOfHead;
        final int[] ctrlAckOf = new int[CTRL_SIZE];
        int txNext;
        int ctrlNext;

        static int memoryNeeded(int size, int rxBufLen) {
            return 4 * (size * (32 + 8 * Virtq.DESC_SIZE) + 16384) + size * (rxBufLen + TX_SLOT)
                    + CTRL_SIZE * (CTRL_SLOT + 8 * Virtq.DESC_SIZE) + 65536;
        }

        Guest(HeapGuestMemory mem, long features, int size, int rxBufLen) throws GuestFault {
            this.mem = mem;
            this.features = features;
            this.size = size;
            this.rxBufLen = rxBufLen;
            GuestAllocator a = new GuestAllocator(mem);
            rx = DriverQueue.create(mem, a, size, features, 8);
            tx = DriverQueue.create(mem, a, size, features, 8);
            ctrl = has(features, VirtioNetFeatures.CTRL_VQ) ? DriverQueue.create(mem, a, CTRL_SIZE, features, 8) : null;
            rxBase = a.allocate((long) size * rxBufLen, 64);
            txBase = a.allocate((long) size * TX_SLOT, 64);
            ctrlBase = a.allocate((long) CTRL_SIZE * CTRL_SLOT, 64);
            slotOfHead = new int[size];
            for (int i = 0; i < size; i++) {
                freeRxSlots.add(i);
            }
        }

        void send(Vionet dev, byte[] f, int cut, boolean writable) throws GuestFault {
            long at = txBase + (long) (txNext++ % size) * TX_SLOT;
            int len = Math.min(f.length, TX_SLOT - 16);
            mem.write(at, f, 0, len);
            if (cut > 0 && cut < len) {
                tx.readable(at, cut).readable(at + cut, len - cut);
            } else {
                tx.readable(at, len);
            }
            if (writable) {
                tx.writable(at + TX_SLOT - 16, 16);
            }
            if (tx.add() != DriverQueue.NONE && tx.kick()) {
                dev.kick(Vionet.TX);
            }
        }

        int reapTx() throws GuestFault {
            int n = 0;
            while (tx.reap() != DriverQueue.NONE) {
                assertEquals(0, tx.usedLen(), "a transmit chain comes back with length 0");
                n++;
            }
            return n;
        }

        void postRx(Vionet dev, int n) throws GuestFault {
            for (int i = 0; i < n && !freeRxSlots.isEmpty(); i++) {
                int slot = freeRxSlots.poll();
                rx.writable(rxBase + (long) slot * rxBufLen, rxBufLen);
                if (!added(slot)) {
                    break;
                }
            }
            if (rx.kick()) {
                dev.kick(Vionet.RX);
            }
        }

        /** A receive buffer too small for the header, or readable (a guest bug). */
        void postSmallRx(Vionet dev, boolean readable, int len) throws GuestFault {
            if (freeRxSlots.isEmpty()) {
                return;
            }
            int slot = freeRxSlots.poll();
            long at = rxBase + (long) slot * rxBufLen;
            if (readable) {
                rx.readable(at, len);
            } else {
                rx.writable(at, len);
            }
            if (added(slot) && rx.kick()) {
                dev.kick(Vionet.RX);
            }
        }

        private boolean added(int slot) throws GuestFault {
            int head = rx.add();
            if (head == DriverQueue.NONE) {
                freeRxSlots.add(slot);
                return false;
            }
            slotOfHead[head] = slot;
            return true;
        }

        /**
         * Takes the next received frame (num_buffers chains with MRG_RXBUF), checking its
         * header against the negotiated offloads; returns the frame's length without the
         * header, or -1 if nothing was received. Buffers returned empty are skipped.
         */
        int receive() throws GuestFault {
            for (;;) {
                int head = rx.reap();
                if (head == DriverQueue.NONE) {
                    return -1;
                }
                int len = rx.usedLen();
                long at = rxBase + (long) slotOfHead[head] * rxBufLen;
                freeRxSlots.add(slotOfHead[head]);
                if (len == 0) {
                    continue;   // a buffer the device could not use
                }
                assertTrue(len >= HDR, "a used receive buffer of " + len + " bytes holds no header");
                byte[] h = new byte[HDR];
                mem.read(at, h, 0, HDR);
                VirtioNetHdr hdr = new VirtioNetHdr().read(h, 0, HDR);
                checkOffloads(hdr);
                int buffers = has(features, VirtioNetFeatures.MRG_RXBUF) ? hdr.numBuffers : 1;
                assertTrue(buffers >= 1, "num_buffers " + buffers);
                long total = len - HDR;
                for (int i = 1; i < buffers; i++) {
                    int more = rx.reap();
                    assertNotEquals(DriverQueue.NONE, more, "num_buffers " + buffers + " but only " + i + " used");
                    freeRxSlots.add(slotOfHead[more]);
                    total += rx.usedLen();
                }
                return (int) total;
            }
        }

        /** A header may carry only what the guest negotiated (virtio 1.2 §5.1.6.4). */
        void checkOffloads(VirtioNetHdr h) {
            boolean csum = has(features, VirtioNetFeatures.GUEST_CSUM);
            if ((h.flags & (VirtioNetHdr.F_NEEDS_CSUM | VirtioNetHdr.F_DATA_VALID)) != 0) {
                assertTrue(csum, "checksum flags 0x" + Integer.toHexString(h.flags) + " without GUEST_CSUM");
            }
            int base = h.gsoType & ~VirtioNetHdr.GSO_ECN;
            int need = switch (base) {
                case VirtioNetHdr.GSO_NONE -> -1;
                case VirtioNetHdr.GSO_TCPV4 -> VirtioNetFeatures.GUEST_TSO4;
                case VirtioNetHdr.GSO_TCPV6 -> VirtioNetFeatures.GUEST_TSO6;
                case VirtioNetHdr.GSO_UDP_L4 -> has(features, VirtioNetFeatures.GUEST_USO4)
                        ? VirtioNetFeatures.GUEST_USO4 : VirtioNetFeatures.GUEST_USO6;
                default -> VirtioNetFeatures.GUEST_UFO;   // never offered
            };
            if (need >= 0) {
                assertTrue(has(features, need), "gso_type " + h.gsoType + " not negotiated");
            }
            if ((h.gsoType & VirtioNetHdr.GSO_ECN) != 0) {
                assertTrue(has(features, VirtioNetFeatures.GUEST_ECN), "ECN without GUEST_ECN");
            }
        }

        void control(Vionet dev, int cls, int cmd, byte[] data, boolean withAck) throws GuestFault {
            reapCtrl();
            int slot = ctrlNext++ % CTRL_SIZE;
            long at = ctrlBase + (long) slot * CTRL_SLOT;
            int n = Math.min(2 + data.length, CTRL_SLOT - 1);
            byte[] b = new byte[n];
            b[0] = (byte) cls;
            b[1] = (byte) cmd;
            System.arraycopy(data, 0, b, 2, n - 2);
            mem.write(at, b, 0, n);
            mem.writeByte(at + CTRL_SLOT - 1, (byte) 0x7F);
            ctrl.readable(at, n);
            if (withAck) {
                ctrl.writable(at + CTRL_SLOT - 1, 1);
            }
            int head = ctrl.add();
            if (head == DriverQueue.NONE) {
                return;
            }
            ctrlAckOf[head] = withAck ? slot : -1;
            if (ctrl.kick()) {
                dev.kick(Vionet.CTRL);
            }
        }

        void reapCtrl() throws GuestFault {
            if (ctrl == null) {
                return;
            }
            int head;
            while ((head = ctrl.reap()) != DriverQueue.NONE) {
                int slot = ctrlAckOf[head];
                if (slot < 0) {
                    assertEquals(0, ctrl.usedLen(), "a command without an ack buffer comes back empty");
                } else {
                    assertEquals(1, ctrl.usedLen(), "a command comes back with its ack");
                    byte ack = mem.readByte(ctrlBase + (long) slot * CTRL_SLOT + CTRL_SLOT - 1);
                    assertTrue(ack == 0 || ack == 1, "ack " + ack);
                }
            }
        }

        /** used.idx never passes avail.idx, nor falls more than a ring behind it. */
        void checkIndices(HeapGuestMemory m, boolean[] corrupted) throws GuestFault {
            DriverQueue[] queues = {rx, tx, ctrl};   // in queue-number order
            for (int i = 0; i < queues.length; i++) {
                DriverQueue q = queues[i];
                if (q == null || corrupted[i]) {
                    continue;
                }
                int avail = m.readShort(q.layout().availIdx()) & 0xffff;
                int used = m.readShort(q.layout().usedIdx()) & 0xffff;
                int ahead = (avail - used) & 0xffff;
                assertTrue(ahead <= q.size(), "used.idx " + used + " vs avail.idx " + avail + " on a ring of " + q.size());
            }
        }
    }
}
