package org.jvmd.vionet;

import com.google.protobuf.ByteString;
import org.jvmd.bytes.BigEndian;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.HeapGuestMemory;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.blk.GuestSpans;
import org.jvmd.virtio.net.InetChecksum;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * Runs a throw-away device core through its paths before the privilege drop (transmit
 * pass-through, software segmentation, receive direct and through scratch, a control
 * command, DHCP, reset), so that every class they need is loaded while the process can
 * still open files. The guest is {@link DriverQueue}s on heap memory, the tap {@link Loop},
 * which hands back what was written.
 */
final class VionetWarmup {
    private static final int QUEUE = 16;
    private static final int RX_BUF = 2048;
    private static final int TX_BUF = Vionet.TAP_HDR + 8192;
    private static final int CTRL_BUF = 64;
    /** Heap memory the warm-up needs: three rings and their buffers, with room for alignment. */
    static final int MEMORY = 3 * (QUEUE * (32 + 8 * Virtq.DESC_SIZE) + 16384) + QUEUE * (RX_BUF + TX_BUF) + CTRL_BUF
            + 65536;

    private VionetWarmup() {}

    /** Runs the warm-up; returns the throw-away device's counters before its reset. */
    static org.jvmd.proto.NicStats run() {
        try {
            return run(new HeapGuestMemory(MEMORY));
        } catch (GuestFault e) {
            throw new IllegalStateException("warm-up: " + e.getMessage(), e);
        }
    }

