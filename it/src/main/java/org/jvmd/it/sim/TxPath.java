package org.jvmd.it.sim;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.jvmd.sys.Epoll;
import org.jvmd.sys.Errno;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.net.Tap;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * The guest's transmit direction: what a Linux virtio-net driver's start_xmit does, fed by
 * the guest network stack's tap. Each frame is read (header first) straight into a free
 * transmit buffer in guest memory, posted as a chain and vionet is kicked when the ring's
 * notification rule asks for it (EVENT_IDX or NO_NOTIFY). Used chains are reaped to recycle
 * buffers; transmit interrupts stay off except while the ring is full (Linux
 * virtqueue_enable_cb_delayed on a stopped queue) or injected faults are outstanding.
 *
 * <p>Run by one {@link SimLoop} thread, alone or beside the receive path. Nothing is
 * allocated per frame: buffers, the iovec and the epoll events are made once.
 */
final class TxPath extends SimPath {
    private static final long TAP = 1;
    private static final long CALL = 2;
    private static final long WAKE = 3;
    /** Frames read before the used ring is reaped again. */
    private static final int BATCH = 64;
    private static final int HDR = VirtioNetHdr.SIZE;

    private final DriverQueue q;
    private final MappedGuestMemory mem;
    private final Tap tap;
    private final Fd kickFd;
    private final Fd callFd;
    private final int bufSize;
    private final boolean split;
    private final boolean indirect;
    private final int descsPerChain;
    private final long[] bufOfHead;
    private final long[] freeBufs;
    private int nfree;
    private final IoVec iov = new IoVec(2);
    /** 802.1Q TCI to insert into every transmitted frame, or -1 (see {@link #tagFrames}). */
    private volatile int vlanTci = -1;
    private final FaultFrames faultFrames;

    private final ConcurrentLinkedQueue<Injection> mailbox = new ConcurrentLinkedQueue<>();
    private Injection pending;
    private final Injection[] injectedAt;
    private int injectedOutstanding;
    private Epoll epoll;
    private long base;
    private boolean tapArmed;
    /**
     * The tap may hold frames: epoll said so (level-triggered, so it says so again while it
     * does), or the last pump stopped before the tap said EAGAIN. A turn woken by an
     * interrupt alone reads no empty tap: a guest's transmit path runs when its stack has a
     * frame, and a read that finds nothing would sit in front of the interrupt's work.
     */
    private boolean tapReadable;
    private boolean irqOn;


    volatile long frames;
    volatile long bytes;
    volatile long gsoFrames;
    volatile long csumFrames;
    volatile long vlanCsumFrames;
    volatile long kicks;
    volatile long truncated;
    volatile long dataValidCleared;
    volatile long readErrors;

    /**
     * @param buffers guest-physical addresses of the transmit buffers, each {@code bufSize} bytes
     */
    TxPath(DriverQueue q, MappedGuestMemory mem, Tap tap, Fd kickFd, Fd callFd, long[] buffers,
           int bufSize, boolean split, boolean indirect, FaultFrames faultFrames) throws SysException {
        super("transmit");
        this.q = q;
        this.mem = mem;
        this.tap = tap;
        this.kickFd = kickFd;
        this.callFd = callFd;
        this.bufSize = bufSize;
        this.split = split;
        this.indirect = indirect;
        this.descsPerChain = split && !indirect ? 2 : 1;
        this.bufOfHead = new long[q.size()];
        java.util.Arrays.fill(bufOfHead, -1);
        this.injectedAt = new Injection[q.size()];
        this.freeBufs = buffers.clone();
        this.nfree = buffers.length;
        this.faultFrames = faultFrames;
    }

    @Override
    protected void ended() {
        // the one being posted and those still queued: each caller learns it now, not at its timeout
        Injection p = pending != null ? pending : mailbox.poll();
        while (p != null) {
            p.result.completeExceptionally(new IllegalStateException("transmit path stopped"));
            p = mailbox.poll();
        }
        pending = null;
    }

    @Override
    protected void attach(Epoll epoll, long base) throws SysException, GuestFault {
        this.epoll = epoll;
        this.base = base;
        epoll.add(tap.fd(), LibC.EPOLLIN, base + TAP);
        epoll.add(callFd, LibC.EPOLLIN | LibC.EPOLLET, base + CALL);
        epoll.add(wake.fd(), LibC.EPOLLIN, base + WAKE);
        q.disableInterrupts();
        tapArmed = true;
        tapReadable = true;
        irqOn = false;
    }

    @Override
    protected boolean turn() throws SysException, GuestFault {
        reap();
        if (pending != null) {
            tryInject();
        }
        boolean blocked = pump();
        boolean wantIrq = blocked || injectedOutstanding > 0;
        if (wantIrq && !irqOn) {
            irqOn = true;
            if (q.enableInterrupts()) {
                return true;   // used chains are already there: reap them first
            }
        } else if (!wantIrq && irqOn) {
            q.disableInterrupts();
            irqOn = false;
        }
        if (blocked == tapArmed) {
            // out of buffers: stop listening to the tap until vionet gives some back
            epoll.modify(tap.fd(), blocked ? 0 : LibC.EPOLLIN, base + TAP);
            tapArmed = !blocked;
        }
        return false;
    }

