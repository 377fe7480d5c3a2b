package org.jvmd.it.sim;

import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_CSUM;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_ECN;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_UFO;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_USO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_USO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.has;

import org.jvmd.sys.Epoll;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.net.Tap;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * The guest's receive direction, as Linux virtio-net's NAPI poll does it: receive
 * buffers are posted in the layout the negotiated features call for, and on vionet's
 * interrupt (the call eventfd) the used ring is drained with interrupts off, every frame
 * (header and its num_buffers pieces) written to the guest stack's tap with one writev
 * straight from guest memory, the buffers posted again and vionet kicked if it asked.
 *
 * <p>Buffer layouts (drivers/net/virtio_net.c):
 * <ul>
 * <li>MRG_RXBUF: one buffer per descriptor ({@link SimOptions#mergeableBufferSize}); a frame
 *     spans {@code num_buffers} consecutive used elements, the header in the first;</li>
 * <li>"big packets" (GUEST_TSO4/6 or GUEST_UFO without MRG_RXBUF): a chain of the header
 *     and {@link #BIG_PAGES} pages;</li>
 * <li>otherwise "small" buffers of header + {@link #GOOD_PACKET_LEN}.</li>
 * </ul>
 *
 * <p>The device is under test, so what it writes is checked as a strict driver would:
 * num_buffers in range (and 1 without MRG_RXBUF, virtio 1.2 §5.1.6.4.1), no checksum flags
 * without GUEST_CSUM, no GSO type the guest did not ack. Violations are counted with the
 * first one described ({@link #deviceErrors}); nothing is logged per packet.
 */
final class RxPath extends SimPath {
    enum Layout { MERGEABLE, BIG, SMALL }

    /** MAX_SKB_FRAGS with 4 KiB pages (include/linux/skbuff.h): pages per "big" chain. */
    static final int BIG_PAGES = 17;
    static final int PAGE = 4096;
    /** ETH_HLEN + VLAN_HLEN + ETH_DATA_LEN (drivers/net/virtio_net.c GOOD_PACKET_LEN). */
    static final int GOOD_PACKET_LEN = 14 + 4 + 1500;
    private static final int HDR = VirtioNetHdr.SIZE;
    private static final long CALL = 2;
    private static final long WAKE = 3;

    private final DriverQueue q;
    private final MappedGuestMemory mem;
    private final Tap tap;
    private final Fd kickFd;
    private final Fd callFd;
    private final Layout layout;
    private final int bufLen;
    private final long[] buffers;
    private final long[] bufOfHead;
    private final IoVec out;
    private final long[] pieces;
    private int pieceCount;
    private int piecesLeft;

    /** The receive offloads frames may carry (GUEST_* bits); changed by CTRL_GUEST_OFFLOADS. */
    private long offloads;
    /** Offloads also allowed while a change is under way (the union of old and new). */
    private volatile long transitional;
    private volatile long nextOffloads = -1;
    private volatile int nextOffloadsFromUsedIdx;


    volatile long frames;
    volatile long bytes;
    volatile long gsoFrames;
    volatile long csumFrames;
    volatile long validFrames;
    volatile long mergedFrames;
    volatile long kicks;
    volatile long tapErrors;
    volatile int lastTapErrno;
    volatile long deviceErrors;
    private volatile String firstDeviceError;

    RxPath(DriverQueue q, MappedGuestMemory mem, Tap tap, Fd kickFd, Fd callFd, Layout layout,
           long[] buffers, int bufLen, long ackedFeatures) throws SysException {
        super("receive");
        this.q = q;
        this.mem = mem;
        this.tap = tap;
        this.kickFd = kickFd;
        this.callFd = callFd;
        this.layout = layout;
        this.buffers = buffers.clone();
        this.bufLen = bufLen;
        this.bufOfHead = new long[q.size()];
        int maxPieces = layout == Layout.MERGEABLE ? Math.min(q.size(), IoVec.MAX) : 1;
        this.out = new IoVec(maxPieces);
        this.pieces = new long[maxPieces];
        this.offloads = ackedFeatures;
    }

    /** Bytes of guest memory one posted chain needs in {@code layout}. */
    static int chainBytes(Layout layout, int mergeableBufferSize) {
        return switch (layout) {
            case MERGEABLE -> mergeableBufferSize;
            case BIG -> HDR + BIG_PAGES * PAGE;
            case SMALL -> HDR + GOOD_PACKET_LEN;
        };
    }

    /** Descriptors one chain takes in the ring (a multi-buffer chain takes one with INDIRECT_DESC). */
    static int chainDescriptors(Layout layout, boolean indirect) {
        return layout == Layout.BIG && !indirect ? 1 + BIG_PAGES : 1;
    }

    /** Posts every receive buffer (Linux try_fill_recv at open) and kicks vionet. */
    void fill() throws GuestFault, SysException {
        for (long buf : buffers) {
            post(buf);
        }
        if (q.kick()) {
            EventFd.signal(kickFd, 1);
            kicks++;
        }
    }

    @Override
    protected void attach(Epoll epoll, long base) throws SysException {
        epoll.add(callFd, LibC.EPOLLIN | LibC.EPOLLET, base + CALL);
        epoll.add(wake.fd(), LibC.EPOLLIN, base + WAKE);
    }

    @Override
    protected boolean turn() throws SysException, GuestFault {
        q.disableInterrupts();   // NAPI: no interrupts while polling
        drain();
        return q.enableInterrupts();   // more arrived while re-enabling (virtio 1.2 §2.7.14)
    }

    /** The interrupt's cause, seen in guest memory as a halted vCPU's poll sees it pending. */
    @Override
    protected boolean look() throws GuestFault {
        return q.hasUsed();
    }

    @Override
    protected void event(long tag) throws SysException {
        if (tag == WAKE) {
            wake.read();
        }
        // CALL: edge-triggered, the interrupt needs no read of the eventfd
    }

    private void drain() throws GuestFault, SysException {
        long f = 0;
        long b = 0;
        long k = 0;
        int h;
        try {
            while (!stop && (h = q.reap()) != DriverQueue.NONE) {
                long buf = bufOfHead[h];
                int len = q.usedLen();
                if (piecesLeft == 0) {
                    int usedIdx = (q.lastUsedIdx() - 1) & 0xffff;
                    if (!firstPiece(buf, len, usedIdx)) {
                        post(buf);
                        continue;
                    }
                }
                out.add(mem, buf, len);
                pieces[pieceCount++] = buf;
                if (--piecesLeft > 0) {
                    continue;   // the rest of the frame follows in the next used elements
                }
                long w = tap.writev(out);
                if (w < 0) {
                    tapErrors++;
                    lastTapErrno = (int) -w;
                } else {
                    f++;
                    b += w - HDR;
                }
                for (int i = 0; i < pieceCount; i++) {
                    post(pieces[i]);
                }
                if (q.kick()) {
                    EventFd.signal(kickFd, 1);
                    k++;
                }
            }
        } finally {
            if (f != 0) {
                frames += f;
                bytes += b;
            }
            if (k != 0) {
                kicks += k;
            }
        }
    }

    /** Checks the header of a frame's first buffer and starts collecting it; false to drop it. */
    private boolean firstPiece(long buf, int len, int usedIdx) throws GuestFault {
        if (len < HDR) {
            deviceError("used length " + len + " is shorter than the virtio_net_hdr");
            return false;
        }
        int numBuffers = mem.readShort(buf + VirtioNetHdr.NUM_BUFFERS_OFFSET) & 0xffff;
        if (layout == Layout.MERGEABLE ? numBuffers < 1 || numBuffers > pieces.length : numBuffers != 1) {
            deviceError("num_buffers " + numBuffers + " with " + layout + " receive buffers");
            return false;
        }
        long next = nextOffloads;
        if (next >= 0 && ((usedIdx - nextOffloadsFromUsedIdx) & 0xffff) < 0x8000) {
            offloads = next;
            nextOffloads = -1;
            transitional = 0;
        }
        checkOffloads(offloads | transitional, mem.readByte(buf) & 0xff, mem.readByte(buf + 1) & 0xff);
        piecesLeft = numBuffers;
        pieceCount = 0;
        out.clear();
        if (numBuffers > 1) {
            mergedFrames++;
        }
        return true;
    }

    /** virtio 1.2 §5.1.6.4.1: what the device may put in flags and gso_type for this guest. */
    private void checkOffloads(long offloads, int flags, int gsoType) {
        if (flags != 0) {
            if (!has(offloads, GUEST_CSUM)) {
                deviceError("flags 0x" + Integer.toHexString(flags) + " without GUEST_CSUM");
            }
            if ((flags & VirtioNetHdr.F_NEEDS_CSUM) != 0) {
                csumFrames++;
            }
            if ((flags & VirtioNetHdr.F_DATA_VALID) != 0) {
                validFrames++;
            }
        }
        if (gsoType == VirtioNetHdr.GSO_NONE) {
            return;
        }
        gsoFrames++;
        boolean ok = switch (gsoType & ~VirtioNetHdr.GSO_ECN) {
            case VirtioNetHdr.GSO_TCPV4 -> has(offloads, GUEST_TSO4);
            case VirtioNetHdr.GSO_TCPV6 -> has(offloads, GUEST_TSO6);
            case VirtioNetHdr.GSO_UDP -> has(offloads, GUEST_UFO);
            case VirtioNetHdr.GSO_UDP_L4 -> has(offloads, GUEST_USO4) || has(offloads, GUEST_USO6);
            default -> false;
        };
        if (!ok || ((gsoType & VirtioNetHdr.GSO_ECN) != 0 && !has(offloads, GUEST_ECN))) {
            deviceError("gso_type 0x" + Integer.toHexString(gsoType) + " the guest did not ack");
        }
    }

    private void deviceError(String what) {
        deviceErrors++;
        if (firstDeviceError == null) {
            firstDeviceError = what;
        }
    }

    String firstDeviceError() {
        return firstDeviceError;
    }

    private void post(long buf) throws GuestFault {
        switch (layout) {
            case MERGEABLE -> q.writable(buf, bufLen);
            case SMALL -> q.writable(buf, HDR + GOOD_PACKET_LEN);
            case BIG -> {
                q.writable(buf, HDR);
                for (int i = 0; i < BIG_PAGES; i++) {
                    q.writable(buf + HDR + (long) i * PAGE, PAGE);
                }
            }
        }
        int head = q.add();
        if (head == DriverQueue.NONE) {
            throw new IllegalStateException("receive ring has no room for a buffer it gave back");
        }
        bufOfHead[head] = buf;
    }

    /**
     * The guest is about to change its receive offloads (CTRL_GUEST_OFFLOADS_SET): until
     * {@link #offloadsChanged} frames may carry the old or the new ones.
     */
    void offloadsChanging(long union) {
        transitional = union;
    }

    /**
     * vionet acked the change when its used ring stood at {@code usedIdx}: frames used from
     * there on are judged by {@code features} alone.
     */
    void offloadsChanged(long features, int usedIdx) {
        nextOffloadsFromUsedIdx = usedIdx;
        nextOffloads = features;
    }

}
