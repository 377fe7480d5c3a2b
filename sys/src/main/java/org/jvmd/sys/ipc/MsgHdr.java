package org.jvmd.sys.ipc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;

/**
 * One direction's native buffers for sendmsg/recvmsg with SCM_RIGHTS: a {@code struct msghdr}
 * with its one iovec over {@link #buf}, and a control buffer for up to {@code maxFds}
 * descriptors. {@link Channel} (SOCK_SEQPACKET) and {@link StreamSocket} (the control
 * socket, SOCK_STREAM) each keep one for sending and one for receiving, used under their own
 * lock.
 */
final class MsgHdr {
    // struct msghdr (x86_64): name, namelen(+pad), iov, iovlen, control, controllen, flags(+pad)
    private static final long MSG_IOV = 16;
    private static final long MSG_IOVLEN = 24;
    private static final long MSG_CONTROL = 32;
    private static final long MSG_CONTROLLEN = 40;
    private static final long MSG_FLAGS = 48;
    private static final long MSGHDR_BYTES = 56;
    // struct cmsghdr: size_t len, int level, int type, then data (CMSG_ALIGN = 8)
    private static final long CMSG_HDR = 16;

    private static long cmsgSpace(long dataBytes) {
        return CMSG_HDR + ((dataBytes + 7) & ~7L);
    }

    /** The bytes sent or received. */
    final MemorySegment buf;
    /** The msghdr, then its one iovec. */
    final MemorySegment hdr;
    private final MemorySegment ctl;

    MsgHdr(Arena arena, long bufBytes, int maxFds) {
        buf = arena.allocate(bufBytes, 8);
        hdr = arena.allocate(MSGHDR_BYTES + 16, 8);
        ctl = arena.allocate(cmsgSpace(4L * Math.max(maxFds, 1)), 8);
    }

    /** Readies a send of {@code buf[0..len)} with {@code fds} (their numbers; none: no control message). */
    void prepareSend(long len, Fd... fds) {
        iov(len);
        if (fds.length > 0) {
            long dataBytes = 4L * fds.length;
            ctl.set(JAVA_LONG, 0, CMSG_HDR + dataBytes);
            ctl.set(JAVA_INT, 8, LibC.SOL_SOCKET);
            ctl.set(JAVA_INT, 12, LibC.SCM_RIGHTS);
            for (int i = 0; i < fds.length; i++) {
                ctl.set(JAVA_INT, CMSG_HDR + 4L * i, fds[i].num());
            }
            hdr.set(ADDRESS, MSG_CONTROL, ctl);
            hdr.set(JAVA_LONG, MSG_CONTROLLEN, cmsgSpace(dataBytes));
        }
    }

    /** Readies a receive of up to {@code len} bytes into {@code buf}, with room for descriptors. */
    void prepareReceive(long len) {
        iov(len);
        hdr.set(ADDRESS, MSG_CONTROL, ctl);
        hdr.set(JAVA_LONG, MSG_CONTROLLEN, ctl.byteSize());
    }

    private void iov(long len) {
        hdr.fill((byte) 0);
        hdr.set(ADDRESS, MSGHDR_BYTES, buf);
        hdr.set(JAVA_LONG, MSGHDR_BYTES + 8, len);
        hdr.set(ADDRESS, MSG_IOV, hdr.asSlice(MSGHDR_BYTES));
        hdr.set(JAVA_LONG, MSG_IOVLEN, 1);
    }

    /** The received message's flags (MSG_CTRUNC, MSG_TRUNC). */
    int flags() {
        return hdr.get(JAVA_INT, MSG_FLAGS);
    }

    /** Adds every descriptor the received control messages carry (SCM_RIGHTS), owned, to {@code out}. */
    void collectFds(List<Fd> out) {
        long len = hdr.get(JAVA_LONG, MSG_CONTROLLEN);
        long off = 0;
        while (off + CMSG_HDR <= len) {
            long clen = ctl.get(JAVA_LONG, off);
            if (clen < CMSG_HDR || off + clen > len) {
                break;
            }
            if (ctl.get(JAVA_INT, off + 8) == LibC.SOL_SOCKET && ctl.get(JAVA_INT, off + 12) == LibC.SCM_RIGHTS) {
                int count = (int) ((clen - CMSG_HDR) / 4);
                for (int i = 0; i < count; i++) {
                    out.add(Fd.adopt(ctl.get(JAVA_INT, off + CMSG_HDR + 4L * i)));
                }
            }
            off += (clen + 7) & ~7L;
        }
    }
}
