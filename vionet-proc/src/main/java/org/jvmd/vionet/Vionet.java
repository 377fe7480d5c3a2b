package org.jvmd.vionet;

import static org.jvmd.virtio.net.VirtioNetFeatures.bit;

import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.virtio.DescriptorChain;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.QueueCounters;
import org.jvmd.virtio.RingLayout;
import org.jvmd.virtio.SplitQueue;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.net.DropReason;
import org.jvmd.virtio.net.InetChecksum;
import org.jvmd.virtio.net.RxBufferPlan;
import org.jvmd.virtio.net.RxOffloadPolicy;
import org.jvmd.virtio.net.RxVerdict;
import org.jvmd.virtio.net.Segmenter;
import org.jvmd.virtio.net.TapOffloads;
import org.jvmd.virtio.net.TunFlags;
import org.jvmd.virtio.net.TxValidator;
import org.jvmd.virtio.net.TxVerdict;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * The virtio-net device (vmd's vionet.c): the receive, transmit and control queues of one
 * NIC, between guest memory and the tap. Pure: it sees guest memory through
 * {@link GuestMemory}, the tap through {@link TapPort}, interrupts through
 * {@link Interrupts} and its channel through {@link Uplink}; the shell
 * ({@link VionetMain}) wires the real ones and calls in from one event-loop thread.
 *
 * <h2>Transmit</h2> Per chain: the header (which may span descriptors) is copied out and
 * judged by {@link TxValidator} against the acked features and what the tap's write path
 * takes. PASS writes our own copy of the header (so the guest cannot change it after the
 * check) and then the frame straight from guest memory; FINISH_CSUM and SEGMENT gather
 * the frame into a preallocated scratch array and write the result(s) with an empty
 * header; DROP counts the reason. Every chain is returned with length 0 (virtio 1.2
 * §5.1.6.2); used entries are published once per batch with one interrupt.
 *
 * <h2>Receive</h2> Two paths. <em>Direct</em>, when every frame the tap may hand is one
 * the guest takes as is: chains are taken from the ring (and held until used) to cover the
 * largest frame the tap can give, the frame is read straight into them (its header into
 * our array), the header is checked by {@link RxOffloadPolicy}, rewritten and num_buffers
 * set, and the chains are returned. <em>Scratch</em>, when the tap may hand more than the
 * guest takes (offloads just changed, not yet confirmed, or refused) or with locked
 * lladdr: the frame is read into an array, finished or segmented in software, and copied
 * into the guest's buffers. Frames waiting for buffers (software segments, DHCP answers)
 * sit in a backlog; the tap is not read while it is non-empty or while the ring has too
 * few buffers, and the guest's next RX kick resumes.
 *
 * <p>Guest input is hostile: bad chains are completed with length 0 by {@link SplitQueue}
 * and counted; bad headers are dropped and counted; loops are bounded by budgets. Nothing
 * is allocated per packet.
 *
 * <h2>Threads</h2> Transmit and receive may run on two threads (the shell's, one per
 * queue, so that acknowledgements going to the guest never wait behind frames going to
 * the tap): the transmit entry points ({@link #kick} of TX, {@link #runPendingTx}) hold
 * the transmit lock, the receive ones ({@link #kick} of RX, {@link #tapReadable},
 * {@link #runPendingRx}) the receive lock, and the control plane holds both. Each path has
 * its own work areas, tap port and counters; a DHCP answer crosses from transmit to
 * receive through a ring of slots and {@link #rxNudge}. One thread calling everything
 * works as well (the tests do).
 */
public final class Vionet {
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
    static final int TAP_HDR = VirtioNetHdr.SIZE;
    /** Ethernet header and one VLAN tag, beyond the MTU (RX buffer sizing without GSO). */
    static final int L2_OVERHEAD = 14 + 4;
    static final int TX_BUDGET = 256;
    static final int RX_BUDGET = 256;
    /** Receive chains held at most (mergeable buffers for one 64 KiB frame). */
    static final int MAX_HELD = 64;
    /** UIO_MAXIOV is 1024: one iovec is the header, one the tap port's overflow byte. */
    static final int MAX_SPANS = 1022;
    static final int MAX_SEGMENTS = 1024;
    static final int SEGMENT_OUT = 256 * 1024;
    static final int BACKLOG = MAX_SEGMENTS + 8;
    static final int DHCP_SLOTS = 4;
    static final int MAX_TUNCAP_INFLIGHT = 16;

    // virtio 1.2 §5.1.6.5: control queue classes, commands and acks
    static final int CTRL_CLASS_RX = 0;
    static final int CTRL_RX_PROMISC = 0;
    static final int CTRL_RX_ALLMULTI = 1;
    static final int CTRL_CLASS_MAC = 1;
    static final int CTRL_MAC_TABLE_SET = 0;
    static final int CTRL_MAC_ADDR_SET = 1;
    static final int CTRL_CLASS_GUEST_OFFLOADS = 5;
    static final int CTRL_GUEST_OFFLOADS_SET = 0;
    static final byte CTRL_OK = 0;
    static final byte CTRL_ERR = 1;

    private static final int GSO_TUN_FLAGS = TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.UFO | TunFlags.USO4 | TunFlags.USO6;
    /** What every Linux tap write path takes (virtio_net_hdr_to_skb since 2.6.27). */
    private static final int TX_BASE_TUN_FLAGS = TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.TSO_ECN;

    private final VionetConfig cfg;
    private final GuestMemory memory;
    private final TapPort txTap;
    private final TapPort rxTap;
    private final Interrupts irq;
    private final Uplink uplink;
    /** Each path counts in its own set (one writer each); {@link #stats} adds them up. */
    private final NicCounters txCounters = new NicCounters();
    private final NicCounters rxCounters = new NicCounters();
    private final NicCounters ctrlCounters = new NicCounters();

    /**
     * Transmit state is guarded by txLock, receive state by rxLock; the control plane (and
     * the control queue) takes both, always txLock first. The data paths never take both.
     */
    private final ReentrantLock txLock = new ReentrantLock();
    private final ReentrantLock rxLock = new ReentrantLock();
    /** Tells the receive path's thread that a DHCP answer waits; null: run it on the caller's thread. */
    private volatile Runnable rxNudge;

    private final SplitQueue[] queues = new SplitQueue[3];
    private final DescriptorChain[] chains = new DescriptorChain[3];
    private final QueueCounters[] ringCounters = {new QueueCounters(), new QueueCounters(), new QueueCounters()};
    private final int[] vectors = {NO_VECTOR, NO_VECTOR, NO_VECTOR};
    private final boolean[] broken = new boolean[3];

    // negotiation
    private long acked;
    private long rxFeatures;
    private int hdrSize = TAP_HDR;
    private boolean mergeable;
    private boolean driverOk;
    private boolean usoKnown;
    private boolean usoRefusalLogged;
    private TxValidator validator = new TxValidator(0, TapOffloads.NONE);
    private RxOffloadPolicy rxPolicy = new RxOffloadPolicy(0);
    /** The CTRL_RX receive filter; promiscuous until the driver says otherwise. */
    private final MacFilter filter;
    private final MacFilter.Source ctrlArgs = (offset, dst, off, n) -> chains[CTRL].gather(2 + offset, dst, off, n);

    // TUNSCAP: what the tap may hand us. Unknown (anything) until a reply says otherwise.
    private int tapFlags = TunFlags.ALL;
    private int staleFlags;
    private final int[] tuncapInflight = new int[MAX_TUNCAP_INFLIGHT];
    private int tuncapHead;
    private int tuncapCount;

    // work state
    private boolean txPending;
    private boolean rxPending;
    private boolean rxWaiting;

    // receive: chains held until a frame uses them
    private DescriptorChain[] held = new DescriptorChain[0];
    private int heldHead;
    private int heldCount;
    private long heldBytes;
    private final int[] usedLen = new int[MAX_HELD];

    // receive backlog: frames (header included, hdrSize bytes) waiting for buffers
    private final byte[][] backlogBuf = new byte[BACKLOG][];
    private final int[] backlogOff = new int[BACKLOG];
    private final int[] backlogLen = new int[BACKLOG];
    private int backlogHead;
    private int backlogCount;
    /*
     * DHCP answers, made on the transmit path, delivered on the receive path: a ring of
     * slots with one writer per index. dhcpPosted (transmit) counts answers written,
     * dhcpSeen (receive) those moved to the backlog, dhcpFreed (receive) those copied to
     * the guest or dropped, after which transmit may reuse the slot.
     */
    private final byte[][] dhcpOut = new byte[DHCP_SLOTS][TAP_HDR + DhcpResponder.REPLY_MAX];
    private final int[] dhcpLen = new int[DHCP_SLOTS];
    private volatile int dhcpPosted;
    private int dhcpSeen;
    private volatile int dhcpFreed;
    private boolean dhcpMail;
    private final DhcpMessage dhcpIn = new DhcpMessage();

    // preallocated work areas, one set per path
    private final GuestSpans txSpans = new GuestSpans(MAX_SPANS);
    private final VirtioNetHdr txHdr = new VirtioNetHdr();
    private final byte[] txHdrBytes = new byte[TAP_HDR];
    private final byte[] prefix = new byte[TAP_HDR + 14];
    private final byte[] txPeek = new byte[64];
    private final byte[] txScratch = new byte[TAP_HDR + MAX_FRAME];
    private final byte[] txSegOut = new byte[SEGMENT_OUT];
    private final int[] txSegOff = new int[MAX_SEGMENTS];
    private final int[] txSegLen = new int[MAX_SEGMENTS];
    private final Segmenter txSegmenter = new Segmenter();
    private final GuestSpans rxSpans = new GuestSpans(MAX_SPANS);
    private final VirtioNetHdr rxHdr = new VirtioNetHdr();
    private final byte[] rxHdrBytes = new byte[TAP_HDR];
    private final byte[] rxPeek = new byte[64];
    private final byte[] rxScratch = new byte[TAP_HDR + MAX_FRAME];
    private final byte[] rxSegOut = new byte[SEGMENT_OUT];
    private final int[] rxSegOff = new int[MAX_SEGMENTS];
    private final int[] rxSegLen = new int[MAX_SEGMENTS];
    private final Segmenter rxSegmenter = new Segmenter();
    private final RxBufferPlan plan = new RxBufferPlan();
    private final byte[] ctrlData = new byte[8];
    private final byte[] one = new byte[1];

    public Vionet(VionetConfig cfg, GuestMemory memory, TapPort tap, Interrupts irq, Uplink uplink) {
        this(cfg, memory, tap, tap, irq, uplink);
    }

    /**
     * A device whose transmit and receive paths may run on two threads: each path gets its
     * own tap port (a port's buffers belong to one thread).
     */
    public Vionet(VionetConfig cfg, GuestMemory memory, TapPort txTap, TapPort rxTap, Interrupts irq, Uplink uplink) {
        this.cfg = cfg;
        this.memory = memory;
        this.txTap = txTap;
        this.rxTap = rxTap;
        this.irq = irq;
        this.uplink = uplink;
        this.filter = new MacFilter(cfg.mac());
        long unsupported = cfg.offered() & ~SUPPORTED;
        if (unsupported != 0) {
            Log.warn("ignoring unsupported offered features 0x" + Long.toHexString(unsupported));
        }
    }

    /**
     * With a nudge, a DHCP answer made on the transmit path is left for the receive path's
     * thread, which the nudge wakes; without one the transmit caller delivers it itself.
     */
    public void rxNudge(Runnable nudge) {
        this.rxNudge = nudge;
    }

    /** A snapshot of the NIC's counters, every path added up. */
    public NicCounters counters() {
        lockBoth();
        try {
            NicCounters sum = new NicCounters();
            sum.add(txCounters);
            sum.add(rxCounters);
            sum.add(ctrlCounters);
            return sum;
        } finally {
            unlockBoth();
        }
    }

    public QueueCounters[] ringCounters() {
        return ringCounters;
    }

    public org.jvmd.proto.NicStats stats() {
        NicCounters sum = counters();
        lockBoth();
        try {
            return sum.toProto(cfg.nic(), ringCounters);
        } finally {
            unlockBoth();
        }
    }

    private void lockBoth() {
        txLock.lock();
        rxLock.lock();
    }

    private void unlockBoth() {
        rxLock.unlock();
        txLock.unlock();
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
        rxLock.lock();
        try {
            return mayGive();
        } finally {
            rxLock.unlock();
        }
    }

    private int mayGive() {
        int f = tapFlags | staleFlags;
        for (int i = 0; i < tuncapCount; i++) {
            f |= tuncapInflight[(tuncapHead + i) % MAX_TUNCAP_INFLIGHT];
        }
        return f;
    }

    // ---------------------------------------------------------------- control plane

    /** FeaturesAcked (virtio 1.2 §3.1.1 step 5): only bits offered and implemented count. */
    public void featuresAcked(long features) {
        lockBoth();
        try {
            featuresAckedLocked(features);
        } finally {
            unlockBoth();
        }
    }

    private void featuresAckedLocked(long features) {
        long allowed = (cfg.offered() | bit(VirtioNetFeatures.VERSION_1)) & SUPPORTED;
        if ((features & ~allowed) != 0) {
            Log.warn("driver acked features not offered: 0x" + Long.toHexString(features & ~allowed) + " (ignored)");
        }
        acked = features & allowed;
        rxFeatures = acked;
        hdrSize = VirtioNetHdr.size(acked);
        mergeable = VirtioNetFeatures.has(acked, VirtioNetFeatures.MRG_RXBUF);
        rebuildPolicies();
        Log.debug("features acked 0x" + Long.toHexString(acked));
    }

    /** QueueReady: the driver enabled queue {@code q} (virtio 1.2 §4.1.4.3). */
    public void queueReady(int q, RingLayout layout, int vector) {
        lockBoth();
        try {
            queueReadyLocked(q, layout, vector);
        } finally {
            unlockBoth();
        }
    }

    private void queueReadyLocked(int q, RingLayout layout, int vector) {
        if (q < 0 || q > CTRL || (q == CTRL && !VirtioNetFeatures.has(acked, VirtioNetFeatures.CTRL_VQ))) {
            Log.warn("QueueReady for queue " + q + ", which this device does not have (ignored)");
            return;
        }
        int size = layout.size();
        if (size <= 0 || size > Virtq.MAX_SIZE || Integer.bitCount(size) != 1) {
            Log.warn("queue " + q + ": size " + size + " is not a power of two in [1, 32768]; queue disabled");
            queues[q] = null;
            return;
        }
        SplitQueue sq = new SplitQueue(memory, size, ringCounters[q]);
        try {
            sq.activate(layout, acked);
        } catch (GuestFault f) {
            Log.warn("queue " + q + ": " + f.getMessage() + "; queue disabled");
            queues[q] = null;
            return;
        }
        queues[q] = sq;
        chains[q] = sq.newChain();
        vectors[q] = vector;
        broken[q] = false;
        if (q == RX) {
            held = new DescriptorChain[Math.min(MAX_HELD, size)];
            for (int i = 0; i < held.length; i++) {
                held[i] = sq.newChain();
            }
            heldHead = 0;
            heldCount = 0;
            heldBytes = 0;
            rxWaiting = false;
        }
        Log.debug("queue " + q + " ready: " + layout + " vector " + vector);
    }

    /** DriverOk: the queues may be used; the tap gets the guest's offloads (TUNSCAP). */
    public void driverOk() {
        lockBoth();
        try {
            driverOkLocked();
        } finally {
            unlockBoth();
        }
    }

    private void driverOkLocked() {
        driverOk = true;
        sendTunCap();
        try {
            if (queues[RX] != null) {
                queues[RX].disableNotifications();
            }
        } catch (GuestFault f) {
            breakQueue(RX, f);
        }
        processTx();
        processCtrl();
        processRx();
    }

    /** Reset: queues stopped, features forgotten, the tap told to hand no offloads. */
    public void reset() {
        lockBoth();
        try {
            resetLocked();
        } finally {
            unlockBoth();
        }
    }

    private void resetLocked() {
        for (int q = 0; q < 3; q++) {
            if (queues[q] != null) {
                queues[q].reset();
            }
            queues[q] = null;
            chains[q] = null;
            vectors[q] = NO_VECTOR;
            broken[q] = false;
        }
        held = new DescriptorChain[0];
        heldHead = 0;
        heldCount = 0;
        heldBytes = 0;
        backlogHead = 0;
        backlogCount = 0;
        dhcpPosted = 0;
        dhcpSeen = 0;
        dhcpFreed = 0;
        dhcpMail = false;
        driverOk = false;
        txPending = false;
        rxPending = false;
        rxWaiting = false;
        acked = 0;
        rxFeatures = 0;
        hdrSize = TAP_HDR;
        mergeable = false;
        filter.reset(cfg.mac());
        rebuildPolicies();
        sendTunCap();
        Log.debug("reset");
    }

    /** The privileged side's answer to our oldest TUNSCAP. */
    public void tunCapReply(TunCapabilitiesReply reply) {
        lockBoth();
        try {
            tunCapReplyLocked(reply);
        } finally {
            unlockBoth();
        }
    }

    private void tunCapReplyLocked(TunCapabilitiesReply reply) {
        if (tuncapCount == 0) {
            Log.warn("tuncap reply without a request (ignored)");
            return;
        }
        int requested = tuncapInflight[tuncapHead];
        int before = mayGive();
        tuncapHead = (tuncapHead + 1) % MAX_TUNCAP_INFLIGHT;
        tuncapCount--;
        int uso = TunFlags.USO4 | TunFlags.USO6;
        if (reply.getOk()) {
            tapFlags = requested;
            if ((requested & uso) == uso) {
                usoKnown = true;
            }
        } else {
            tapFlags = reply.getAppliedFlags();
            if ((requested & uso) != 0 && !usoRefusalLogged) {
                usoRefusalLogged = true;
                Log.warn("the tap refused offloads 0x" + Integer.toHexString(requested) + " ("
                        + reply.getError().getMessage() + "); USO is segmented in software");
            } else if (!usoRefusalLogged) {
                usoRefusalLogged = true;
                Log.warn("the tap refused offloads 0x" + Integer.toHexString(requested) + " ("
                        + reply.getError().getMessage() + "); receive offloads are finished in software");
            }
        }
        // Frames already queued in the tap were made under the old flags: until the tap
        // reads empty once, they may still arrive.
        staleFlags = before & ~tapFlags;
        rebuildPolicies();
        Log.debug("tap offloads now 0x" + Integer.toHexString(tapFlags) + (reply.getOk() ? "" : " (refused)"));
    }

    private void sendTunCap() {
        int flags = TunFlags.forGuest(rxFeatures);
        if (tuncapCount == MAX_TUNCAP_INFLIGHT) {
            // The other side stopped answering; keep the newest requests.
            tuncapHead = (tuncapHead + 1) % MAX_TUNCAP_INFLIGHT;
            tuncapCount--;
        }
        tuncapInflight[(tuncapHead + tuncapCount) % MAX_TUNCAP_INFLIGHT] = flags;
        tuncapCount++;
        uplink.tunCap(TunCapabilities.newBuilder().setNic(cfg.nic())
                .setCsum((flags & TunFlags.CSUM) != 0).setTso4((flags & TunFlags.TSO4) != 0)
                .setTso6((flags & TunFlags.TSO6) != 0).setEcn((flags & TunFlags.TSO_ECN) != 0)
                .setUso4((flags & TunFlags.USO4) != 0).setUso6((flags & TunFlags.USO6) != 0)
                .setTunFlags(flags).build());
    }

    private void rebuildPolicies() {
        int txTun = TX_BASE_TUN_FLAGS | (usoKnown ? TunFlags.USO4 | TunFlags.USO6 : 0);
        validator = new TxValidator(acked, TapOffloads.fromTunFlags(txTun));
        rxPolicy = new RxOffloadPolicy(rxFeatures);
    }

    private void breakQueue(int q, GuestFault f) {
        if (!broken[q]) {
            Log.warn("queue " + q + " stopped until reset: " + f.getMessage());
            (q == TX ? txCounters : q == RX ? rxCounters : ctrlCounters).drop(NicCounters.Drop.QUEUE_BROKEN);
        }
        broken[q] = true;
    }

    private boolean active(int q) {
        return driverOk && queues[q] != null && !broken[q];
    }

    // ---------------------------------------------------------------- events

    /**
     * The driver notified queue {@code q} (its ioeventfd fired). A transmit kick runs on
     * the transmit path's thread, a receive kick on the receive path's, a control kick on
     * the control plane's.
     */
    public void kick(int q) {
        if (q == TX) {
            txLock.lock();
            try {
                processTx();
            } finally {
                txLock.unlock();
            }
            deliverDhcpMail();
        } else if (q == RX) {
            rxLock.lock();
            try {
                rxKicked();
            } finally {
                rxLock.unlock();
            }
        } else if (q == CTRL) {
            lockBoth();
            try {
                processCtrl();
            } finally {
                unlockBoth();
            }
        }
    }

    private void rxKicked() {
        if (rxWaiting && active(RX)) {
            rxWaiting = false;
            try {
                queues[RX].disableNotifications();
            } catch (GuestFault f) {
                breakQueue(RX, f);
            }
        }
        processRx();
    }

    /** DHCP answers the transmit path made go to the receive path: by its thread, or here. */
    private void deliverDhcpMail() {
        if (!dhcpMail) {
            return;
        }
        dhcpMail = false;
        Runnable nudge = rxNudge;
        if (nudge != null) {
            nudge.run();
            return;
        }
        rxLock.lock();
        try {
            processRx();
        } finally {
            rxLock.unlock();
        }
    }

    /** The tap is readable. */
    public void tapReadable() {
        rxLock.lock();
        try {
            processRx();
        } finally {
            rxLock.unlock();
        }
    }

    /** True if the shell should poll the tap: RX can take frames now. */
    public boolean wantsTap() {
        rxLock.lock();
        try {
            return active(RX) && !rxWaiting && backlogCount == 0;
        } finally {
            rxLock.unlock();
        }
    }

    /** True if transmit has work left over after its budget; call {@link #runPendingTx} soon. */
    public boolean txHasPendingWork() {
        txLock.lock();
        try {
            return txPending && active(TX);
        } finally {
            txLock.unlock();
        }
    }

    /** True if receive has work left over after its budget; call {@link #runPendingRx} soon. */
    public boolean rxHasPendingWork() {
        rxLock.lock();
        try {
            return rxPending && active(RX);
        } finally {
            rxLock.unlock();
        }
    }

    public void runPendingTx() {
        txLock.lock();
        try {
            if (txPending) {
                processTx();
            }
        } finally {
            txLock.unlock();
        }
        deliverDhcpMail();
    }

    public void runPendingRx() {
        rxLock.lock();
        try {
            if (rxPending) {
                processRx();
            }
        } finally {
            rxLock.unlock();
        }
    }

    private void interrupt(int q) throws GuestFault {
        SplitQueue sq = queues[q];
        sq.publish();
        if (sq.needsInterrupt() && vectors[q] != NO_VECTOR) {
            irq.signal(vectors[q]);
        }
    }

    // ---------------------------------------------------------------- transmit

    private void processTx() {
        txPending = false;
        if (!active(TX)) {
            return;
        }
        SplitQueue q = queues[TX];
        DescriptorChain c = chains[TX];
        int budget = TX_BUDGET;
        try {
            for (;;) {
                q.disableNotifications();
                while (budget > 0 && q.pop(c)) {
                    transmit(c);
                    q.push(c.head(), 0);
                    budget--;
                }
                interrupt(TX);
                if (budget == 0) {
                    txPending = true;
                    break;
                }
                if (!q.enableNotifications()) {
                    break;
                }
            }
        } catch (GuestFault f) {
            breakQueue(TX, f);
        }
    }

    /** One guest frame to the tap (or to the DHCP responder); the chain is pushed by the caller. */
    private void transmit(DescriptorChain c) {
        try {
            if (c.writableSegments() > 0) {
                // virtio 1.2 §2.7.4.1: the device SHOULD NOT read a device-writable buffer, and
                // a transmit buffer is never one: the chain is bad as a whole.
                txCounters.drop(NicCounters.Drop.TX_WRITABLE_DESCRIPTOR);
                return;
            }
            long readable = c.readableBytes();
            if (readable < hdrSize) {
                txCounters.drop(DropReason.FRAME_TOO_SHORT);
                return;
            }
            if (readable - hdrSize > MAX_FRAME) {
                ringCounters[TX].count(GuestFault.Reason.FRAME_TOO_LONG);
                return;
            }
            int len = (int) (readable - hdrSize);
            c.gather(0, txHdrBytes, 0, hdrSize);
            txHdr.read(txHdrBytes, 0, hdrSize);
            int peeked = c.gather(hdrSize, txPeek, 0, Math.min(len, txPeek.length));
            if (cfg.lockedLladdr() && (peeked < 12 || !sameMac(txPeek, 6))) {
                txCounters.drop(NicCounters.Drop.LOCKED_LLADDR_TX);
                return;
            }
            if (cfg.dhcp() != null && looksLikeDhcp(txPeek, peeked) && answerDhcp(c, len)) {
                return;
            }
            TxVerdict v = validator.check(txHdr, len);
            switch (v) {
                case PASS -> passThrough(c, len);
                case FINISH_CSUM -> finishChecksum(c, len);
                case SEGMENT -> segment(c, len);
                case DROP -> txCounters.drop(validator.dropReason());
            }
        } catch (GuestFault f) {
            ringCounters[TX].count(f.reason());
        }
    }

    private void passThrough(DescriptorChain c, int len) throws GuestFault {
        int prefixLen = writeTapHeader(prefix);
        int skip = hdrSize;
        if (cfg.lockedLladdr()) {
            // The checked Ethernet header goes from our copy: the guest cannot change it now.
            System.arraycopy(txPeek, 0, prefix, prefixLen, 14);
            prefixLen += 14;
            skip += 14;
        }
        long n;
        if (readableSpans(c, skip)) {
            n = txTap.write(prefix, prefixLen, txSpans);
        } else {
            // More buffers than one writev takes: send from a copy.
            System.arraycopy(prefix, 0, txScratch, 0, TAP_HDR);
            c.gather(hdrSize, txScratch, TAP_HDR, len);
            if (cfg.lockedLladdr() && !sameMac(txScratch, TAP_HDR + 6)) {
                txCounters.drop(NicCounters.Drop.LOCKED_LLADDR_TX);
                return;
            }
            n = txTap.write(txScratch, 0, TAP_HDR + len);
        }
        if (tapWritten(n)) {
            txCounters.txFrames++;
            txCounters.txBytes += len;
            if (txHdr.needsCsum()) {
                txCounters.txCsumOffloaded++;
            }
            int base = txHdr.gsoBase();
            if (base == VirtioNetHdr.GSO_TCPV4 || base == VirtioNetHdr.GSO_TCPV6) {
                txCounters.txTsoFrames++;
            } else if (base == VirtioNetHdr.GSO_UDP_L4) {
                txCounters.txUsoFrames++;
            }
        }
    }

    /** Our copy of a validated header for the tap: only NEEDS_CSUM may be set (virtio 1.2 §5.1.6.2.1). */
    private int writeTapHeader(byte[] out) {
        int flags = txHdr.flags;
        int numBuffers = txHdr.numBuffers;
        txHdr.flags &= VirtioNetHdr.F_NEEDS_CSUM;
        txHdr.numBuffers = 0;
        txHdr.write(out, 0, TAP_HDR);
        txHdr.flags = flags;
        txHdr.numBuffers = numBuffers;
        return TAP_HDR;
    }

    /** The readable part of {@code c} after {@code skip} bytes into {@link #txSpans}; false if it does not fit. */
    private boolean readableSpans(DescriptorChain c, long skip) {
        txSpans.clear();
        for (int i = 0; i < c.readableSegments(); i++) {
            long l = c.length(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            if (!txSpans.add(c.address(i) + skip, l - skip)) {
                return false;
            }
            skip = 0;
        }
        return true;
    }

    private void finishChecksum(DescriptorChain c, int len) throws GuestFault {
        Arrays.fill(txScratch, 0, TAP_HDR, (byte) 0);
        c.gather(hdrSize, txScratch, TAP_HDR, len);
        if (cfg.lockedLladdr() && !sameMac(txScratch, TAP_HDR + 6)) {
            txCounters.drop(NicCounters.Drop.LOCKED_LLADDR_TX);
            return;
        }
        if (txHdr.needsCsum()) {
            InetChecksum.completePartial(txScratch, TAP_HDR, len, txHdr.csumStart, txHdr.csumOffset);
        }
        if (tapWritten(txTap.write(txScratch, 0, TAP_HDR + len))) {
            txCounters.txFrames++;
            txCounters.txBytes += len;
            if (txHdr.needsCsum()) {
                txCounters.txSwChecksummed++;
            }
        }
    }

    private void segment(DescriptorChain c, int len) throws GuestFault {
        c.gather(hdrSize, txScratch, 0, len);
        if (cfg.lockedLladdr() && !sameMac(txScratch, 6)) {
            txCounters.drop(NicCounters.Drop.LOCKED_LLADDR_TX);
            return;
        }
        int n = txSegmenter.segment(txHdr, txScratch, 0, len, txSegOut, 0, TAP_HDR, txSegOff, txSegLen);
        if (n < 0) {
            txCounters.drop(txSegmenter.dropReason());
            return;
        }
        boolean all = true;
        for (int i = 0; i < n; i++) {
            all &= written(txTap.write(txSegOut, txSegOff[i] - TAP_HDR, txSegLen[i] + TAP_HDR));
        }
        if (all) {
            txCounters.txFrames++;
            txCounters.txBytes += len;
            txCounters.txSwSegmented++;
        } else {
            txCounters.drop(NicCounters.Drop.TX_TAP_ERROR);   // one outcome per chain, however many segments failed
        }
    }

    /** True if the write went through; a failed one is counted as a tap error (its drop is the caller's). */
    private boolean written(long n) {
        if (n >= 0) {
            return true;
        }
        txCounters.tapError((int) -n, true);
        return false;
    }

    private boolean tapWritten(long n) {
        if (written(n)) {
            return true;
        }
        txCounters.drop(NicCounters.Drop.TX_TAP_ERROR);
        return false;
    }

    private boolean sameMac(byte[] b, int off) {
        byte[] mac = cfg.mac();
        for (int i = 0; i < 6; i++) {
            if (b[off + i] != mac[i]) {
                return false;
            }
        }
        return true;
    }

    /** Untagged IPv4/UDP to port 67 (the responder checks everything else). */
    private static boolean looksLikeDhcp(byte[] f, int n) {
        if (n < 14 + 20 + 8 || f[12] != 0x08 || f[13] != 0x00 || (f[14] & 0xF0) != 0x40 || f[14 + 9] != 17) {
            return false;
        }
        int udp = 14 + (f[14] & 0x0F) * 4;
        return udp + 4 <= n && f[udp + 2] == 0 && f[udp + 3] == DhcpMessage.SERVER_PORT;
    }

    /** True if the frame was the guest's DHCP request and is consumed here (answered or not). */
    private boolean answerDhcp(DescriptorChain c, int len) throws GuestFault {
        int n = Math.min(len, 1500 + 18);
        c.gather(hdrSize, txScratch, 0, n);
        if (!dhcpIn.parse(txScratch, 0, n) || !cfg.dhcp().fromGuest(dhcpIn)) {
            return false;
        }
        int posted = dhcpPosted;
        if (posted - dhcpFreed == DHCP_SLOTS) {
            txCounters.drop(NicCounters.Drop.RX_BACKLOG_FULL);
            return true;
        }
        int slot = Math.floorMod(posted, DHCP_SLOTS);
        byte[] out = dhcpOut[slot];
        int replyLen = cfg.dhcp().respond(dhcpIn, out, TAP_HDR);
        if (replyLen == 0) {
            txCounters.drop(NicCounters.Drop.DHCP_UNANSWERED);
            return true;
        }
        Arrays.fill(out, 0, TAP_HDR, (byte) 0);
        dhcpLen[slot] = replyLen;
        dhcpPosted = posted + 1;   // publishes the slot to the receive path
        dhcpMail = true;
        txCounters.dhcpReplies++;
        return true;
    }

    /** Moves DHCP answers posted by the transmit path into the receive backlog (receive path). */
    private void collectDhcp() {
        int posted = dhcpPosted;
        while (dhcpSeen != posted) {
            int slot = Math.floorMod(dhcpSeen, DHCP_SLOTS);
            dhcpSeen++;
            if (!enqueue(dhcpOut[slot], TAP_HDR - hdrSize, hdrSize + dhcpLen[slot])) {
                dhcpFreed = dhcpFreed + 1;
            }
        }
    }

    // ---------------------------------------------------------------- receive

    private void processRx() {
        if (!active(RX)) {
            return;
        }
        collectDhcp();
        try {
            rxPending = false;
            for (int frames = 0; ; frames++) {
                if (frames >= RX_BUDGET) {
                    rxPending = backlogCount > 0;
                    break;
                }
                if (!drainBacklog()) {
                    if (waitForBuffers()) {
                        break;
                    }
                    continue;
                }
                int r = directPath() ? receiveDirect() : receiveScratch();
                if (r == EMPTY) {
                    break;
                }
                if (r == NEED_BUFFERS) {
                    if (waitForBuffers()) {
                        break;
                    }
                }
            }
            interrupt(RX);
        } catch (GuestFault f) {
            breakQueue(RX, f);
        }
    }

    private static final int DONE = 0;
    private static final int EMPTY = 1;
    private static final int NEED_BUFFERS = 2;

    /**
     * Asks the driver for a kick when it adds buffers. Returns false if buffers arrived
     * meanwhile (the caller goes on), true if RX must wait for the kick.
     */
    private boolean waitForBuffers() throws GuestFault {
        if (queues[RX].enableNotifications()) {
            queues[RX].disableNotifications();
            rxWaiting = false;
            return false;
        }
        rxWaiting = true;
        return true;
    }

    /** The direct path is safe when every frame the tap may hand is one the guest takes. */
    private boolean directPath() {
        return !cfg.lockedLladdr() && (mayGive() & ~TunFlags.forGuest(rxFeatures)) == 0;
    }

    /** Takes one more chain from the ring into the held list. */
    private boolean fetch() throws GuestFault {
        if (heldCount == held.length) {
            return false;
        }
        SplitQueue q = queues[RX];
        DescriptorChain c = held[(heldHead + heldCount) % held.length];
        while (q.pop(c)) {
            if (c.writableBytes() < hdrSize) {
                // virtio 1.2 §5.1.6.3.1: every receive buffer holds at least the header.
                rxCounters.drop(DropReason.RX_BUFFER_TOO_SMALL);
                q.push(c.head(), 0);
                continue;
            }
            heldCount++;
            heldBytes += capacity(c);
            return true;
        }
        return false;
    }

    private static int capacity(DescriptorChain c) {
        return (int) Math.min(c.writableBytes(), TAP_HDR + MAX_FRAME);
    }

    private DescriptorChain heldAt(int i) {
        return held[(heldHead + i) % held.length];
    }

    /** Returns the first {@code k} held chains to the driver with {@link #usedLen} bytes each. */
    private void consume(int k) throws GuestFault {
        for (int i = 0; i < k; i++) {
            DescriptorChain c = heldAt(i);
            heldBytes -= capacity(c);
            queues[RX].push(c.head(), usedLen[i]);
        }
        heldHead = (heldHead + k) % held.length;
        heldCount -= k;
    }

    /** True if the held chains can take a frame of {@code total} bytes (header included), fetching as needed. */
    private boolean reserve(long total) throws GuestFault {
        if (mergeable) {
            while (heldBytes < total && fetch()) {
                // take more
            }
            return heldBytes >= total;
        }
        return heldCount > 0 || fetch();
    }

    /** True if no more chains can be held: waiting for buffers would never end. */
    private boolean cannotGrow() {
        return heldCount == held.length || heldCount == queues[RX].size();
    }

    private int receiveDirect() throws GuestFault {
        int maxFrame = (mayGive() & GSO_TUN_FLAGS) != 0 ? MAX_FRAME : cfg.mtu() + L2_OVERHEAD;
        if (!reserve(hdrSize + maxFrame) && (heldCount == 0 || !cannotGrow())) {
            return NEED_BUFFERS;
        }
        rxSpans.clear();
        int chainsInSpans = mergeable ? heldCount : 1;
        for (int i = 0; i < chainsInSpans; i++) {
            if (!writableSpans(heldAt(i), i == 0 ? hdrSize : 0)) {
                break;
            }
        }
        long n = rxTap.read(rxHdrBytes, rxSpans);
        if (n < 0) {
            return tapReadFailed(n);
        }
        int len = (int) Math.min(n - TAP_HDR, Integer.MAX_VALUE);
        if (n < TAP_HDR + 14) {
            rxCounters.drop(NicCounters.Drop.RX_RUNT);
            return DONE;
        }
        if (len > rxSpans.bytes()) {
            rxCounters.drop(NicCounters.Drop.RX_TRUNCATED);
            return DONE;
        }
        if (!filter.promiscuous()) {
            // The guest asked for the filter; the frame may sit in its posted buffers, unused.
            gatherSpans(rxPeek, MacFilter.MAC_LEN);
            if (!filter.accepts(rxPeek, 0)) {
                rxCounters.drop(NicCounters.Drop.RX_MAC_FILTER);
                return DONE;
            }
        }
        rxHdr.read(rxHdrBytes, 0, TAP_HDR);
        RxVerdict v = rxPolicy.check(rxHdr, len);
        switch (v) {
            case DROP -> rxCounters.drop(rxPolicy.dropReason());
            case DELIVER -> deliverHeld(len, v);
            case FINISH_CSUM -> {
                gatherSpans(rxScratch, len);
                InetChecksum.completePartial(rxScratch, 0, len, rxHdr.csumStart, rxHdr.csumOffset);
                scatterSpans(rxHdr.csumStart + rxHdr.csumOffset, rxScratch, rxHdr.csumStart + rxHdr.csumOffset, 2);
                rxCounters.rxSwChecksummed++;
                deliverHeld(len, v);
            }
            case SEGMENT -> {
                gatherSpans(rxScratch, len);
                segmentToBacklog(rxScratch, 0, len);
            }
        }
        return DONE;
    }

    /** The writable part of {@code c} after {@code skip} bytes, appended to {@link #rxSpans}. */
    private boolean writableSpans(DescriptorChain c, long skip) {
        for (int i = c.readableSegments(); i < c.segments(); i++) {
            long l = c.length(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            if (!rxSpans.add(c.address(i) + skip, l - skip)) {
                return false;
            }
            skip = 0;
        }
        return true;
    }

    private void gatherSpans(byte[] dst, int len) throws GuestFault {
        int done = 0;
        for (int i = 0; i < rxSpans.count() && done < len; i++) {
            int n = Math.min(rxSpans.length(i), len - done);
            memory.read(rxSpans.address(i), dst, done, n);
            done += n;
        }
    }

    /** Writes {@code src[srcOff..+n)} to frame offset {@code at} of the frame in {@link #rxSpans}. */
    private void scatterSpans(int at, byte[] src, int srcOff, int n) throws GuestFault {
        long skip = at;
        for (int i = 0; i < rxSpans.count() && n > 0; i++) {
            int l = rxSpans.length(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            int k = (int) Math.min(l - skip, n);
            memory.write(rxSpans.address(i) + skip, src, srcOff, k);
            srcOff += k;
            n -= k;
            skip = 0;
        }
    }

    /** The frame read by the direct path sits in the held chains: give them its header and return them. */
    private void deliverHeld(int len, RxVerdict v) throws GuestFault {
        rxPolicy.prepareHeader(rxHdr, v);
        int k = planHeld(hdrSize + len);
        if (k < 0) {
            rxCounters.drop(plan.dropReason());
            return;
        }
        rxHdr.numBuffers = plan.numBuffers();
        rxHdr.write(rxHdrBytes, 0, hdrSize);
        heldAt(0).scatter(0, rxHdrBytes, 0, hdrSize);
        countRx(rxHdr.flags, rxHdr.gsoType, len);
        consume(k);
    }

    /** Plans {@code total} bytes over the held chains into {@link #usedLen}; returns how many chains, or -1. */
    private int planHeld(int total) {
        plan.begin(hdrSize, total - hdrSize, mergeable, mergeable ? Math.max(1, heldCount) : 1);
        int k = 0;
        while (!plan.done()) {
            if (k == heldCount) {
                return -1;
            }
            int n = plan.place(capacity(heldAt(k)));
            if (n < 0) {
                return -1;
            }
            usedLen[k++] = n;
        }
        return k;
    }

    private void countRx(int flags, int gsoType, int len) {
        rxCounters.rxFrames++;
        rxCounters.rxBytes += len;
        if ((flags & VirtioNetHdr.F_NEEDS_CSUM) != 0) {
            rxCounters.rxCsumOffloaded++;
        }
        if (gsoType != VirtioNetHdr.GSO_NONE) {
            rxCounters.rxGsoFrames++;
        }
    }

    private int tapReadFailed(long n) {
        int errno = (int) -n;
        if (errno == 11) {   // EAGAIN: the tap is empty, so everything queued under old flags is gone
            staleFlags = 0;
            return EMPTY;
        }
        rxCounters.tapError(errno, false);
        return EMPTY;
    }

    /** Bytes of a staged frame looked at before anything is copied: the tap header and the Ethernet header. */
    private static final int STAGED_PEEK = TAP_HDR + 14;

    /**
     * The scratch path: the frame is staged outside guest memory and checked (locked
     * lladdr, the MAC filter, the offload policy); a frame the guest takes as is is copied
     * once, from the staging area into its buffers, anything else is brought into
     * {@link #rxScratch} to be finished or segmented.
     */
    private int receiveScratch() throws GuestFault {
        long n = rxTap.readStaged(rxScratch, STAGED_PEEK);
        if (n < 0) {
            return tapReadFailed(n);
        }
        if (n < TAP_HDR + 14) {
            rxCounters.drop(NicCounters.Drop.RX_RUNT);
            return DONE;
        }
        if (n > rxScratch.length) {
            rxCounters.drop(NicCounters.Drop.RX_TRUNCATED);
            return DONE;
        }
        int len = (int) n - TAP_HDR;
        if (cfg.lockedLladdr() && (rxScratch[TAP_HDR] & 1) == 0 && !sameMac(rxScratch, TAP_HDR)) {
            rxCounters.drop(NicCounters.Drop.LOCKED_LLADDR_RX);
            return DONE;
        }
        if (!filter.accepts(rxScratch, TAP_HDR)) {
            rxCounters.drop(NicCounters.Drop.RX_MAC_FILTER);
            return DONE;
        }
        rxHdr.read(rxScratch, 0, TAP_HDR);
        RxVerdict v = rxPolicy.check(rxHdr, len);
        if (v == RxVerdict.DROP) {
            rxCounters.drop(rxPolicy.dropReason());
            return DONE;
        }
        if (v == RxVerdict.DELIVER && backlogCount == 0 && deliverStaged(len)) {
            return DONE;
        }
        rxTap.copyStaged(STAGED_PEEK, rxScratch, STAGED_PEEK, (int) n - STAGED_PEEK);
        switch (v) {
            case DROP -> rxCounters.drop(rxPolicy.dropReason());
            case SEGMENT -> segmentToBacklog(rxScratch, TAP_HDR, len);
            case DELIVER, FINISH_CSUM -> {
                if (v == RxVerdict.FINISH_CSUM) {
                    InetChecksum.completePartial(rxScratch, TAP_HDR, len, rxHdr.csumStart, rxHdr.csumOffset);
                    rxCounters.rxSwChecksummed++;
                }
                rxPolicy.prepareHeader(rxHdr, v);
                rxHdr.write(rxScratch, TAP_HDR - hdrSize, hdrSize);
                enqueue(rxScratch, TAP_HDR - hdrSize, hdrSize + len);
            }
        }
        return DONE;
    }

    /**
     * Copies a staged frame the guest takes as is straight into held chains; false (nothing
     * done) if the ring has too few buffers now, so that the frame waits in the backlog.
     */
    private boolean deliverStaged(int len) throws GuestFault {
        int total = hdrSize + len;
        if (!reserve(total) && (heldCount == 0 || !cannotGrow())) {
            return false;
        }
        rxPolicy.prepareHeader(rxHdr, RxVerdict.DELIVER);
        int k = planHeld(total);
        if (k < 0) {
            rxCounters.drop(plan.dropReason());
            return true;
        }
        rxSpans.clear();
        for (int i = 0; i < k; i++) {
            if (!writableSpans(heldAt(i), i == 0 ? hdrSize : 0)) {
                break;
            }
        }
        int done = 0;
        for (int i = 0; i < rxSpans.count() && done < len; i++) {
            int m = Math.min(rxSpans.length(i), len - done);
            rxTap.copyStaged(TAP_HDR + done, rxSpans.address(i), m);
            done += m;
        }
        if (done < len) {
            rxCounters.drop(NicCounters.Drop.RX_TRUNCATED);   // more pieces than one frame may have
            return true;
        }
        rxHdr.numBuffers = plan.numBuffers();
        rxHdr.write(rxHdrBytes, 0, hdrSize);
        heldAt(0).scatter(0, rxHdrBytes, 0, hdrSize);
        countRx(rxHdr.flags, rxHdr.gsoType, len);
        consume(k);
        return true;
    }

    /** Software GSO of a received frame at {@code buf[off..off+len)}; the segments go to the backlog. */
    private void segmentToBacklog(byte[] buf, int off, int len) {
        int n = rxSegmenter.segment(rxHdr, buf, off, len, rxSegOut, 0, hdrSize, rxSegOff, rxSegLen);
        if (n < 0) {
            rxCounters.drop(rxSegmenter.dropReason());
            return;
        }
        rxCounters.rxSwSegmented++;
        rxPolicy.prepareHeader(rxHdr, RxVerdict.SEGMENT);
        for (int i = 0; i < n; i++) {
            rxHdr.write(rxSegOut, rxSegOff[i] - hdrSize, hdrSize);
            enqueue(rxSegOut, rxSegOff[i] - hdrSize, hdrSize + rxSegLen[i]);
        }
    }

    private boolean enqueue(byte[] buf, int off, int len) {
        if (backlogCount == BACKLOG) {
            rxCounters.drop(NicCounters.Drop.RX_BACKLOG_FULL);
            return false;
        }
        int i = (backlogHead + backlogCount) % BACKLOG;
        backlogBuf[i] = buf;
        backlogOff[i] = off;
        backlogLen[i] = len;
        backlogCount++;
        return true;
    }

    /** Copies backlog frames into receive buffers; false if buffers ran out first. */
    private boolean drainBacklog() throws GuestFault {
        while (backlogCount > 0) {
            int e = backlogHead;
            byte[] buf = backlogBuf[e];
            int off = backlogOff[e];
            int total = backlogLen[e];
            if (!reserve(total)) {
                if (heldCount == 0 || !cannotGrow()) {
                    return false;
                }
            }
            int k = planHeld(total);
            if (k >= 0) {
                if (hdrSize == VirtioNetHdr.SIZE) {
                    VirtioNetHdr.putNumBuffers(buf, off, plan.numBuffers());
                }
                int done = 0;
                for (int i = 0; i < k; i++) {
                    heldAt(i).scatter(0, buf, off + done, usedLen[i]);
                    done += usedLen[i];
                }
                countRx(buf[off] & 0xFF, buf[off + 1] & 0xFF, total - hdrSize);
                consume(k);
            } else {
                rxCounters.drop(plan.dropReason());
            }
            backlogBuf[e] = null;
            backlogHead = (backlogHead + 1) % BACKLOG;
            backlogCount--;
            for (byte[] slot : dhcpOut) {
                if (slot == buf) {
                    dhcpFreed = dhcpFreed + 1;   // answers leave the backlog in the order they were posted
                }
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- control queue

    private void processCtrl() {
        if (!active(CTRL)) {
            return;
        }
        SplitQueue q = queues[CTRL];
        DescriptorChain c = chains[CTRL];
        try {
            for (int budget = q.size(); budget > 0 && q.pop(c); budget--) {
                if (c.writableBytes() < 1) {
                    ctrlCounters.drop(NicCounters.Drop.CTRL_BAD_COMMAND);
                    q.push(c.head(), 0);
                    continue;
                }
                byte ack = command(c);
                if (ack != CTRL_OK) {
                    ctrlCounters.drop(NicCounters.Drop.CTRL_BAD_COMMAND);
                }
                one[0] = ack;
                // struct virtio_net_ctrl: class, command, data (readable), then u8 ack (writable).
                c.scatter(c.writableBytes() - 1, one, 0, 1);
                q.push(c.head(), 1);
            }
            interrupt(CTRL);
        } catch (GuestFault f) {
            breakQueue(CTRL, f);
        }
    }

    private byte command(DescriptorChain c) throws GuestFault {
        long dataLen = c.readableBytes() - 2;
        if (dataLen < 0) {
            return CTRL_ERR;
        }
        c.gather(0, ctrlData, 0, 2);
        int cls = ctrlData[0] & 0xFF;
        int cmd = ctrlData[1] & 0xFF;
        boolean ctrlRx = VirtioNetFeatures.has(acked, VirtioNetFeatures.CTRL_RX);
        if (cls == CTRL_CLASS_RX && ctrlRx && (cmd == CTRL_RX_PROMISC || cmd == CTRL_RX_ALLMULTI) && dataLen == 1) {
            c.gather(2, ctrlData, 0, 1);
            boolean on = ctrlData[0] != 0;
            if (cmd == CTRL_RX_PROMISC) {
                filter.promiscuous(on);
            } else {
                filter.allMulticast(on);
            }
            Log.debug((cmd == CTRL_RX_PROMISC ? "promisc " : "allmulti ") + on);
            return CTRL_OK;
        }
        if (cls == CTRL_CLASS_MAC && ctrlRx && cmd == CTRL_MAC_TABLE_SET) {
            return filter.setTables(ctrlArgs, dataLen) ? CTRL_OK : CTRL_ERR;
        }
        if (cls == CTRL_CLASS_MAC && cmd == CTRL_MAC_ADDR_SET && dataLen == MacFilter.MAC_LEN
                && VirtioNetFeatures.has(acked, VirtioNetFeatures.CTRL_MAC_ADDR)) {
            return macAddrSet(c);
        }
        if (cls == CTRL_CLASS_GUEST_OFFLOADS && cmd == CTRL_GUEST_OFFLOADS_SET && dataLen == 8
                && VirtioNetFeatures.has(acked, VirtioNetFeatures.CTRL_GUEST_OFFLOADS)) {
            c.gather(2, ctrlData, 0, 8);
            long requested = 0;
            for (int i = 7; i >= 0; i--) {
                requested = requested << 8 | (ctrlData[i] & 0xFF);   // le64
            }
            if (!VirtioNetFeatures.guestOffloadsAllowed(acked, requested)) {
                return CTRL_ERR;
            }
            rxFeatures = VirtioNetFeatures.withGuestOffloads(acked, requested);
            rebuildPolicies();
            sendTunCap();
            Log.debug("guest offloads set to 0x" + Long.toHexString(requested));
            return CTRL_OK;
        }
        return CTRL_ERR;
    }

    /**
     * VIRTIO_NET_CTRL_MAC_ADDR_SET (virtio 1.2 §5.1.6.5.2): the driver's new default address
     * becomes the filter's own address. With locked lladdr only the configured address is
     * accepted (vmd: the guest cannot move to another MAC).
     */
    private byte macAddrSet(DescriptorChain c) throws GuestFault {
        c.gather(2, ctrlData, 0, MacFilter.MAC_LEN);
        if (cfg.lockedLladdr() && !sameMac(ctrlData, 0)) {
            return CTRL_ERR;
        }
        filter.ownAddress(ctrlData, 0);
        return CTRL_OK;
    }

    public boolean promiscuous() {
        return filter.promiscuous();
    }

    public boolean allMulticast() {
        return filter.allMulticast();
    }

    /** The receive filter (read it on the device's thread). */
    MacFilter filter() {
        return filter;
    }
}
