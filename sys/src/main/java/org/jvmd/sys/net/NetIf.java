package org.jvmd.sys.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.Ioctls;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/**
 * Network interface configuration through the classic socket ioctls (netdevice(7)):
 * link up/down, MTU, IPv4 address and netmask, IPv6 addresses, bridges and their ports
 * (the interface group, which has no ioctl, is {@link Rtnetlink}'s). Every call works on
 * the calling thread's network namespace.
 */
public final class NetIf {
    /** AF_INET (include/linux/socket.h): the ioctls need any socket of this family. */
    private static final int AF_INET = 2;
    /** sizeof(struct ifreq) on x86_64. */
    private static final int IFREQ_BYTES = 40;
    /** Offset of the ifr_ifru union. */
    private static final long IFRU = 16;
    /** include/uapi/linux/if.h. */
    public static final int IFF_UP = 0x1;

    private NetIf() {
    }

    private interface Op {
        void apply(int sock, MemorySegment ifr) throws SysException;
    }

    private static void withIfreq(String name, Op op) throws SysException {
        byte[] b = name.getBytes(StandardCharsets.US_ASCII);
        if (b.length == 0 || b.length >= Tap.IFNAMSIZ) {
            throw new IllegalArgumentException("bad interface name: " + name);
        }
        try (Fd sock = LibC.socket(AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
                Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ_BYTES, 8);
            MemorySegment.copy(b, 0, ifr, JAVA_BYTE, 0, b.length);
            op.apply(sock.num(), ifr);
        }
    }

    /** SIOCGIFINDEX: the interface's index; fails with ENODEV when there is none. */
    public static int index(String name) throws SysException {
        int[] out = new int[1];
        withIfreq(name, (s, ifr) -> {
            LibC.ioctl(s, Ioctls.SIOCGIFINDEX, ifr);
            out[0] = ifr.get(JAVA_INT, IFRU);
        });
        return out[0];
    }

    /** Whether an interface of this name exists. */
    public static boolean exists(String name) throws SysException {
        try {
            index(name);
            return true;
        } catch (SysException e) {
            if (e.errno() == Errno.ENODEV) {
                return false;
            }
            throw e;
        }
    }

    /** SIOCGIFFLAGS. */
    public static int flags(String name) throws SysException {
        int[] out = new int[1];
        withIfreq(name, (s, ifr) -> {
            LibC.ioctl(s, Ioctls.SIOCGIFFLAGS, ifr);
            out[0] = Short.toUnsignedInt(ifr.get(JAVA_SHORT, IFRU));
        });
        return out[0];
    }

    /** SIOCGIFFLAGS + SIOCSIFFLAGS: sets or clears IFF_UP. */
    public static void setUp(String name, boolean up) throws SysException {
        withIfreq(name, (s, ifr) -> {
            LibC.ioctl(s, Ioctls.SIOCGIFFLAGS, ifr);
            int f = Short.toUnsignedInt(ifr.get(JAVA_SHORT, IFRU));
            f = up ? f | IFF_UP : f & ~IFF_UP;
            ifr.set(JAVA_SHORT, IFRU, (short) f);
            LibC.ioctl(s, Ioctls.SIOCSIFFLAGS, ifr);
        });
    }

    /** SIOCSIFMTU. */
    public static void setMtu(String name, int mtu) throws SysException {
        withIfreq(name, (s, ifr) -> {
            ifr.set(JAVA_INT, IFRU, mtu);
            LibC.ioctl(s, Ioctls.SIOCSIFMTU, ifr);
        });
    }

    /** SIOCGIFMTU. */
    public static int mtu(String name) throws SysException {
        int[] out = new int[1];
        withIfreq(name, (s, ifr) -> {
            LibC.ioctl(s, Ioctls.SIOCGIFMTU, ifr);
            out[0] = ifr.get(JAVA_INT, IFRU);
        });
        return out[0];
    }