    /**
     * Reads the guest stack's tap if the ring has room (the frame posted at once), else looks
     * for used chains that would make room.
     */
    @Override
    protected boolean look() throws SysException, GuestFault {
        if (!tapArmed) {
            return q.hasUsed();
        }
        long before = frames;
        tapReadable = true;
        pump();
        return frames != before || tapReadable;   // tapReadable: it stopped short of EAGAIN
    }

    @Override
    protected void event(long tag) throws SysException {
        if (tag == TAP) {
            tapReadable = true;
        } else if (tag == WAKE) {
            wake.read();
            if (pending == null) {
                pending = mailbox.poll();
            }
        }
        // CALL: edge-triggered, the interrupt needs no read of the eventfd
    }

    /** Reads frames from the tap into free buffers and posts them; true if it stopped for want of buffers. */
    private boolean pump() throws SysException, GuestFault {
        long f = 0;
        long b = 0;
        long gso = 0;
        long csum = 0;
        long vlan = 0;
        long k = 0;
        long trunc = 0;
        long dv = 0;
        boolean blocked = false;
        int tci = vlanTci;
        try {
            for (int i = 0; i < BATCH && tapReadable; i++) {
                if (nfree == 0 || q.numFree() < descsPerChain) {
                    blocked = true;
                    break;
                }
                long buf = freeBufs[nfree - 1];
                iov.clear();
                if (tci < 0) {
                    iov.add(mem, buf, bufSize);
                } else {
                    // leave a 4-byte gap after the MAC addresses for the tag
                    iov.add(mem, buf, HDR + 12);
                    iov.add(mem, buf + HDR + 16, bufSize - HDR - 16);
                }
                long n = tap.readv(iov);
                if (n < 0) {
                    if (n == -Errno.EINTR) {
                        continue;
                    }
                    if (n != -Errno.EAGAIN) {
                        readErrors++;
                        throw new SysException("readv(" + tap.name() + ")", (int) -n);
                    }
                    tapReadable = false;
                    break;
                }
                if (n <= HDR) {
                    continue;   // a tap never hands out less than a header and a frame
                }
                nfree--;
                if (tci >= 0) {
                    n = tag(buf, n, tci);
                }
                if (n == bufSize) {
                    trunc++;
                }
                int flags = mem.readByte(buf) & 0xff;
                if ((flags & VirtioNetHdr.F_DATA_VALID) != 0) {
                    // tun reports CHECKSUM_UNNECESSARY as DATA_VALID; a driver never sends it
                    // (virtio 1.2 §5.1.6.2: the driver MUST NOT set DATA_VALID on transmit)
                    mem.writeByte(buf, (byte) (flags & ~VirtioNetHdr.F_DATA_VALID));
                    dv++;
                }
                if ((flags & VirtioNetHdr.F_NEEDS_CSUM) != 0) {
                    csum++;
                    if (mem.readShort(buf + HDR + 12) == (short) 0x0081) {   // 802.1Q, big-endian 0x8100
                        vlan++;
                    }
                }
                if (mem.readByte(buf + 1) != 0) {
                    gso++;
                }
                post(buf, (int) n);
                f++;
                b += n - HDR;
                if (q.kick()) {
                    EventFd.signal(kickFd, 1);
                    k++;
                }
            }
        } finally {
            if (f != 0) {
                frames += f;
                bytes += b;
                gsoFrames += gso;
                csumFrames += csum;
                vlanCsumFrames += vlan;
                truncated += trunc;
                dataValidCleared += dv;
            }
            if (k != 0) {
                kicks += k;
            }
        }
        return blocked;
    }

    /**
     * Writes an 802.1Q tag into the gap left after the MAC addresses and moves the header's
     * offsets past it, as a guest VLAN interface over virtio-net produces (virtio-net has no
     * VLAN transmit offload, so the tag is inline and csum_start counts it).
     */
    private long tag(long buf, long n, int tci) throws GuestFault {
        mem.writeShort(buf + HDR + 12, (short) 0x0081);   // TPID 0x8100, big-endian
        mem.writeShort(buf + HDR + 14, Short.reverseBytes((short) tci));
        int flags = mem.readByte(buf) & 0xff;
        if ((flags & VirtioNetHdr.F_NEEDS_CSUM) != 0) {
            mem.writeShort(buf + 6, (short) ((mem.readShort(buf + 6) & 0xffff) + 4));
        }
        int hdrLen = mem.readShort(buf + 2) & 0xffff;
        if (hdrLen != 0) {
            mem.writeShort(buf + 2, (short) (hdrLen + 4));
        }
        return n + 4;
    }

    /**
     * From now on, inserts an 802.1Q tag with {@code tci} into every transmitted frame (-1:
     * stop). This kernel may lack 8021q, so the guest stack cannot tag itself; a priority
     * tag (VID 0) is still taken by a host stack without VLAN devices.
     */
    void tagFrames(int tci) {
        vlanTci = tci;
    }