    private static org.jvmd.proto.NicStats run(GuestMemory memory) throws GuestFault {
        byte[] mac = {2, 0, 0, 0, 0, 1};
        byte[] peer = {2, 0, 0, 0, 0, 2};
        NicConfig nic = NicConfig.newBuilder().setMac(ByteString.copyFrom(mac))
                .setFeatures(Vionet.SUPPORTED).setLocal(true)
                .setLocalGuestAddr(ByteString.copyFrom(new byte[] {100, 64, 0, 3}))
                .setLocalGatewayAddr(ByteString.copyFrom(new byte[] {100, 64, 0, 2}))
                .build();
        long features = Vionet.SUPPORTED;
        GuestAllocator a = new GuestAllocator(memory);
        DriverQueue rx = DriverQueue.create(memory, a, QUEUE, features, 8);
        DriverQueue tx = DriverQueue.create(memory, a, QUEUE, features, 8);
        DriverQueue ctrl = DriverQueue.create(memory, a, QUEUE, features, 8);
        long rxBufs = a.allocate((long) QUEUE * RX_BUF, 64);
        long txBufs = a.allocate((long) QUEUE * TX_BUF, 64);
        long ctrlBuf = a.allocate(CTRL_BUF, 64);

        Loop tap = new Loop();
        Vionet v = new Vionet(VionetConfig.from(nic), memory, tap, vector -> { }, caps -> { });
        v.featuresAcked(features);
        v.queueReady(Vionet.RX, rx.layout(), 0);
        v.queueReady(Vionet.TX, tx.layout(), 1);
        v.queueReady(Vionet.CTRL, ctrl.layout(), 2);
        v.driverOk();
        for (int i = 0; i < QUEUE; i++) {
            rx.writable(rxBufs + (long) i * RX_BUF, RX_BUF).add();
        }

        // transmit: TSO passed through, USO segmented (the tap has not said yet that it takes USO)
        int slot = 0;
        for (byte[] f : new byte[][] {frame(peer, mac, 6, 3000, 1448), frame(peer, mac, 17, 3000, 1000)}) {
            long at = txBufs + (long) slot++ * TX_BUF;
            memory.write(at, f, 0, f.length);
            tx.readable(at, f.length).add();
        }
        v.kick(Vionet.TX);
        while (tx.reap() != DriverQueue.NONE) {
            // returned
        }

        v.tunCapReply(TunCapabilitiesReply.newBuilder().setOk(true).build());

        // receive: the tap reads empty once (frames of the old flags are gone), so the direct
        // path; then the guest turns its offloads off and a TSO frame is
        // segmented through the scratch path
        v.tapReadable();
        byte[] in = frame(mac, peer, 6, 1000, 0);
        tap.hand(in, in.length);
        v.tapReadable();
        byte[] cmd = {(byte) VionetCtrl.CLASS_GUEST_OFFLOADS, (byte) VionetCtrl.GUEST_OFFLOADS_SET, 0, 0, 0, 0, 0, 0, 0, 0};
        memory.write(ctrlBuf, cmd, 0, cmd.length);
        ctrl.readable(ctrlBuf, cmd.length).writable(ctrlBuf + CTRL_BUF - 1, 1).add();
        v.kick(Vionet.CTRL);
        in = frame(mac, peer, 6, 3000, 1448);
        tap.hand(in, in.length);
        v.tapReadable();
        while (rx.reap() != DriverQueue.NONE) {
            rx.writable(rxBufs, RX_BUF).add();   // the contents do not matter here
        }
        v.kick(Vionet.RX);
        org.jvmd.proto.NicStats stats = v.stats();
        v.reset();
        v.featuresAcked(VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1) | VirtioNetFeatures.bit(Virtq.F_EVENT_IDX));
        return stats;
    }

    /**
     * A 12-byte header and an Ethernet/IPv4 frame of {@code protocol} (6 TCP, 17 UDP) with
     * {@code payload} bytes, its checksum left partial (NEEDS_CSUM, the pseudo-header sum in
     * the field, virtio 1.2 §5.1.6.2) and, with {@code gsoSize}, TSO or USO.
     */
    private static byte[] frame(byte[] dst, byte[] src, int protocol, int payload, int gsoSize) {
        boolean tcp = protocol == 6;
        int l4Hdr = tcp ? 20 : 8;
        int ip = VirtioNetHdr.SIZE + 14;
        int l4 = ip + 20;
        byte[] b = new byte[l4 + l4Hdr + payload];
        System.arraycopy(dst, 0, b, VirtioNetHdr.SIZE, 6);
        System.arraycopy(src, 0, b, VirtioNetHdr.SIZE + 6, 6);
        b[VirtioNetHdr.SIZE + 12] = 0x08;
        b[ip] = 0x45;
        BigEndian.put16(b, ip + 2, 20 + l4Hdr + payload);
        b[ip + 8] = 64;
        b[ip + 9] = (byte) protocol;
        byte[] addrs = {100, 64, 0, 2, 100, 64, 0, 1};
        System.arraycopy(addrs, 0, b, ip + 12, 8);
        InetChecksum.writeIpv4HeaderChecksum(b, ip, 20);
        BigEndian.put16(b, l4, 40000);
        BigEndian.put16(b, l4 + 2, 5201);
        if (tcp) {
            b[l4 + 12] = 0x50;
            b[l4 + 13] = 0x18;
            BigEndian.put16(b, l4 + 14, 65535);
        } else {
            BigEndian.put16(b, l4 + 4, l4Hdr + payload);
        }
        int csumOffset = tcp ? 16 : 6;
        BigEndian.put16(b, l4 + csumOffset, InetChecksum.pseudoHeaderV4(b, ip, protocol, l4Hdr + payload));
        VirtioNetHdr h = new VirtioNetHdr();
        h.flags = VirtioNetHdr.F_NEEDS_CSUM;
        h.csumStart = 14 + 20;
        h.csumOffset = csumOffset;
        if (gsoSize > 0) {
            h.gsoType = tcp ? VirtioNetHdr.GSO_TCPV4 : VirtioNetHdr.GSO_UDP_L4;
            h.gsoSize = gsoSize;
            h.hdrLen = 14 + 20 + l4Hdr;
        }
        h.write(b, 0, VirtioNetHdr.SIZE);
        return b;
    }

    /** A tap that takes every write and hands one frame at a time, then reads empty. */
    private static final class Loop implements TapIo {
        private final byte[] frame = new byte[Vionet.TAP_HDR + Vionet.MAX_FRAME];
        private int len = -1;

        void hand(byte[] f, int n) {
            System.arraycopy(f, 0, frame, 0, n);
            len = n;
        }

        private long take() {
            long n = len < 0 ? -org.jvmd.sys.Errno.EAGAIN : len;
            len = -1;
            return n;
        }

        @Override
        public long write(byte[] prefix, int prefixLen, GuestSpans frameSpans) {
            return prefixLen + frameSpans.bytes();
        }

        @Override
        public long write(byte[] buf, int off, int n) {
            return n;
        }

        @Override
        public long read(byte[] hdr, GuestSpans into) {
            System.arraycopy(frame, 0, hdr, 0, Vionet.TAP_HDR);
            return take();   // what lands in the guest's buffers does not matter here
        }

        @Override
        public long read(byte[] buf, int off, int n) {
            int k = len;
            long r = take();
            if (r > 0) {
                System.arraycopy(frame, 0, buf, off, Math.min(k, n));
            }
            return r;
        }

        @Override
        public long readStaged(byte[] peek, int peekLen) {
            int k = len;
            long r = take();
            if (r > 0) {
                System.arraycopy(frame, 0, peek, 0, Math.min(k, peekLen));
            }
            return r;
        }

        @Override
        public void copyStaged(int from, byte[] buf, int off, int n) {
            System.arraycopy(frame, from, buf, off, n);
        }

        @Override
        public void copyStaged(int from, long gpa, int n) {
            // the guest's copy does not matter here
        }
    }
}
