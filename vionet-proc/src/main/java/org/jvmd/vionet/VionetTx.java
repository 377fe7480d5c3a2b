package org.jvmd.vionet;

import java.util.Arrays;
import org.jvmd.virtio.DescriptorChain;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.SplitQueue;
import org.jvmd.virtio.blk.GuestSpans;
import org.jvmd.virtio.net.DropReason;
import org.jvmd.virtio.net.InetChecksum;
import org.jvmd.virtio.net.TxValidator;
import org.jvmd.virtio.net.TxVerdict;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * The transmit queue (Cloud Hypervisor's TxVirtio): guest frames to the tap, or to the local
 * DHCP server. Per chain: the header (which may span descriptors) is copied out and judged
 * by {@link TxValidator} against the acked features and what the tap's write path takes.
 * PASS writes our own copy of the header (so the guest cannot change it after the check) and
 * then the frame straight from guest memory; FINISH_CSUM and SEGMENT gather the frame into
 * the work area and write the result(s) with an empty header; DROP counts the reason. Every
 * chain is returned with length 0 (virtio 1.2 §5.1.6.2) and has exactly one outcome: a
 * frame, a DHCP answer or a counted drop. Used entries are published once per batch with one
 * interrupt ({@link Vionet.Signal}).
 */
final class VionetTx {
    static final int BUDGET = 256;

    private final VionetConfig cfg;
    private final TapIo tap;
    private final VionetRx rx;
    private final NicCounters counters = new NicCounters();
    private final WorkArea work = new WorkArea();
    /** Our copy of the tap header, and with locked lladdr the checked Ethernet header. */
    private final byte[] prefix = new byte[Vionet.TAP_HDR + 14];
    private final DhcpMessage dhcpIn = new DhcpMessage();

    private SplitQueue queue;
    private DescriptorChain chain;
    private int hdrSize = Vionet.TAP_HDR;
    private TxValidator validator;
    private boolean pending;

    VionetTx(VionetConfig cfg, TapIo tap, VionetRx rx, TxValidator validator) {
        this.cfg = cfg;
        this.tap = tap;
        this.rx = rx;
        this.validator = validator;
    }

    NicCounters counters() {
        return counters;
    }

    /** The negotiated header size and the validator for the acked features and the tap. */
    void configure(int hdrSize, TxValidator validator) {
        this.hdrSize = hdrSize;
        this.validator = validator;
    }

    void attach(SplitQueue q) {
        queue = q;
        chain = q.newChain();
        pending = false;
    }

    void detach() {
        queue = null;
        chain = null;
        pending = false;
    }

    /** True if the budget ran out with chains left: call {@link #process} again soon. */
    boolean pending() {
        return pending;
    }

    /**
     * Transmits what the driver made available, up to the budget, with notifications off
     * while working (virtio 1.2 §2.7.10) and a last look after turning them back on.
     */
    void process(Vionet.Signal used) throws GuestFault {
        pending = false;
        SplitQueue q = queue;
        DescriptorChain c = chain;
        int budget = BUDGET;
        for (;;) {
            q.disableNotifications();
            while (budget > 0 && q.pop(c)) {
                transmit(c);
                q.push(c.head(), 0);
                budget--;
            }
            used.raise();
            if (budget == 0) {
                pending = true;
                return;
            }
            if (!q.enableNotifications()) {
                return;
            }
        }
    }

    /** One guest frame to the tap (or to the DHCP server); the chain is pushed by the caller. */
    private void transmit(DescriptorChain c) {
        try {
            if (c.writableSegments() > 0) {
                // virtio 1.2 §2.7.4.1: the device SHOULD NOT read a device-writable buffer, and
                // a transmit buffer is never one: the chain is bad as a whole.
                counters.drop(NicCounters.Drop.TX_WRITABLE_DESCRIPTOR);
                return;
            }
            long readable = c.readableBytes();
            if (readable < hdrSize) {
                counters.drop(DropReason.FRAME_TOO_SHORT);
                return;
            }
            if (readable - hdrSize > Vionet.MAX_FRAME) {
                counters.drop(NicCounters.Drop.FRAME_TOO_LONG);
                return;
            }
            int len = (int) (readable - hdrSize);
            c.gather(0, work.hdrBytes, 0, hdrSize);
            VirtioNetHdr hdr = work.hdr.read(work.hdrBytes, 0, hdrSize);
            byte[] peek = work.peek;
            int peeked = c.gather(hdrSize, peek, 0, Math.min(len, peek.length));
            if (cfg.lockedLladdr() && (peeked < 12 || !cfg.isOwnMac(peek, 6))) {
                counters.drop(NicCounters.Drop.LOCKED_LLADDR_TX);
                return;
            }
            if (cfg.dhcp() != null && looksLikeDhcp(peek, peeked) && answerDhcp(c, len)) {
                return;
            }
            TxVerdict v = validator.check(hdr, len);
            switch (v) {
                case PASS -> passThrough(c, len);
                case FINISH_CSUM -> finishChecksum(c, len);
                case SEGMENT -> segment(c, len);
                case DROP -> counters.drop(validator.dropReason());
            }
        } catch (GuestFault f) {
            queue.counters().count(f.reason());
        }
    }

    private void passThrough(DescriptorChain c, int len) throws GuestFault {
        VirtioNetHdr hdr = work.hdr;
        int prefixLen = writeTapHeader(hdr, prefix);
        int skip = hdrSize;
        if (cfg.lockedLladdr()) {
            // The checked Ethernet header goes from our copy: the guest cannot change it now.
            System.arraycopy(work.peek, 0, prefix, prefixLen, 14);
            prefixLen += 14;
            skip += 14;
        }
        long n;
        if (readableSpans(c, skip)) {
            n = tap.write(prefix, prefixLen, work.spans);
        } else {
            // More buffers than one writev takes: send from a copy.
            byte[] scratch = work.scratch;
            System.arraycopy(prefix, 0, scratch, 0, Vionet.TAP_HDR);
            c.gather(hdrSize, scratch, Vionet.TAP_HDR, len);
            if (cfg.lockedLladdr() && !cfg.isOwnMac(scratch, Vionet.TAP_HDR + 6)) {
                counters.drop(NicCounters.Drop.LOCKED_LLADDR_TX);
                return;
            }
            n = tap.write(scratch, 0, Vionet.TAP_HDR + len);
        }
        if (tapWritten(n)) {
            counters.txFrames++;
            counters.txBytes += len;
            if (hdr.needsCsum()) {
                counters.txCsumOffloaded++;
            }
            int base = hdr.gsoBase();
            if (base == VirtioNetHdr.GSO_TCPV4 || base == VirtioNetHdr.GSO_TCPV6) {
                counters.txTsoFrames++;
            } else if (base == VirtioNetHdr.GSO_UDP_L4) {
                counters.txUsoFrames++;
            }
        }
    }

    /** Our copy of a validated header for the tap: only NEEDS_CSUM may be set (virtio 1.2 §5.1.6.2.1). */
    private static int writeTapHeader(VirtioNetHdr hdr, byte[] out) {
        int flags = hdr.flags;
        int numBuffers = hdr.numBuffers;
        hdr.flags &= VirtioNetHdr.F_NEEDS_CSUM;
        hdr.numBuffers = 0;
        hdr.write(out, 0, Vionet.TAP_HDR);
        hdr.flags = flags;
        hdr.numBuffers = numBuffers;
        return Vionet.TAP_HDR;
    }

    /** The readable part of {@code c} after {@code skip} bytes into the work area's spans; false if it does not fit. */
    private boolean readableSpans(DescriptorChain c, long skip) {
        GuestSpans spans = work.spans;
        spans.clear();
        for (int i = 0; i < c.readableSegments(); i++) {
            long l = c.length(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            if (!spans.add(c.address(i) + skip, l - skip)) {
                return false;
            }
            skip = 0;
        }
        return true;
    }

    private void finishChecksum(DescriptorChain c, int len) throws GuestFault {
        VirtioNetHdr hdr = work.hdr;
        byte[] scratch = work.scratch;
        Arrays.fill(scratch, 0, Vionet.TAP_HDR, (byte) 0);
        c.gather(hdrSize, scratch, Vionet.TAP_HDR, len);
        if (cfg.lockedLladdr() && !cfg.isOwnMac(scratch, Vionet.TAP_HDR + 6)) {
            counters.drop(NicCounters.Drop.LOCKED_LLADDR_TX);
            return;
        }
        if (hdr.needsCsum()) {
            InetChecksum.completePartial(scratch, Vionet.TAP_HDR, len, hdr.csumStart, hdr.csumOffset);
        }
        if (tapWritten(tap.write(scratch, 0, Vionet.TAP_HDR + len))) {
            counters.txFrames++;
            counters.txBytes += len;
            if (hdr.needsCsum()) {
                counters.txSwChecksummed++;
            }
        }
    }

    private void segment(DescriptorChain c, int len) throws GuestFault {
        byte[] scratch = work.scratch;
        c.gather(hdrSize, scratch, 0, len);
        if (cfg.lockedLladdr() && !cfg.isOwnMac(scratch, 6)) {
            counters.drop(NicCounters.Drop.LOCKED_LLADDR_TX);
            return;
        }
        int n = work.segmenter.segment(work.hdr, scratch, 0, len, work.segOut, 0, Vionet.TAP_HDR,
                work.segOff, work.segLen);
        if (n < 0) {
            counters.drop(work.segmenter.dropReason());
            return;
        }
        boolean all = true;
        for (int i = 0; i < n; i++) {
            all &= written(tap.write(work.segOut, work.segOff[i] - Vionet.TAP_HDR, work.segLen[i] + Vionet.TAP_HDR));
        }
        if (all) {
            counters.txFrames++;
            counters.txBytes += len;
            counters.txSwSegmented++;
        } else {
            counters.drop(NicCounters.Drop.TX_TAP_ERROR);   // one outcome per chain, however many segments failed
        }
    }

    /** True if the write went through; a failed one is counted as a tap error (its drop is the caller's). */
    private boolean written(long n) {
        if (n >= 0) {
            return true;
        }
        counters.tapError((int) -n, true);
        return false;
    }

    private boolean tapWritten(long n) {
        if (written(n)) {
            return true;
        }
        counters.drop(NicCounters.Drop.TX_TAP_ERROR);
        return false;
    }

    /** Untagged IPv4/UDP to port 67 (the responder checks everything else). */
    private static boolean looksLikeDhcp(byte[] f, int n) {
        if (n < 14 + 20 + 8 || f[12] != 0x08 || f[13] != 0x00 || (f[14] & 0xF0) != 0x40 || f[14 + 9] != 17) {
            return false;
        }
        int udp = 14 + (f[14] & 0x0F) * 4;
        return udp + 4 <= n && f[udp + 2] == 0 && f[udp + 3] == DhcpMessage.SERVER_PORT;
    }

    /** True if the frame was the guest's DHCP message and is consumed here (answered, or counted). */
    private boolean answerDhcp(DescriptorChain c, int len) throws GuestFault {
        int n = Math.min(len, 1500 + 18);
        byte[] scratch = work.scratch;
        c.gather(hdrSize, scratch, 0, n);
        if (!dhcpIn.parse(scratch, 0, n) || !cfg.dhcp().fromGuest(dhcpIn)) {
            return false;
        }
        byte[] out = rx.dhcpSlot();
        if (out == null) {
            counters.drop(NicCounters.Drop.RX_BACKLOG_FULL);
            return true;
        }
        int replyLen = cfg.dhcp().respond(dhcpIn, out, Vionet.TAP_HDR);
        if (replyLen == 0) {
            counters.drop(NicCounters.Drop.DHCP_UNANSWERED);
            return true;
        }
        Arrays.fill(out, 0, Vionet.TAP_HDR, (byte) 0);
        rx.postDhcp(replyLen);
        counters.dhcpReplies++;
        return true;
    }
}
