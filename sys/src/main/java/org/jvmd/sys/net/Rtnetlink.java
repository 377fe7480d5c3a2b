package org.jvmd.sys.net;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/**
 * The link settings that only rtnetlink (rtnetlink(7)) can change, one request at a time on
 * a socket of its own, in the calling thread's network namespace: today the interface group
 * ({@code IFLA_GROUP}, what {@code ip link set dev X group N} sets).
 */
public final class Rtnetlink {
    /** include/linux/socket.h. */
    private static final int AF_NETLINK = 16;
    private static final int SOCK_RAW = 3;
    /** include/uapi/linux/netlink.h. */
    private static final int NETLINK_ROUTE = 0;
    private static final short NLM_F_REQUEST = 0x1;
    private static final short NLM_F_ACK = 0x4;
    private static final short NLMSG_ERROR = 0x2;
    /** include/uapi/linux/rtnetlink.h. */
    private static final short RTM_NEWLINK = 16;
    /** include/uapi/linux/if_link.h. */
    private static final short IFLA_GROUP = 27;
    /** sizeof(struct nlmsghdr), sizeof(struct ifinfomsg), an rtattr with a u32. */
    private static final int NLMSGHDR = 16;
    private static final int IFINFOMSG = 16;
    private static final int RTATTR_U32 = 8;

    private Rtnetlink() {
    }

    /**
     * Puts the interface with index {@code ifindex} into interface group {@code group} (an
     * unsigned 32-bit number; 0 is the default group).
     *
     * @throws SysException with the kernel's errno (ENODEV for no such interface, EPERM without
     *     CAP_NET_ADMIN)
     */
    public static void setGroup(int ifindex, long group) throws SysException {
        if (group < 0 || group > 0xffff_ffffL) {
            throw new IllegalArgumentException("interface group " + group + " is not a u32");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(NLMSGHDR + IFINFOMSG + RTATTR_U32, 4);
            m.set(JAVA_INT, 0, (int) m.byteSize());
            m.set(JAVA_SHORT, 4, RTM_NEWLINK);
            m.set(JAVA_SHORT, 6, (short) (NLM_F_REQUEST | NLM_F_ACK));
            m.set(JAVA_INT, 8, 1);
            // ifinfomsg: family AF_UNSPEC, type 0, the index, no flag changes
            m.set(JAVA_INT, NLMSGHDR + 4, ifindex);
            m.set(JAVA_SHORT, NLMSGHDR + IFINFOMSG, (short) RTATTR_U32);
            m.set(JAVA_SHORT, NLMSGHDR + IFINFOMSG + 2, IFLA_GROUP);
            m.set(JAVA_INT, NLMSGHDR + IFINFOMSG + 4, (int) group);
            request(a, m, "RTM_NEWLINK IFLA_GROUP");
        }
    }

    /** Sends one request and reads the kernel's acknowledgement (an NLMSG_ERROR carrying 0 or -errno). */
    private static void request(Arena a, MemorySegment msg, String what) throws SysException {
        try (Fd sock = LibC.socket(AF_NETLINK, SOCK_RAW | LibC.SOCK_CLOEXEC, NETLINK_ROUTE)) {
            LibC.write(sock.num(), msg, msg.byteSize());
            MemorySegment ack = a.allocate(4096, 4);
            long n = LibC.read(sock.num(), ack, ack.byteSize());
            int error = ackError(ack, n, msg.get(JAVA_INT, 8));
            if (error != 0) {
                throw new SysException(what, -error);
            }
        }
    }

    /**
     * The error field of the acknowledgement in {@code buf[0, n)} for sequence number {@code seq}:
     * 0 for success, a negative errno otherwise.
     *
     * @throws SysException (EPROTO) for anything that is not that acknowledgement
     */
    static int ackError(MemorySegment buf, long n, int seq) throws SysException {
        if (n < NLMSGHDR + 4) {
            throw new SysException("rtnetlink: short answer of " + n + " bytes", Errno.EPROTO);
        }
        int len = buf.get(JAVA_INT, 0);
        short type = buf.get(JAVA_SHORT, 4);
        int answered = buf.get(JAVA_INT, 8);
        if (type != NLMSG_ERROR || len < NLMSGHDR + 4 || len > n || answered != seq) {
            throw new SysException("rtnetlink: unexpected answer (type " + type + ", length " + len
                    + ", sequence " + answered + ")", Errno.EPROTO);
        }
        int error = buf.get(JAVA_INT, NLMSGHDR);
        if (error > 0 || error < -4095) {
            throw new SysException("rtnetlink: bad error field " + error, Errno.EPROTO);
        }
        return error;
    }
}
