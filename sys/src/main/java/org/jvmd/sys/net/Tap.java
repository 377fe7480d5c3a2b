package org.jvmd.sys.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import org.jvmd.sys.Fd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.Ioctls;
import org.jvmd.sys.LibC;
import org.jvmd.sys.Native;
import org.jvmd.sys.SysException;

/**
 * A tap device from /dev/net/tun, opened IFF_TAP|IFF_NO_PI|IFF_VNET_HDR: every frame read
 * or written is preceded by a {@code virtio_net_hdr} of {@link #VNET_HDR_LEN} bytes (the
 * VERSION_1 layout, virtio 1.2 §5.1.6, which is also the kernel's; little-endian on
 * x86_64, so TUNSETVNETLE is not needed). Constants: include/uapi/linux/if_tun.h.
 *
 * <p>{@link #readv} and {@link #writev} return {@code -errno} instead of throwing: on the
 * data path EAGAIN is normal and EIO/EINVAL are counted, never fatal.
 */
public final class Tap implements AutoCloseable {
    public static final int IFF_TUN = 0x0001;
    public static final int IFF_TAP = 0x0002;
    public static final int IFF_NAPI = 0x0010;
    public static final int IFF_NO_CARRIER = 0x0040;
    public static final int IFF_MULTI_QUEUE = 0x0100;
    public static final int IFF_NO_PI = 0x1000;
    public static final int IFF_VNET_HDR = 0x4000;
    public static final int IFF_PERSIST = 0x0800;
    /** struct tun_filter's flag: every multicast (and broadcast) destination passes the filter. */
    public static final int TUN_FLT_ALLMULTI = 0x0001;
    /** sizeof(struct tun_filter) before its addresses: __u16 flags, __u16 count. */
    private static final int TUN_FILTER_BYTES = 4;
    private static final int ETH_ALEN = 6;

    /** sizeof(struct virtio_net_hdr_v1) with num_buffers (virtio 1.2 §5.1.6). */
    public static final int VNET_HDR_LEN = 12;
    /** IFNAMSIZ (include/uapi/linux/if.h), including the terminating NUL. */
    public static final int IFNAMSIZ = 16;
    /** sizeof(struct ifreq) on x86_64. */
    private static final int IFREQ_BYTES = 40;
    private static final long IFR_FLAGS = 16;

    private final Fd fd;
    private final String name;

