package org.jvmd.vionet;

import org.jvmd.sys.Errno;
import org.jvmd.virtio.DescriptorChain;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.SplitQueue;
import org.jvmd.virtio.blk.GuestSpans;
import org.jvmd.virtio.net.DropReason;
import org.jvmd.virtio.net.InetChecksum;
import org.jvmd.virtio.net.RxBufferPlan;
import org.jvmd.virtio.net.RxOffloadPolicy;
import org.jvmd.virtio.net.RxVerdict;
import org.jvmd.virtio.net.TunFlags;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * The receive queue (Cloud Hypervisor's RxVirtio): tap frames and DHCP answers into the
 * guest's buffers. Two paths.
 *
 * <p><em>Direct</em>, when every frame the tap may hand is one the guest takes as is: chains
 * are taken from the ring (and held until used) to cover the largest frame the tap can give,
 * the frame is read straight into them (its header into our array), the header is checked by
 * {@link RxOffloadPolicy}, rewritten and num_buffers set, and the chains are returned.
 *
 * <p><em>Scratch</em>, when the tap may hand more than the guest takes (offloads just
 * changed, not yet confirmed, or refused: {@link TunCapTracker}) or with locked lladdr: the
 * frame is staged outside guest memory and checked; one the guest takes as is is copied once
 * into its buffers, anything else is finished or segmented in software.
 *
 * <p>Frames waiting for buffers (software segments, DHCP answers, staged frames) sit in a
 * backlog; the tap is not read while it is non-empty or while the ring has too few buffers,
 * and the guest's next kick resumes. Every frame read has an outcome: delivered, segmented
 * into the backlog, or a counted drop.
 */
final class VionetRx {
    static final int BUDGET = 256;
    /** Receive chains held at most (mergeable buffers for one 64 KiB frame). */
    static final int MAX_HELD = 64;
    static final int BACKLOG = WorkArea.MAX_SEGMENTS + 8;
    static final int DHCP_SLOTS = 4;
    /** Ethernet header and one VLAN tag, beyond the MTU (buffer sizing without GSO). */
    static final int L2_OVERHEAD = 14 + 4;
    private static final int GSO_TUN_FLAGS = TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.UFO | TunFlags.USO4 | TunFlags.USO6;
    /** Bytes of a staged frame looked at before anything is copied: the tap header and the Ethernet header. */
    private static final int STAGED_PEEK = Vionet.TAP_HDR + 14;

    // what one attempt to receive a frame came to
    private static final int DONE = 0;
    private static final int EMPTY = 1;
    private static final int NEED_BUFFERS = 2;

    private final VionetConfig cfg;
    private final GuestMemory memory;
    private final TapIo tap;
    private final MacFilter filter;
    private final TunCapTracker tunCap;
    private final NicCounters counters = new NicCounters();
    private final WorkArea work = new WorkArea();
    private final RxBufferPlan plan = new RxBufferPlan();

    // negotiation
    private int hdrSize = Vionet.TAP_HDR;
    private boolean mergeable;
    private long features;
    private RxOffloadPolicy policy;

    private SplitQueue queue;
    private boolean pending;
    /** Notifications are on and the device waits for the driver's kick (too few buffers). */
    private boolean waiting;
    /** Reads of the tap that returned a frame (or a runt): whether a look found anything. */
    private long tapReads;

    // chains held until a frame uses them
    private DescriptorChain[] held = new DescriptorChain[0];
    private int heldHead;
    private int heldCount;
    private long heldBytes;
    private final int[] usedLen = new int[MAX_HELD];

    // the backlog: frames (header included, hdrSize bytes) waiting for buffers
    private final byte[][] backlogBuf = new byte[BACKLOG][];
    private final int[] backlogOff = new int[BACKLOG];
    private final int[] backlogLen = new int[BACKLOG];
    private int backlogHead;
    private int backlogCount;

    // DHCP answers: slots that stay untouched while their answer is in the backlog
    private final byte[][] dhcpOut = new byte[DHCP_SLOTS][Vionet.TAP_HDR + DhcpResponder.REPLY_MAX];
    private int dhcpPosted;
    private int dhcpFreed;
    /** An answer was posted since the last {@link #process}: the device should run receive. */
    private boolean dhcpMail;

    VionetRx(VionetConfig cfg, GuestMemory memory, TapIo tap, MacFilter filter, TunCapTracker tunCap,
             RxOffloadPolicy policy) {
        this.cfg = cfg;
        this.memory = memory;
        this.tap = tap;
        this.filter = filter;
        this.tunCap = tunCap;
        this.policy = policy;
    }

    NicCounters counters() {
        return counters;
    }

    /** The negotiated header size, MRG_RXBUF, and the receive features with their policy. */
    void configure(int hdrSize, boolean mergeable, long features, RxOffloadPolicy policy) {
        this.hdrSize = hdrSize;
        this.mergeable = mergeable;
        this.features = features;
        this.policy = policy;
    }

    void attach(SplitQueue q) {
        queue = q;
        held = new DescriptorChain[Math.min(MAX_HELD, q.size())];
        for (int i = 0; i < held.length; i++) {
            held[i] = q.newChain();
        }
        heldHead = 0;
        heldCount = 0;
        heldBytes = 0;
        waiting = false;
        pending = false;
    }

    /** Device reset: the queue, held chains, backlog and DHCP answers are forgotten. */
    void detach() {
        queue = null;
        held = new DescriptorChain[0];
        heldHead = 0;
        heldCount = 0;
        heldBytes = 0;
        for (int i = 0; i < BACKLOG; i++) {
            backlogBuf[i] = null;
        }
        backlogHead = 0;
        backlogCount = 0;
        dhcpPosted = 0;
        dhcpFreed = 0;
        dhcpMail = false;
        waiting = false;
        pending = false;
    }

    /** True if the shell should poll the tap: frames can be taken now. */
    boolean wantsTap() {
        return !waiting && backlogCount == 0;
    }

    /** Reads of the tap that returned data, since the queue was made. */
    long tapReads() {
        return tapReads;
    }

    /** True if a DHCP answer was posted since receive last ran. */
    boolean hasDhcpMail() {
        return dhcpMail;
    }

    /** True if the budget ran out with backlog left: call {@link #process} again soon. */
    boolean pending() {
        return pending;
    }

    /** DRIVER_OK: the device reads its own work, no kick needed. */
    void start() throws GuestFault {
        queue.disableNotifications();
    }

    /** The driver's kick: buffers were added. */
    void kicked() throws GuestFault {
        if (waiting) {
            waiting = false;
            queue.disableNotifications();
        }
    }

    /** A slot for a DHCP answer, or null if every slot's answer still waits. Then {@link #postDhcp}. */
    byte[] dhcpSlot() {
        return dhcpPosted - dhcpFreed == DHCP_SLOTS ? null : dhcpOut[Math.floorMod(dhcpPosted, DHCP_SLOTS)];
    }

    /** The answer of {@code len} bytes (behind a tap header) in the last {@link #dhcpSlot} goes to the backlog. */
    void postDhcp(int len) {
        byte[] slot = dhcpOut[Math.floorMod(dhcpPosted, DHCP_SLOTS)];
        dhcpPosted++;
        dhcpMail = true;
        if (!enqueue(slot, Vionet.TAP_HDR - hdrSize, hdrSize + len)) {
            dhcpFreed++;
        }
    }

    /** Receives up to the budget: backlog first, then the tap, until it is empty or buffers run out. */
    void process() throws GuestFault {
        pending = false;
        dhcpMail = false;
        for (int frames = 0; ; frames++) {
            if (frames >= BUDGET) {
                pending = backlogCount > 0;
                return;
            }
            if (!drainBacklog()) {
                if (waitForBuffers()) {
                    return;
                }
                continue;
            }
            int r = directPath() ? receiveDirect() : receiveScratch();
            if (r == EMPTY) {
                return;
            }
            if (r == NEED_BUFFERS && waitForBuffers()) {
                return;
            }
        }
    }

    /**
     * Asks the driver for a kick when it adds buffers. Returns false if buffers arrived
     * meanwhile (the caller goes on), true if receive must wait for the kick.
     */
    private boolean waitForBuffers() throws GuestFault {
        if (queue.enableNotifications()) {
            queue.disableNotifications();
            waiting = false;
            return false;
        }
        waiting = true;
        return true;
    }

    /**
     * The direct path is safe when every frame the tap may hand is one the guest takes: its
     * offloads are the guest's, and a locked NIC's tap filters out unicast for other MACs in
     * the kernel ({@link VionetConfig#tapFiltered}), so no such frame touches guest memory.
     */
    private boolean directPath() {
        return (!cfg.lockedLladdr() || cfg.tapFiltered()) && (tunCap.mayGive() & ~TunFlags.forGuest(features)) == 0;
    }

    // ---------------------------------------------------------------- held chains

    /** Takes one more chain from the ring into the held list. */
    private boolean fetch() throws GuestFault {
        if (heldCount == held.length) {
            return false;
        }
        DescriptorChain c = held[(heldHead + heldCount) % held.length];
        while (queue.pop(c)) {
            if (c.writableBytes() < hdrSize) {
                // virtio 1.2 §5.1.6.3.1: every receive buffer holds at least the header.
                counters.drop(DropReason.RX_BUFFER_TOO_SMALL);
                queue.push(c.head(), 0);
                continue;
            }
            heldCount++;
            heldBytes += capacity(c);
            return true;
        }
        return false;
    }

    private static int capacity(DescriptorChain c) {
        return (int) Math.min(c.writableBytes(), Vionet.TAP_HDR + Vionet.MAX_FRAME);
    }

    private DescriptorChain heldAt(int i) {
        return held[(heldHead + i) % held.length];
    }

    /** Returns the first {@code k} held chains to the driver with {@link #usedLen} bytes each. */
    private void consume(int k) throws GuestFault {
        for (int i = 0; i < k; i++) {
            DescriptorChain c = heldAt(i);
            heldBytes -= capacity(c);
            queue.push(c.head(), usedLen[i]);
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
        return heldCount == held.length || heldCount == queue.size();
    }

    /** True if a frame of {@code total} bytes can be placed now (or never better: with what is held). */
    private boolean enoughHeld(long total) throws GuestFault {
        return reserve(total) || (heldCount > 0 && cannotGrow());
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

    /** The writable part of {@code c} after {@code skip} bytes, appended to the work area's spans. */
    private boolean writableSpans(DescriptorChain c, long skip) {
        for (int i = c.readableSegments(); i < c.segments(); i++) {
            long l = c.length(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            if (!work.spans.add(c.address(i) + skip, l - skip)) {
                return false;
            }
            skip = 0;
        }
        return true;
    }

    /** The first {@code k} held chains' writable parts (the first after the header) as the spans. */
    private void spansOfHeld(int k) {
        work.spans.clear();
        for (int i = 0; i < k; i++) {
            if (!writableSpans(heldAt(i), i == 0 ? hdrSize : 0)) {
                return;
            }
        }
    }

    /** Gives the held chains the frame's header (num_buffers set) and returns {@code k} of them. */
    private void complete(int k, int len) throws GuestFault {
        VirtioNetHdr hdr = work.hdr;
        hdr.numBuffers = plan.numBuffers();
        hdr.write(work.hdrBytes, 0, hdrSize);
        heldAt(0).scatter(0, work.hdrBytes, 0, hdrSize);
        countRx(hdr.flags, hdr.gsoType, len);
        consume(k);
    }

    private void countRx(int flags, int gsoType, int len) {
        counters.rxFrames++;
        counters.rxBytes += len;
        if ((flags & VirtioNetHdr.F_NEEDS_CSUM) != 0) {
            counters.rxCsumOffloaded++;
        }
        if (gsoType != VirtioNetHdr.GSO_NONE) {
            counters.rxGsoFrames++;
        }
    }

    // ---------------------------------------------------------------- the direct path

    private int receiveDirect() throws GuestFault {
        int maxFrame = (tunCap.mayGive() & GSO_TUN_FLAGS) != 0 ? Vionet.MAX_FRAME : cfg.mtu() + L2_OVERHEAD;
        if (!enoughHeld(hdrSize + maxFrame)) {
            return NEED_BUFFERS;
        }
        spansOfHeld(mergeable ? heldCount : 1);
        GuestSpans spans = work.spans;
        long n = tap.read(work.hdrBytes, spans);
        if (n < 0) {
            return tapReadFailed(n);
        }
        tapReads++;
        if (n < Vionet.TAP_HDR + 14) {
            counters.drop(NicCounters.Drop.RX_RUNT);
            return DONE;
        }
        int len = (int) Math.min(n - Vionet.TAP_HDR, Integer.MAX_VALUE);
        if (len > spans.bytes()) {
            counters.drop(NicCounters.Drop.RX_TRUNCATED);
            return DONE;
        }
        if (cfg.lockedLladdr() || !filter.promiscuous()) {
            // A locked NIC, or the guest asked for the filter; a dropped frame sits in its posted buffers, unused.
            gatherSpans(work.peek, MacFilter.MAC_LEN);
            if (lockedOut(work.peek, 0)) {
                // the tap's kernel filter lets none through: counted should it ever fail
                counters.drop(NicCounters.Drop.LOCKED_LLADDR_RX);
                return DONE;
            }
            if (!filter.accepts(work.peek, 0)) {
                counters.drop(NicCounters.Drop.RX_MAC_FILTER);
                return DONE;
            }
        }
        VirtioNetHdr hdr = work.hdr.read(work.hdrBytes, 0, Vionet.TAP_HDR);
        RxVerdict v = policy.check(hdr, len);
        switch (v) {
            case DROP -> counters.drop(policy.dropReason());
            case DELIVER -> deliverHeld(len, v);
            case FINISH_CSUM -> {
                byte[] scratch = work.scratch;
                int at = hdr.csumStart + hdr.csumOffset;
                gatherSpans(scratch, len);
                InetChecksum.completePartial(scratch, 0, len, hdr.csumStart, hdr.csumOffset);
                scatterSpans(at, scratch, at, 2);
                counters.rxSwChecksummed++;
                deliverHeld(len, v);
            }
            case SEGMENT -> {
                gatherSpans(work.scratch, len);
                segmentToBacklog(work.scratch, 0, len);
            }
        }
        return DONE;
    }

    /** A locked NIC's unicast frame for another MAC, its destination at {@code b[off]}. */
    private boolean lockedOut(byte[] b, int off) {
        return cfg.lockedLladdr() && (b[off] & 1) == 0 && !cfg.isOwnMac(b, off);
    }

    private void gatherSpans(byte[] dst, int len) throws GuestFault {
        GuestSpans spans = work.spans;
        int done = 0;
        for (int i = 0; i < spans.count() && done < len; i++) {
            int n = Math.min(spans.length(i), len - done);
            memory.read(spans.address(i), dst, done, n);
            done += n;
        }
    }

    /** Writes {@code src[srcOff..+n)} to frame offset {@code at} of the frame in the spans. */
    private void scatterSpans(int at, byte[] src, int srcOff, int n) throws GuestFault {
        GuestSpans spans = work.spans;
        long skip = at;
        for (int i = 0; i < spans.count() && n > 0; i++) {
            int l = spans.length(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            int k = (int) Math.min(l - skip, n);
            memory.write(spans.address(i) + skip, src, srcOff, k);
            srcOff += k;
            n -= k;
            skip = 0;
        }
    }

    /** The frame read by the direct path sits in the held chains: give them its header and return them. */
    private void deliverHeld(int len, RxVerdict v) throws GuestFault {
        policy.prepareHeader(work.hdr, v);
        int k = planHeld(hdrSize + len);
        if (k < 0) {
            counters.drop(plan.dropReason());
            return;
        }
        complete(k, len);
    }

    private int tapReadFailed(long n) {
        int errno = (int) -n;
        if (errno == Errno.EAGAIN) {   // the tap is empty, so everything queued under old flags is gone
            tunCap.tapEmpty();
            return EMPTY;
        }
        counters.tapError(errno, false);
        return EMPTY;
    }

    // ---------------------------------------------------------------- the scratch path

    /**
     * The frame is staged outside guest memory and checked (locked lladdr, the MAC filter,
     * the offload policy); a frame the guest takes as is is copied once, from the staging
     * area into its buffers, anything else is brought into the work area to be finished or
     * segmented.
     */
    private int receiveScratch() throws GuestFault {
        byte[] scratch = work.scratch;
        long n = tap.readStaged(scratch, STAGED_PEEK);
        if (n < 0) {
            return tapReadFailed(n);
        }
        tapReads++;
        if (n < STAGED_PEEK) {
            counters.drop(NicCounters.Drop.RX_RUNT);
            return DONE;
        }
        if (n > scratch.length) {
            counters.drop(NicCounters.Drop.RX_TRUNCATED);
            return DONE;
        }
        int len = (int) n - Vionet.TAP_HDR;
        if (lockedOut(scratch, Vionet.TAP_HDR)) {
            counters.drop(NicCounters.Drop.LOCKED_LLADDR_RX);
            return DONE;
        }
        if (!filter.accepts(scratch, Vionet.TAP_HDR)) {
            counters.drop(NicCounters.Drop.RX_MAC_FILTER);
            return DONE;
        }
        VirtioNetHdr hdr = work.hdr.read(scratch, 0, Vionet.TAP_HDR);
        RxVerdict v = policy.check(hdr, len);
        if (v == RxVerdict.DROP) {
            counters.drop(policy.dropReason());
            return DONE;
        }
        if (v == RxVerdict.DELIVER && backlogCount == 0 && deliverStaged(len)) {
            return DONE;
        }
        tap.copyStaged(STAGED_PEEK, scratch, STAGED_PEEK, (int) n - STAGED_PEEK);
        if (v == RxVerdict.SEGMENT) {
            segmentToBacklog(scratch, Vionet.TAP_HDR, len);
            return DONE;
        }
        if (v == RxVerdict.FINISH_CSUM) {
            InetChecksum.completePartial(scratch, Vionet.TAP_HDR, len, hdr.csumStart, hdr.csumOffset);
            counters.rxSwChecksummed++;
        }
        policy.prepareHeader(hdr, v);
        hdr.write(scratch, Vionet.TAP_HDR - hdrSize, hdrSize);
        enqueue(scratch, Vionet.TAP_HDR - hdrSize, hdrSize + len);
        return DONE;
    }

    /**
     * Copies a staged frame the guest takes as is straight into held chains; false (nothing
     * done) if the ring has too few buffers now, so that the frame waits in the backlog.
     */
    private boolean deliverStaged(int len) throws GuestFault {
        int total = hdrSize + len;
        if (!enoughHeld(total)) {
            return false;
        }
        policy.prepareHeader(work.hdr, RxVerdict.DELIVER);
        int k = planHeld(total);
        if (k < 0) {
            counters.drop(plan.dropReason());
            return true;
        }
        spansOfHeld(k);
        GuestSpans spans = work.spans;
        int done = 0;
        for (int i = 0; i < spans.count() && done < len; i++) {
            int m = Math.min(spans.length(i), len - done);
            tap.copyStaged(Vionet.TAP_HDR + done, spans.address(i), m);
            done += m;
        }
        if (done < len) {
            counters.drop(NicCounters.Drop.RX_TRUNCATED);   // more pieces than one frame may have
            return true;
        }
        complete(k, len);
        return true;
    }

    // ---------------------------------------------------------------- the backlog

    /** Software GSO of a received frame at {@code buf[off..off+len)}; the segments go to the backlog. */
    private void segmentToBacklog(byte[] buf, int off, int len) {
        VirtioNetHdr hdr = work.hdr;
        int n = work.segmenter.segment(hdr, buf, off, len, work.segOut, 0, hdrSize, work.segOff, work.segLen);
        if (n < 0) {
            counters.drop(work.segmenter.dropReason());
            return;
        }
        counters.rxSwSegmented++;
        policy.prepareHeader(hdr, RxVerdict.SEGMENT);
        for (int i = 0; i < n; i++) {
            hdr.write(work.segOut, work.segOff[i] - hdrSize, hdrSize);
            enqueue(work.segOut, work.segOff[i] - hdrSize, hdrSize + work.segLen[i]);
        }
    }

    private boolean enqueue(byte[] buf, int off, int len) {
        if (backlogCount == BACKLOG) {
            counters.drop(NicCounters.Drop.RX_BACKLOG_FULL);
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
            if (!enoughHeld(total)) {
                return false;
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
                counters.drop(plan.dropReason());
            }
            backlogBuf[e] = null;
            backlogHead = (backlogHead + 1) % BACKLOG;
            backlogCount--;
            if (isDhcpSlot(buf)) {
                dhcpFreed++;   // answers leave the backlog in the order they were posted
            }
        }
        return true;
    }

    private boolean isDhcpSlot(byte[] buf) {
        for (byte[] slot : dhcpOut) {
            if (slot == buf) {
                return true;
            }
        }
        return false;
    }
}