    /**
     * SIOCSIFADDR + SIOCSIFNETMASK: the interface's IPv4 address and prefix length.
     *
     * @param address 4 bytes, network order
     */
    public static void setIpv4(String name, byte[] address, int prefixLen) throws SysException {
        if (address.length != 4 || prefixLen < 0 || prefixLen > 32) {
            throw new IllegalArgumentException("bad IPv4 address/prefix");
        }
        int mask = prefixLen == 0 ? 0 : -1 << (32 - prefixLen);
        byte[] m = {(byte) (mask >>> 24), (byte) (mask >>> 16), (byte) (mask >>> 8), (byte) mask};
        withIfreq(name, (s, ifr) -> {
            sockaddrIn(ifr, address);
            LibC.ioctl(s, Ioctls.SIOCSIFADDR, ifr);
            sockaddrIn(ifr, m);
            LibC.ioctl(s, Ioctls.SIOCSIFNETMASK, ifr);
        });
    }

    /** AF_INET6 (include/linux/socket.h): SIOCSIFADDR on a socket of this family adds an IPv6 address. */
    private static final int AF_INET6 = 10;
    /** sizeof(struct in6_ifreq) (include/uapi/linux/ipv6.h): in6_addr, u32 prefixlen, int ifindex. */
    private static final int IN6_IFREQ_BYTES = 24;

    /**
     * SIOCSIFADDR on an AF_INET6 socket (struct in6_ifreq): adds an IPv6 address with its prefix
     * length to the interface, as {@code ip -6 addr add} does. EEXIST when it is there already;
     * EACCES when IPv6 is disabled on the interface.
     *
     * @param address 16 bytes, network order
     */
    public static void addIpv6(String name, byte[] address, int prefixLen) throws SysException {
        if (address.length != 16 || prefixLen < 0 || prefixLen > 128) {
            throw new IllegalArgumentException("bad IPv6 address/prefix");
        }
        int ifindex = index(name);
        try (Fd sock = LibC.socket(AF_INET6, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
                Arena a = Arena.ofConfined()) {
            MemorySegment req = a.allocate(IN6_IFREQ_BYTES, 4);
            MemorySegment.copy(address, 0, req, JAVA_BYTE, 0, 16);
            req.set(JAVA_INT, 16, prefixLen);
            req.set(JAVA_INT, 20, ifindex);
            LibC.ioctl(sock.num(), Ioctls.SIOCSIFADDR, req);
        }
    }

    /** struct sockaddr_in at ifr_addr: family, port 0, address. */
    private static void sockaddrIn(MemorySegment ifr, byte[] addr) {
        ifr.asSlice(IFRU, 16).fill((byte) 0);
        ifr.set(JAVA_SHORT, IFRU, (short) AF_INET);
        MemorySegment.copy(addr, 0, ifr, JAVA_BYTE, IFRU + 4, 4);
    }

    /** SIOCBRADDBR: creates a bridge (EEXIST if the name is taken). */
    public static void addBridge(String name) throws SysException {
        bridgeByName(Ioctls.SIOCBRADDBR, name);
    }

    /** SIOCBRDELBR: removes a bridge, which must be down. */
    public static void deleteBridge(String name) throws SysException {
        bridgeByName(Ioctls.SIOCBRDELBR, name);
    }

    /** The bridge ioctls take the name alone: the start of an ifreq, NUL-terminated, is that. */
    private static void bridgeByName(long request, String name) throws SysException {
        withIfreq(name, (s, ifr) -> LibC.ioctl(s, request, ifr));
    }

    /** SIOCBRADDIF: makes {@code port} a port of {@code bridge}. */
    public static void addToBridge(String bridge, String port) throws SysException {
        int index = index(port);
        withIfreq(bridge, (s, ifr) -> {
            ifr.set(JAVA_INT, IFRU, index);
            LibC.ioctl(s, Ioctls.SIOCBRADDIF, ifr);
        });
    }

    /** The bridge {@code port} is a port of (from /sys/class/net/PORT/master), or null. */
    public static String master(String port) {
        try {
            java.nio.file.Path link = java.nio.file.Path.of("/sys/class/net", port, "master");
            return java.nio.file.Files.readSymbolicLink(link).getFileName().toString();
        } catch (java.io.IOException e) {
            return null;
        }
    }
}