    private Tap(Fd fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /**
     * Opens a tap named {@code name} (null or empty: the kernel picks {@code tapN}) in the
     * calling thread's network namespace, with vnet headers of {@link #VNET_HDR_LEN} bytes.
     */
    public static Tap open(String name) throws SysException {
        if (name != null && name.getBytes(StandardCharsets.US_ASCII).length >= IFNAMSIZ) {
            throw new IllegalArgumentException("interface name longer than " + (IFNAMSIZ - 1) + ": " + name);
        }
        Fd fd = LibC.open("/dev/net/tun", LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ_BYTES, 8);
            if (name != null && !name.isEmpty()) {
                byte[] b = name.getBytes(StandardCharsets.US_ASCII);
                MemorySegment.copy(b, 0, ifr, JAVA_BYTE, 0, b.length);
            }
            ifr.set(JAVA_SHORT, IFR_FLAGS, (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR));
            LibC.ioctl(fd.num(), Ioctls.TUNSETIFF, ifr);
            Tap t = new Tap(fd, ifr.getString(0));
            t.setVnetHdrSize(VNET_HDR_LEN);
            return t;
        } catch (SysException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** Wraps a tap descriptor received from another process (its name is read with TUNGETIFF). */
    public static Tap adopt(Fd fd) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ_BYTES, 8);
            LibC.ioctl(fd.num(), Ioctls.TUNGETIFF, ifr);
            return new Tap(fd, ifr.getString(0));
        }
    }

    /** Wraps a tap descriptor whose name is known, without any ioctl (for a process that may not ioctl). */
    public static Tap adopt(Fd fd, String name) {
        return new Tap(fd, name);
    }

    public String name() {
        return name;
    }

    public Fd fd() {
        return fd;
    }

    /** TUNGETIFF's flags (IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, ...). */
    public int flags() throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ_BYTES, 8);
            LibC.ioctl(fd.num(), Ioctls.TUNGETIFF, ifr);
            return Short.toUnsignedInt(ifr.get(JAVA_SHORT, IFR_FLAGS));
        }
    }

    /** TUNGETFEATURES: the IFF_* flags this kernel's tun driver supports. */
    public int features() throws SysException {
        MemorySegment v = Native.scratch();
        LibC.ioctl(fd.num(), Ioctls.TUNGETFEATURES, v);
        return v.get(JAVA_INT, 0);
    }

    public void setVnetHdrSize(int size) throws SysException {
        MemorySegment v = Native.scratch();
        v.set(JAVA_INT, 0, size);
        LibC.ioctl(fd.num(), Ioctls.TUNSETVNETHDRSZ, v);
    }

    public int vnetHdrSize() throws SysException {
        MemorySegment v = Native.scratch();
        LibC.ioctl(fd.num(), Ioctls.TUNGETVNETHDRSZ, v);
        return v.get(JAVA_INT, 0);
    }

    /**
     * TUNSETOFFLOAD: which TUN_F_* offloads ({@link org.jvmd.virtio.net.TunFlags}, the one table) frames read from this tap may carry (partial
     * checksums, GSO). EINVAL names flags the kernel does not know (e.g. USO before 6.2).
     */
    public void setOffload(int tunFlags) throws SysException {
        LibC.ioctl(fd.num(), Ioctls.TUNSETOFFLOAD, tunFlags);
    }

    /**
     * TUNSETTXFILTER (drivers/net/tun.c, run_filter): from now on the kernel hands this tap's
     * reader no unicast frame whose destination is not {@code mac}; multicast and broadcast
     * pass ({@link #TUN_FLT_ALLMULTI}). The filter belongs to the interface, so every
     * descriptor of it, including one handed to another process, reads through it. Frames
     * it refuses are counted in the interface's tx_dropped.
     */
    public void filterUnicastTo(byte[] mac) throws SysException {
        if (mac.length != ETH_ALEN) {
            throw new IllegalArgumentException("MAC address of " + mac.length + " bytes, want " + ETH_ALEN);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(TUN_FILTER_BYTES + ETH_ALEN, 2);
            f.set(JAVA_SHORT, 0, (short) TUN_FLT_ALLMULTI);
            f.set(JAVA_SHORT, 2, (short) 1);
            MemorySegment.copy(mac, 0, f, JAVA_BYTE, TUN_FILTER_BYTES, ETH_ALEN);
            LibC.ioctl(fd.num(), Ioctls.TUNSETTXFILTER, f);
        }
    }

    /** TUNSETTXFILTER with no address: every frame reaches the reader (a persistent tap may keep an earlier filter). */
    public void clearFilter() throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(TUN_FILTER_BYTES, 2);
            LibC.ioctl(fd.num(), Ioctls.TUNSETTXFILTER, f);
        }
    }

    /** TUNSETPERSIST: keep the interface after the last descriptor closes. */
    public void setPersist(boolean on) throws SysException {
        LibC.ioctl(fd.num(), Ioctls.TUNSETPERSIST, on ? 1 : 0);
    }

    public void setNonBlocking(boolean on) throws SysException {
        LibC.setNonBlocking(fd, on);
    }

    /** Reads one frame (vnet header first) into {@code iov}: its length, or {@code -errno} (-EAGAIN: none). */
    public long readv(IoVec iov) {
        return LibC.tryReadv(fd.num(), iov);
    }

    /** Writes one frame (vnet header first) from {@code iov}: bytes written, or {@code -errno}. */
    public long writev(IoVec iov) {
        return LibC.tryWritev(fd.num(), iov);
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "Tap(" + name + ", " + fd + ")";
    }
}
