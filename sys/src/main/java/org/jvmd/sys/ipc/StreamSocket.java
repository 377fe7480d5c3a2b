package org.jvmd.sys.ipc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.jvmd.proto.FrameException;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/**
 * sendmsg/recvmsg with SCM_RIGHTS on a connected unix STREAM socket (the control socket):
 * the descriptors of a send ride on its first byte; a receive takes those that arrive,
 * close-on-exec (MSG_CMSG_CLOEXEC), into the caller's list. One sender and one receiver
 * thread may use it at once (separate buffers).
 */
final class StreamSocket implements StreamFrames.Source {
    /** Bytes moved per call: a control request is small; a larger one takes more calls. */
    private static final int CHUNK = 16 * 1024;

    private final int sock;
    private final Object sendLock = new Object();
    private final MsgHdr send;
    private final Object recvLock = new Object();
    private final MsgHdr recv;

    /** Over socket number {@code sock} (not owned); a receive takes at most {@code maxFds} at once. */
    StreamSocket(int sock, int maxFds) {
        this.sock = sock;
        Arena a = Arena.ofAuto();
        send = new MsgHdr(a, CHUNK, Channel.SCM_MAX_FD);
        recv = new MsgHdr(a, CHUNK, maxFds);
    }

    /**
     * Sends {@code b[off..off+len)}, all of it, with {@code fds} on its first byte (the
     * descriptors stay the caller's: the kernel passes copies).
     */
    void send(byte[] b, int off, int len, Fd... fds) throws IOException {
        if (fds.length > Channel.SCM_MAX_FD) {
            throw new FrameException("too many fds for one message: " + fds.length + " (max " + Channel.SCM_MAX_FD + ")");
        }
        synchronized (sendLock) {
            boolean first = true;
            while (len > 0) {
                int n = Math.min(len, CHUNK);
                MemorySegment.copy(b, off, send.buf, JAVA_BYTE, 0, n);
                send.prepareSend(n, first ? fds : new Fd[0]);
                long r;
                while ((r = LibC.trySendmsg(sock, send.hdr, LibC.MSG_NOSIGNAL)) == -Errno.EINTR) {
                    // retry
                }
                if (r == -Errno.EPIPE || r == -Errno.ECONNRESET) {
                    throw new PeerClosedException("control socket peer closed (sendmsg: " + Errno.name((int) -r) + ")");
                }
                if (r < 0) {
                    throw new SysException("sendmsg", (int) -r);
                }
                first = false;  // the descriptors went with the first byte
                off += (int) r;
                len -= (int) r;
            }
        }
    }

    /**
     * One recvmsg of up to {@code len} bytes. A control message the buffer could not hold
     * whole (MSG_CTRUNC: more descriptors than this socket takes; the kernel closed the rest)
     * is a refused frame: those that did arrive are added, for the caller to close.
     */
    @Override
    public int read(byte[] b, int off, int len, List<Fd> fds) throws IOException {
        synchronized (recvLock) {
            int want = Math.min(len, CHUNK);
            recv.prepareReceive(want);
            long n;
            while ((n = LibC.tryRecvmsg(sock, recv.hdr, LibC.MSG_CMSG_CLOEXEC)) == -Errno.EINTR) {
                // retry
            }
            if (n == -Errno.ECONNRESET) {
                return -1;
            }
            if (n < 0) {
                throw new SysException("recvmsg", (int) -n);
            }
            recv.collectFds(fds);
            if ((recv.flags() & LibC.MSG_CTRUNC) != 0) {
                throw new FrameException("frame carries more descriptors than the control socket takes");
            }
            if (n == 0) {
                return -1;
            }
            MemorySegment.copy(recv.buf, JAVA_BYTE, 0, b, off, (int) n);
            return (int) n;
        }
    }
}
