package org.jvmd.it.kernel;

import static org.jvmd.it.kernel.Packets.HDR;
import static org.jvmd.it.kernel.Packets.TCP_ACK;
import static org.jvmd.it.kernel.Packets.TCP_CWR;
import static org.jvmd.it.kernel.Packets.TCP_ECE;
import static org.jvmd.it.kernel.Packets.TCP_FIN;
import static org.jvmd.it.kernel.Packets.TCP_SYN;
import static org.jvmd.it.kernel.Packets.be16;
import static org.jvmd.it.kernel.Packets.be32;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jvmd.sys.net.Netns;
import org.jvmd.virtio.net.FrameHeaders;

/**
 * A tiny TCP peer played from the reader side of the sender's tap: a socket in the sender's
 * namespace connects to the fictitious peer and writes a known byte stream; this class
 * answers the SYN (MSS for a 1500-byte MTU, window scale 7, ECN), acknowledges every
 * segment at once with an 8 MiB window, and acknowledges the FIN. Once the first
 * {@link #ECE_AFTER} bytes have arrived it echoes ECE until the sender answers with CWR
 * (again later if the CWR came in a frame without GSO), so that a GSO frame carries the
 * ECN bit. Every frame the kernel wrote for the connection is kept.
 */
final class TcpPeer {
    private static final int PEER_ISS = 0x1000_0000;
    private static final int WINDOW_SCALE = 7;
    private static final int MAX_WINDOW = 0xFFFF;
    private static final long DEADLINE_MS = 10_000;
    /** Early, while the sender still has new data to send: CWR goes on new data only (RFC 3168 §6.1.2). */
    private static final int ECE_AFTER = 16 * 1024;

    /** What the exchange produced. */
    record Result(List<byte[]> frames, byte[] received, boolean sawCwr) {}

    private TcpPeer() {}

    static Result exchange(KernelLab lab, boolean v6, byte[] stream, int port) throws Exception {
        byte[] localIp = v6 ? KernelLab.LOCAL6 : KernelLab.LOCAL4;
        byte[] peerIp = v6 ? KernelLab.PEER6 : KernelLab.PEER4;
        int mss = v6 ? 1500 - 40 - 20 : 1500 - 20 - 20;
        AtomicReference<SocketChannel> socket = new AtomicReference<>();
        FutureTask<Void> sender = new FutureTask<>(() -> Netns.call(lab.tx, () -> {
            try (SocketChannel sc = SocketChannel.open()) {
                socket.set(sc);
                sc.socket().connect(new InetSocketAddress(InetAddress.getByAddress(peerIp), port), 5_000);
                ByteBuffer b = ByteBuffer.wrap(stream);
                while (b.hasRemaining()) {
                    sc.write(b);
                }
                sc.shutdownOutput();
            }
            return null;
        }));
        Thread.ofPlatform().name("kvec-sender").start(sender);

        List<byte[]> frames = new ArrayList<>();
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        boolean sawCwr = false;
        boolean ecn = false;
        boolean eceSent = false;
        boolean echoing = false;
        boolean cwrInGso = false;
        int eceFrom = ECE_AFTER;
        boolean finSeen = false;
        int rcvNxt = 0;
        byte[] localMac = null;
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        try {
            while (!(finSeen && sender.isDone()) && System.currentTimeMillis() < deadline) {
                byte[] raw = lab.wire.read(100);
                if (raw == null || !Packets.isFlow(raw, FrameHeaders.IPPROTO_TCP, port)) {
                    continue;
                }
                frames.add(raw);
                FrameHeaders h = Packets.l4(raw);
                int th = HDR + h.l4Off;
                int flags = raw[th + 13] & 0xFF;
                int seq = be32(raw, th + 4);
                if ((flags & TCP_SYN) != 0) {
                    localMac = Arrays.copyOfRange(raw, HDR + 6, HDR + 12);
                    rcvNxt = seq + 1;
                    ecn = (flags & (TCP_ECE | TCP_CWR)) == (TCP_ECE | TCP_CWR);
                    byte[] opts = {2, 4, (byte) (mss >>> 8), (byte) mss, 1, 3, 3, WINDOW_SCALE};
                    lab.wire.write(Packets.tcp(localMac, KernelLab.PEER_MAC, peerIp, localIp, port,
                        be16(raw, th), PEER_ISS, rcvNxt, TCP_SYN | TCP_ACK | (ecn ? TCP_ECE : 0), MAX_WINDOW, opts));
                    continue;
                }
                if (localMac == null) {
                    continue;
                }
                int len = payloadLength(raw, h);
                if (len > 0 && seq - rcvNxt <= 0 && seq + len - rcvNxt > 0) {
                    received.write(raw, HDR + h.headersEnd() + (rcvNxt - seq), seq + len - rcvNxt);
                    rcvNxt = seq + len;
                }
                if ((flags & TCP_FIN) != 0 && seq + len == rcvNxt) {
                    rcvNxt++;
                    finSeen = true;
                }
                if ((flags & TCP_CWR) != 0) {
                    sawCwr = true;
                    echoing = false;
                    if (Packets.header(raw).ecn()) {
                        cwrInGso = true;
                    } else {
                        eceFrom = received.size() + ECE_AFTER; // CWR came alone: ask again later
                    }
                }
                if (ecn && !cwrInGso && !echoing && received.size() >= eceFrom && received.size() < stream.length * 3 / 4) {
                    echoing = true; // RFC 3168 §6.1.3: echo until CWR arrives
                    eceSent = true;
                }
                boolean ece = echoing;
                if (len > 0 || (flags & TCP_FIN) != 0) {
                    lab.wire.write(Packets.tcp(localMac, KernelLab.PEER_MAC, peerIp, localIp, port,
                        be16(raw, th), PEER_ISS + 1, rcvNxt, TCP_ACK | (ece ? TCP_ECE : 0), MAX_WINDOW, new byte[0]));
                }
            }
        } finally {
            SocketChannel sc = socket.get();
            if (!sender.isDone() && sc != null) {
                sc.close(); // unblocks a sender stuck in connect or write
            }
        }
        try {
            sender.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException("TCP sender over " + (v6 ? "IPv6" : "IPv4") + " failed (frames seen: "
                + frames.size() + ", received " + received.size() + ")", e.getCause());
        }
        if (!finSeen) {
            throw new IOException("no FIN within " + DEADLINE_MS + " ms; received " + received.size() + " of "
                + stream.length + " bytes in " + frames.size() + " frames");
        }
        if (ecn && !eceSent) {
            throw new IllegalStateException("ECE never sent");
        }
        return new Result(frames, received.toByteArray(), sawCwr);
    }

    /** TCP payload bytes, from the IP length (a frame may carry Ethernet padding). */
    static int payloadLength(byte[] raw, FrameHeaders h) {
        int l3 = HDR + h.l3Off;
        int l3End = h.ipVersion == 4 ? h.l3Off + be16(raw, l3 + 2) : h.l3Off + 40 + be16(raw, l3 + 4);
        return Math.min(l3End, raw.length - HDR) - h.headersEnd();
    }
}
