package org.jvmd.sys.ipc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.SocketTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.Frames;
import org.jvmd.sys.Epoll;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/**
 * One end of a process channel: protobuf frames ({@link Frames}) over a SOCK_SEQPACKET
 * socket, one frame per packet, descriptors attached as SCM_RIGHTS.
 *
 * <p>Sending hands the descriptors over: {@link #send} closes the sender's copies. A
 * receiver gets the message and owned descriptors ({@link Received}); a malformed frame
 * (garbage, oversized, truncated, or descriptors that the message does not describe) is
 * rejected with {@link FrameException} after closing whatever descriptors came with it, and
 * the channel stays usable. A peer that closed its end is {@link PeerClosedException}.
 *
 * <p>One sending thread and one receiving thread may use a channel at the same time;
 * {@link #close()} from another thread wakes a blocked receiver.
 */
public final class Channel implements AutoCloseable {
    /** SCM_MAX_FD (include/net/scm.h): the kernel's limit of descriptors per message. */
    public static final int SCM_MAX_FD = 253;
    /**
     * Default limit of descriptors one received message may carry: above what any message
     * carries, the largest being a VM's start (kernel, initrd, kvm, taps, console log and 4
     * disks with up to 16 layers each) and a vmctl request vmd's control process forwards
     * ({@link ControlSocket#MAX_FDS}).
     */
    public static final int DEFAULT_MAX_FDS = 128;

    private final Fd sock;
    private final int cap;
    private final int maxFds;

    private final Object sendLock = new Object();
    private final MsgHdr send;

    private final Object recvLock = new Object();
    private final MsgHdr recv;
    private final byte[] recvHeap;

    /** A channel over a connected SOCK_SEQPACKET socket, frames capped at {@code cap} bytes. */
    public Channel(Fd sock, int cap, int maxFds) {
        if (maxFds < 0 || maxFds > SCM_MAX_FD) {
            throw new IllegalArgumentException("maxFds " + maxFds);
        }
        this.sock = sock;
        this.cap = cap;
        this.maxFds = maxFds;
        int packet = cap + Frames.MAX_PREFIX;
        Arena a = Arena.ofAuto();
        send = new MsgHdr(a, packet, SCM_MAX_FD);
        recv = new MsgHdr(a, packet, maxFds);
        recvHeap = new byte[packet];
    }

    public Channel(Fd sock) {
        this(sock, Frames.MAX_FRAME, DEFAULT_MAX_FDS);
    }

    /** Two connected channels (a close-on-exec SOCK_SEQPACKET socketpair). */
    public static Channel[] pair() throws SysException {
        Fd[] p = socketpair();
        return new Channel[] {new Channel(p[0]), new Channel(p[1])};
    }