    private void post(long buf, int len) throws GuestFault {
        if (split) {
            q.readable(buf, HDR).readable(buf + HDR, len - HDR);
        } else {
            q.readable(buf, len);
        }
        int head = q.add();
        if (head == DriverQueue.NONE) {
            throw new IllegalStateException("transmit ring full although " + descsPerChain + " descriptors were free");
        }
        bufOfHead[head] = buf;
    }

    private void reap() throws GuestFault {
        int h;
        while ((h = q.reap()) != DriverQueue.NONE) {
            long buf = bufOfHead[h];
            bufOfHead[h] = -1;
            if (buf >= 0) {
                freeBufs[nfree++] = buf;
            }
            Injection inj = injectedAt[h];
            if (inj != null) {
                injectedAt[h] = null;
                injectedOutstanding--;
                inj.used(h, q.usedLen());
            }
        }
    }

    // ---- fault injection -------------------------------------------------------------

    /** A batch of malformed chains and, once vionet has used them all, their used lengths. */
    static final class Injection {
        final List<TxFault> faults;
        final int[] heads;
        final int[] usedLens;
        int done;
        final CompletableFuture<int[]> result = new CompletableFuture<>();

        Injection(List<TxFault> faults) {
            this.faults = List.copyOf(faults);
            this.heads = new int[faults.size()];
            this.usedLens = new int[faults.size()];
            java.util.Arrays.fill(usedLens, -1);
        }

        void used(int head, int len) {
            for (int i = 0; i < heads.length; i++) {
                if (heads[i] == head && usedLens[i] < 0) {
                    usedLens[i] = len;
                    break;
                }
            }
            if (++done == heads.length) {
                result.complete(usedLens.clone());
            }
        }
    }

    /** Queues {@code inj} for the thread running this path, which posts its chains between frames. */
    void submit(Injection inj) throws SysException {
        mailbox.add(inj);
        wake.signal();
    }

    private void tryInject() throws SysException, GuestFault {
        Injection inj = pending;
        int n = inj.faults.size();
        if (nfree < n || q.numFree() < 2 * n) {
            return;   // wait for buffers to come back
        }
        for (int i = 0; i < n; i++) {
            int head = inject(inj.faults.get(i));
            inj.heads[i] = head;
            injectedAt[head] = inj;
            injectedOutstanding++;
        }
        pending = mailbox.poll();
        if (q.kick()) {
            EventFd.signal(kickFd, 1);
        }
    }

    private int inject(TxFault f) throws GuestFault {
        long top = mem.size();
        long buf = freeBufs[nfree - 1];
        boolean usesBuffer = true;
        int head;
        switch (f) {
            case ADDRESS_OUT_OF_RANGE -> {
                usesBuffer = false;
                head = q.readable(top + 0x10000, 128).add(false);
            }
            case ADDRESS_CROSSES_END -> {
                usesBuffer = false;
                head = q.readable(top - 32, 128).add(false);
            }
            case DESCRIPTOR_LOOP -> {
                int len = faultFrames.good(buf);
                head = q.readable(buf, HDR).readable(buf + HDR, len - HDR).add(false, (table, idx) ->
                        DriverQueue.writeDescriptor(mem, table, idx[1], buf + HDR, len - HDR, Virtq.DESC_F_NEXT, idx[0]));
            }
            case INDIRECT_LOOP -> {
                int len = faultFrames.good(buf);
                q.readable(buf, HDR).readable(buf + HDR, len - HDR);
                head = indirect
                        ? q.add(true, (table, idx) -> DriverQueue.writeDescriptor(mem, table, idx[1], buf + HDR,
                                len - HDR, Virtq.DESC_F_NEXT, idx[0]))
                        : q.add(false, (table, idx) -> DriverQueue.writeDescriptor(mem, table, idx[1], buf + HDR,
                                len - HDR, Virtq.DESC_F_NEXT, idx[1]));   // a descriptor naming itself
            }
            case INDIRECT_TABLE_OUT_OF_RANGE -> {
                usesBuffer = false;
                head = q.readable(buf, HDR).add(false, (table, idx) ->
                        DriverQueue.writeDescriptor(mem, table, idx[0], top + 0x100000, 4 * Virtq.DESC_SIZE,
                                Virtq.DESC_F_INDIRECT, 0));
            }
            case WRITABLE_ONLY -> head = q.writable(buf, 1514).add(false);
            case HEADER_ONLY -> {
                faultFrames.header(buf, new VirtioNetHdr().clear());
                head = q.readable(buf, HDR).add(false);
            }
            default -> {
                int len = faultFrames.badHeader(buf, f);
                head = q.readable(buf, len).add(false);
            }
        }
        if (head == DriverQueue.NONE) {
            throw new IllegalStateException("no room for an injected chain");
        }
        if (usesBuffer) {
            nfree--;
            bufOfHead[head] = buf;
        }
        return head;
    }

    // ---- life cycle ------------------------------------------------------------------

}
