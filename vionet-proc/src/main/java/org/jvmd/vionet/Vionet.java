package org.jvmd.vionet;

import static org.jvmd.virtio.net.VirtioNetFeatures.bit;

import java.lang.System.Logger.Level;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.QueueCounters;
import org.jvmd.virtio.RingLayout;
import org.jvmd.virtio.SplitQueue;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.net.RxOffloadPolicy;
import org.jvmd.virtio.net.TapOffloads;
import org.jvmd.virtio.net.TunFlags;
import org.jvmd.virtio.net.TxValidator;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * The virtio-net device (vmd's vionet.c): negotiation, queue activation, reset, TUNSCAP and
 * statistics of one NIC, with one class per queue as Cloud Hypervisor cuts it:
 * {@link VionetTx} (guest frames to the tap), {@link VionetRx} (tap frames and DHCP answers
 * to the guest) and {@link VionetCtrl} (the control queue over {@link MacFilter}); what the
 * tap may hand is {@link TunCapTracker}'s. Pure: it sees guest memory through
 * {@link GuestMemory}, the tap through {@link TapIo}, interrupts through
 * {@link VectorInterrupt} and its channel through {@link VionetUplink}; the shell ({@link VionetMain},
 * {@link VionetLoop}) wires the real ones and calls in from its one thread. There are no
 * locks: nothing here may be called from two threads.
 *
 * <p>Guest input is hostile: bad chains are completed with length 0 by {@link SplitQueue}
 * and counted; bad headers are dropped and counted; loops are bounded by budgets; a queue
 * whose rings cannot be read any more is stopped until reset. Nothing is allocated per
 * packet.
 */
public final class Vionet {
    private static final System.Logger LOG = System.getLogger(Vionet.class.getName());

    public static final int RX = 0;
    public static final int TX = 1;
    public static final int CTRL = 2;
    /** VIRTIO_MSI_NO_VECTOR (virtio 1.2 §4.1.5.1.2.1). */
    public static final int NO_VECTOR = 0xFFFF;

    /** The features this device implements (the offer is the NIC's config masked with these). */
    public static final long SUPPORTED = bit(VirtioNetFeatures.MAC) | bit(VirtioNetFeatures.STATUS)
            | bit(VirtioNetFeatures.MTU) | bit(VirtioNetFeatures.CSUM) | bit(VirtioNetFeatures.GUEST_CSUM)
            | bit(VirtioNetFeatures.HOST_TSO4) | bit(VirtioNetFeatures.HOST_TSO6) | bit(VirtioNetFeatures.HOST_ECN)
            | bit(VirtioNetFeatures.GUEST_TSO4) | bit(VirtioNetFeatures.GUEST_TSO6) | bit(VirtioNetFeatures.GUEST_ECN)
            | bit(VirtioNetFeatures.HOST_USO) | bit(VirtioNetFeatures.GUEST_USO4) | bit(VirtioNetFeatures.GUEST_USO6)
            | bit(VirtioNetFeatures.MRG_RXBUF) | bit(VirtioNetFeatures.CTRL_VQ) | bit(VirtioNetFeatures.CTRL_RX)
            | bit(VirtioNetFeatures.CTRL_GUEST_OFFLOADS) | bit(VirtioNetFeatures.CTRL_MAC_ADDR)
            | bit(Virtq.F_INDIRECT_DESC) | bit(Virtq.F_EVENT_IDX)
            | bit(VirtioNetFeatures.VERSION_1);

    /**
     * The largest frame (without virtio_net_hdr) either direction handles: a 64 KiB GSO
     * frame with its headers. With the 12-byte header it is the 65562-byte buffer of
     * virtio 1.2 §5.1.6.3.1 (big packets).
     */
    public static final int MAX_FRAME = 65550;
    /** The tap's virtio_net_hdr (TUNSETVNETHDRSZ 12). */
    static final int TAP_HDR = VirtioNetHdr.SIZE;
    /** What every Linux tap write path takes (virtio_net_hdr_to_skb since 2.6.27). */
    private static final int TX_BASE_TUN_FLAGS = TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.TSO_ECN;

    /** Publishes a queue's used entries and raises its interrupt if the driver wants one. */
    @FunctionalInterface
    interface Signal {
        void raise() throws GuestFault;
    }

    private final VionetConfig cfg;
    private final GuestMemory memory;
    private final VectorInterrupt irq;
    private final VionetUplink uplink;
    private final MacFilter filter;
    private final TunCapTracker tunCap = new TunCapTracker();
    private final VionetRx rx;
    private final VionetTx tx;
    private final VionetCtrl ctrl;
    private final Signal txUsed = () -> interrupt(TX);

    private final SplitQueue[] queues = new SplitQueue[3];
    private final QueueCounters[] ringCounters = {new QueueCounters(), new QueueCounters(), new QueueCounters()};
    private final int[] vectors = {NO_VECTOR, NO_VECTOR, NO_VECTOR};
    private final boolean[] broken = new boolean[3];

    // negotiation
    private long acked;
    private long rxFeatures;
    private boolean driverOk;
    private boolean tapRefusalLogged;

    public Vionet(VionetConfig cfg, GuestMemory memory, TapIo tap, VectorInterrupt irq, VionetUplink uplink) {
        this.cfg = cfg;
        this.memory = memory;
        this.irq = irq;
        this.uplink = uplink;
        this.filter = new MacFilter(cfg.mac());
        this.rx = new VionetRx(cfg, memory, tap, filter, tunCap, new RxOffloadPolicy(0));
        this.tx = new VionetTx(cfg, tap, rx, new TxValidator(0, TapOffloads.NONE));
        this.ctrl = new VionetCtrl(cfg, filter, this::guestOffloadsSet);
        long unsupported = cfg.offered() & ~SUPPORTED;
        if (unsupported != 0) {
            LOG.log(Level.WARNING, "ignoring unsupported offered features 0x" + Long.toHexString(unsupported));
        }
    }

    /** A snapshot of the NIC's counters, every queue's added up. */
    public NicCounters counters() {
        NicCounters sum = new NicCounters();
        sum.add(tx.counters());
        sum.add(rx.counters());
        sum.add(ctrl.counters());
        return sum;
    }

    public QueueCounters[] ringCounters() {
        return ringCounters;
    }

    public org.jvmd.proto.NicStats stats() {
        return counters().toProto(cfg.nic(), ringCounters);
    }

    public long ackedFeatures() {
        return acked;
    }

    /** The features the receive path works from (acked, changed by CTRL_GUEST_OFFLOADS_SET). */
    public long rxFeatures() {
        return rxFeatures;
    }

    public boolean isDriverOk() {
        return driverOk;
    }

    /** The TUN_F_* flags frames read from the tap may carry, as far as vionet knows. */
    public int tapMayGive() {
        return tunCap.mayGive();
    }

    public boolean promiscuous() {
        return filter.promiscuous();
    }

    public boolean allMulticast() {
        return filter.allMulticast();
    }

    /** The receive filter. */
    MacFilter filter() {
        return filter;
    }

    VionetTx tx() {
        return tx;
    }

    VionetRx rx() {
        return rx;
    }

    VionetCtrl ctrl() {
        return ctrl;
    }

    // ---------------------------------------------------------------- control plane
    // The device-process end of vmm-proc's one VirtioDevice life-cycle: VionetProxy forwards
    // acceptFeatures, queueEnabled, activate and reset as FeaturesAcked, QueueReady, DriverOk
    // and Reset, which arrive here in that order, on the shell's one thread (VionetLoop).

    /** FeaturesAcked (virtio 1.2 §3.1.1 step 5): only bits offered and implemented count. */
    public void featuresAcked(long features) {
        long allowed = (cfg.offered() | bit(VirtioNetFeatures.VERSION_1)) & SUPPORTED;
        if ((features & ~allowed) != 0) {
            LOG.log(Level.WARNING, "driver acked features not offered: 0x" + Long.toHexString(features & ~allowed) + " (ignored)");
        }
        acked = features & allowed;
        rxFeatures = acked;
        configure();
        LOG.log(Level.DEBUG, "features acked 0x" + Long.toHexString(acked));
    }

    /** QueueReady: the driver enabled queue {@code q} (virtio 1.2 §4.1.4.3). */
    public void queueReady(int q, RingLayout layout, int vector) {
        if (q < 0 || q > CTRL || (q == CTRL && !VirtioNetFeatures.has(acked, VirtioNetFeatures.CTRL_VQ))) {
            LOG.log(Level.WARNING, "QueueReady for queue " + q + ", which this device does not have (ignored)");
            return;
        }
        int size = layout.size();
        if (size <= 0 || size > Virtq.MAX_SIZE || Integer.bitCount(size) != 1) {
            LOG.log(Level.WARNING, "queue " + q + ": size " + size + " is not a power of two in [1, 32768]; queue disabled");
            disable(q);
            return;
        }
        SplitQueue sq = new SplitQueue(memory, size, ringCounters[q]);
        try {
            sq.activate(layout, acked);
        } catch (GuestFault f) {
            LOG.log(Level.WARNING, "queue " + q + ": " + f.getMessage() + "; queue disabled");
            disable(q);
            return;
        }
        queues[q] = sq;
        vectors[q] = vector;
        broken[q] = false;
        switch (q) {
            case RX -> rx.attach(sq);
            case TX -> tx.attach(sq);
            default -> ctrl.attach(sq);
        }
        LOG.log(Level.DEBUG, "queue " + q + " ready: " + layout + " vector " + vector);
    }

    private void disable(int q) {
        if (queues[q] != null) {
            queues[q].reset();
        }
        queues[q] = null;
        vectors[q] = NO_VECTOR;
        broken[q] = false;
    }

    /** DriverOk: the queues may be used; the tap gets the guest's offloads (TUNSCAP). */
    public void driverOk() {
        driverOk = true;
        sendTunCap();
        if (active(RX)) {
            try {
                rx.start();
            } catch (GuestFault f) {
                breakQueue(RX, f);
            }
        }
        processTx();
        processCtrl();
        processRx();
    }

    /** Reset: queues stopped, features forgotten, the tap told to hand no offloads. */
    public void reset() {
        for (int q = 0; q < 3; q++) {
            disable(q);
        }
        rx.detach();
        tx.detach();
        ctrl.detach();
        driverOk = false;
        acked = 0;
        rxFeatures = 0;
        filter.reset(cfg.mac());
        configure();
        sendTunCap();
        LOG.log(Level.DEBUG, "reset");
    }

    /** The privileged side's answer to our oldest TUNSCAP. */
    public void tunCapReply(TunCapabilitiesReply reply) {
        int requested = tunCap.answered(reply.getOk(), reply.getAppliedFlags());
        if (requested < 0) {
            LOG.log(Level.WARNING, "tuncap reply without a request (ignored)");
            return;
        }
        if (!reply.getOk() && !tapRefusalLogged) {
            tapRefusalLogged = true;
            LOG.log(Level.WARNING, "the tap refused offloads 0x" + Integer.toHexString(requested) + " ("
                    + reply.getError().getMessage() + "); "
                    + ((requested & TunCapTracker.USO) != 0 ? "USO is segmented in software"
                            : "receive offloads are finished in software"));
        }
        configure();
        LOG.log(Level.DEBUG, "tap offloads now 0x" + Integer.toHexString(tunCap.tapFlags()) + (reply.getOk() ? "" : " (refused)"));
    }

    /** CTRL_GUEST_OFFLOADS_SET: the receive path works from new offloads, and the tap is told. */
    private void guestOffloadsSet(long requested) {
        rxFeatures = VirtioNetFeatures.withGuestOffloads(acked, requested);
        configure();
        sendTunCap();
    }

    private void sendTunCap() {
        int flags = TunFlags.forGuest(rxFeatures);
        tunCap.requested(flags);
        uplink.tunCap(TunCapabilities.newBuilder().setNic(cfg.nic()).setTunFlags(flags).build());
    }

    /** Hands the negotiated state to the queues: header size, MRG_RXBUF, validator and policy. */
    private void configure() {
        int hdrSize = VirtioNetHdr.size(acked);
        int txTun = TX_BASE_TUN_FLAGS | (tunCap.usoKnown() ? TunCapTracker.USO : 0);
        tx.configure(hdrSize, new TxValidator(acked, TapOffloads.fromTunFlags(txTun)));
        rx.configure(hdrSize, VirtioNetFeatures.has(acked, VirtioNetFeatures.MRG_RXBUF), rxFeatures,
                new RxOffloadPolicy(rxFeatures));
    }

    private void breakQueue(int q, GuestFault f) {
        if (!broken[q]) {
            LOG.log(Level.WARNING, "queue " + q + " stopped until reset: " + f.getMessage());
            (q == TX ? tx.counters() : q == RX ? rx.counters() : ctrl.counters()).drop(NicCounters.Drop.QUEUE_BROKEN);
        }
        broken[q] = true;
    }

    private boolean active(int q) {
        return driverOk && queues[q] != null && !broken[q];
    }

    // ---------------------------------------------------------------- events

    /** The driver notified queue {@code q} (its ioeventfd fired). */
    public void kick(int q) {
        if (q == TX) {
            processTx();
        } else if (q == RX) {
            if (active(RX)) {
                try {
                    rx.kicked();
                } catch (GuestFault f) {
                    breakQueue(RX, f);
                }
            }
            processRx();
        } else if (q == CTRL) {
            processCtrl();
        }
    }

    /** The tap is readable. */
    public void tapReadable() {
        processRx();
    }

    /**
     * A polling look at the tap: receives what it holds, as {@link #tapReadable} does, and
     * returns true if it held anything. Called while the shell polls instead of asking epoll
     * whether the tap is readable: a look that finds a frame has already read it.
     */
    public boolean pollTap() {
        long before = rx.tapReads();
        processRx();
        return rx.tapReads() != before;
    }

    /** True if the shell should poll the tap: receive can take frames now. */
    public boolean wantsTap() {
        return active(RX) && rx.wantsTap();
    }

    /** True if transmit has work left over after its budget; call {@link #runPendingTx} soon. */
    public boolean txHasPendingWork() {
        return active(TX) && tx.pending();
    }

    /** True if receive has work left over after its budget; call {@link #runPendingRx} soon. */
    public boolean rxHasPendingWork() {
        return active(RX) && rx.pending();
    }

    /**
     * The shell is about to poll: the driver is asked not to kick the transmit queue, whose
     * ring the shell reads itself ({@link #txAvailable}) until {@link #endTxPoll}. A kick
     * saved is a system call off the guest's transmit path and an event off the device's.
     */
    public void startTxPoll() {
        onTxRing(QUIET);
    }

    /** True if the transmit ring has chains to send (read from guest memory while polling). */
    public boolean txAvailable() {
        return onTxRing(SplitQueue::hasAvailable);
    }

    /**
     * The poll is over: transmit kicks are asked for again. True if chains came while they
     * were off, which no kick will announce: the caller sends them ({@link #kick}).
     */
    public boolean endTxPoll() {
        return onTxRing(SplitQueue::enableNotifications);
    }

    /** A look at the transmit ring that may find the guest's ring bad. */
    private interface TxRingCall {
        boolean call(SplitQueue q) throws GuestFault;
    }

    private static final TxRingCall QUIET = q -> {
        q.quiet();
        return false;
    };

    /** {@code c} on an active transmit queue (false otherwise); a bad ring stops the queue until reset. */
    private boolean onTxRing(TxRingCall c) {
        if (!active(TX)) {
            return false;
        }
        try {
            return c.call(queues[TX]);
        } catch (GuestFault f) {
            breakQueue(TX, f);
            return false;
        }
    }

    public void runPendingTx() {
        if (tx.pending()) {
            processTx();
        }
    }

    public void runPendingRx() {
        if (rx.pending()) {
            processRx();
        }
    }

    private void processTx() {
        if (!active(TX)) {
            return;
        }
        try {
            tx.process(txUsed);
        } catch (GuestFault f) {
            breakQueue(TX, f);
        }
        if (rx.hasDhcpMail()) {
            processRx();   // DHCP answers the transmit path made
        }
    }

    private void processRx() {
        if (!active(RX)) {
            return;
        }
        try {
            rx.process();
            interrupt(RX);
        } catch (GuestFault f) {
            breakQueue(RX, f);
        }
    }

    private void processCtrl() {
        if (!active(CTRL)) {
            return;
        }
        try {
            ctrl.process(acked);
            interrupt(CTRL);
        } catch (GuestFault f) {
            breakQueue(CTRL, f);
        }
    }

    private void interrupt(int q) throws GuestFault {
        SplitQueue sq = queues[q];
        sq.publish();
        if (sq.needsInterrupt() && vectors[q] != NO_VECTOR) {
            irq.signal(vectors[q]);
        }
    }
}