    /** A close-on-exec AF_UNIX SOCK_SEQPACKET socketpair, e.g. to hand one end to a child. */
    public static Fd[] socketpair() throws SysException {
        return LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_SEQPACKET | LibC.SOCK_CLOEXEC, 0);
    }

    /** The socket, e.g. to watch it with {@link Epoll}. Still owned by the channel. */
    public Fd fd() {
        return sock;
    }

    public int cap() {
        return cap;
    }

    /**
     * Sends {@code m} with {@code fds} attached, in order. The descriptors are handed over:
     * they are closed when this returns, whether the send succeeded or not.
     */
    public void send(MessageLite m, Fd... fds) throws IOException {
        try {
            byte[] frame = Frames.encode(m, cap);
            sendRaw(frame, frame.length, fds);
        } finally {
            for (Fd fd : fds) {
                fd.close();
            }
        }
    }

    public void send(MessageLite m, List<Fd> fds) throws IOException {
        send(m, fds.toArray(new Fd[0]));
    }

    /** Sends one packet of raw bytes with descriptors (not closed here). Tests use it to forge frames. */
    void sendRaw(byte[] bytes, int len, Fd... fds) throws IOException {
        if (fds.length > SCM_MAX_FD) {
            throw new FrameException("too many fds for one message: " + fds.length + " (max " + SCM_MAX_FD + ")");
        }
        if (len > send.buf.byteSize()) {
            throw new FrameException("frame too large: " + len + " bytes, cap " + cap);
        }
        synchronized (sendLock) {
            MemorySegment.copy(bytes, 0, send.buf, JAVA_BYTE, 0, len);
            send.prepareSend(len, fds);
            long r;
            while ((r = LibC.trySendmsg(num(), send.hdr, LibC.MSG_NOSIGNAL)) == -Errno.EINTR) {
                // retry
            }
            if (r == -Errno.EPIPE || r == -Errno.ECONNRESET) {
                throw new PeerClosedException("channel peer closed (sendmsg: " + Errno.name((int) -r) + ")");
            }
            if (r < 0) {
                throw new SysException("sendmsg", (int) -r);
            }
            if (r != len) {
                throw new IOException("sendmsg sent " + r + " of " + len + " bytes");
            }
        }
    }

    /**
     * Receives one message, waiting up to {@code timeoutMillis} (-1: forever).
     *
     * @throws SocketTimeoutException nothing arrived in time
     * @throws PeerClosedException the peer closed its end (or died)
     * @throws FrameException a malformed frame; its descriptors are closed, the channel stays usable
     */
    public <M> Received<M> receive(Parser<M> parser, long timeoutMillis) throws IOException {
        synchronized (recvLock) {
            long deadline = timeoutMillis < 0 ? Long.MAX_VALUE : System.nanoTime() + timeoutMillis * 1_000_000L;
            while (true) {
                int wait = timeoutMillis < 0 ? -1
                        : (int) Math.max(0, Math.min(Integer.MAX_VALUE, (deadline - System.nanoTime() + 999_999) / 1_000_000));
                short rev = LibC.poll(num(), LibC.POLLIN, wait);
                if (rev == 0) {
                    if (timeoutMillis >= 0 && System.nanoTime() - deadline >= 0) {
                        throw new SocketTimeoutException("no message within " + timeoutMillis + " ms");
                    }
                    continue;
                }
                Received<M> r = receiveReady(parser, rev);
                if (r != null) {
                    return r;
                }
            }
        }
    }

    /** Receives one message, waiting as long as it takes. */
    public <M> Received<M> receive(Parser<M> parser) throws IOException {
        return receive(parser, -1);
    }

    private <M> Received<M> receiveReady(Parser<M> parser, short revents) throws IOException {
        recv.prepareReceive(recv.buf.byteSize());
        long n = LibC.tryRecvmsg(num(), recv.hdr, LibC.MSG_CMSG_CLOEXEC | LibC.MSG_DONTWAIT);
        if (n == -Errno.EAGAIN || n == -Errno.EINTR) {
            return null;
        }
        if (n == -Errno.ECONNRESET) {
            throw new PeerClosedException("channel peer closed (recvmsg: ECONNRESET)");
        }
        if (n < 0) {
            throw new SysException("recvmsg", (int) -n);
        }
        Fd[] fds = collectFds();
        try {
            int flags = recv.flags();
            if (n == 0 && fds.length == 0 && (revents & LibC.POLLHUP) != 0) {
                throw new PeerClosedException("channel peer closed");
            }
            if ((flags & LibC.MSG_CTRUNC) != 0) {
                throw new FrameException("frame carries more fds than this channel takes (" + maxFds + ")");
            }
            if ((flags & LibC.MSG_TRUNC) != 0) {
                throw new FrameException("frame too large: over " + recv.buf.byteSize() + " bytes (cap " + cap + ")");
            }
            MemorySegment.copy(recv.buf, JAVA_BYTE, 0, recvHeap, 0, (int) n);
            M m = Frames.decode(recvHeap, (int) n, parser, cap);
            List<FdSlot> slots = describedFds(m, fds.length);
            return new Received<>(m, slots, fds);
        } catch (IOException | RuntimeException e) {
            for (Fd fd : fds) {
                fd.close();
            }
            throw e;
        }
    }

    private Fd[] collectFds() {
        List<Fd> out = new ArrayList<>(0);
        recv.collectFds(out);
        return out.toArray(new Fd[0]);
    }

    /**
     * The message's description of its descriptors (its repeated {@code FdSlot fds} field),
     * checked against what arrived ({@link Frames#checkFds}).
     */
    private static List<FdSlot> describedFds(Object m, int attached) throws FrameException {
        if (m instanceof Message msg) {
            FieldDescriptor f = msg.getDescriptorForType().findFieldByName("fds");
            if (f != null && f.isRepeated() && f.getJavaType() == FieldDescriptor.JavaType.MESSAGE
                    && f.getMessageType() == FdSlot.getDescriptor()) {
                @SuppressWarnings("unchecked")
                List<FdSlot> slots = (List<FdSlot>) msg.getField(f);
                Frames.checkFds(slots, attached);
                return slots;
            }
        }
        if (attached > 0) {
            String type = m instanceof Message msg ? msg.getDescriptorForType().getName() : m.getClass().getSimpleName();
            throw new FrameException("frame carries " + attached + " fds but a " + type + " cannot describe them");
        }
        return List.of();
    }

    private int num() throws ClosedChannelException {
        try {
            return sock.num();
        } catch (IllegalStateException closed) {
            throw new ClosedChannelException();
        }
    }

    /**
     * Shuts the socket down both ways: the peer sees end of file, and a thread of this
     * process blocked in {@link #receive} wakes up with {@link PeerClosedException}.
     */
    public void shutdown() {
        if (sock.isOpen()) {
            try {
                LibC.shutdown(sock.num(), LibC.SHUT_RDWR);
            } catch (SysException | IllegalStateException e) {
                // already shut down or closed: nothing left to wake
            }
        }
    }

    /** Shuts down (waking a blocked receiver) and closes the socket; the peer sees end of file. */
    @Override
    public void close() {
        shutdown();
        sock.close();
    }
}
