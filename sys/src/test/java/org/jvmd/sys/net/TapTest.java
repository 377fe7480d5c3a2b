package org.jvmd.sys.net;

import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.LibC;
import org.jvmd.sys.NativeBuffer;
import org.jvmd.sys.SysException;
import org.jvmd.virtio.net.TunFlags;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static org.jvmd.testkit.Shell.sh;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.Frame;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;

/** Taps live only in a network namespace this test creates; addresses from 100.64.0.0/10. */
@NetnsTest
class TapTest {
    private static final byte[] OUR_MAC = {0x02, 0, 0, 0, 0, 0x02};
    private static final byte[] OUR_IP = {100, 64, 0, 2};
    private static final byte[] TAP_IP = {100, 64, 0, 1};
    /** The tx filter test's neighbours (100.64.77.0/24): the one the filter lets through, and another. */
    private static final byte[] FILTER_MAC = {0x02, 0, 0, 0, 0x77, 0x02};
    private static final byte[] OTHER_MAC = {0x02, 0, 0, 0, 0x77, 0x03};
    private static final byte[] BROADCAST_MAC = {-1, -1, -1, -1, -1, -1};
    private static final int FILTER_TEST_PORT = 7777;

    @Test
    void aTapOpensInTheNamespaceWithVnetHeadersAndOffloads(NetNs ns) throws Exception {
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open("jt0"))) {
            assertEquals("jt0", tap.name());
            assertTrue(ns.ip("link", "show", "jt0").contains("jt0"));
            assertThrows(IOException.class, () -> sh("ip", "link", "show", "jt0"), "leaked into the root namespace");
            assertEquals(Tap.IFF_TAP | Tap.IFF_NO_PI | Tap.IFF_VNET_HDR,
                    tap.flags() & (Tap.IFF_TAP | Tap.IFF_NO_PI | Tap.IFF_VNET_HDR | Tap.IFF_TUN));
            assertTrue((tap.features() & Tap.IFF_VNET_HDR) != 0);
            assertEquals(Tap.VNET_HDR_LEN, tap.vnetHdrSize());
            tap.setOffload(TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.TSO_ECN);
            tap.setOffload(0);
            SysException e = assertThrows(SysException.class, () -> tap.setOffload(1 << 20));
            assertEquals("ioctl(TUNSETOFFLOAD): EINVAL (Invalid argument)", e.getMessage());
            // the adopted view finds the name again
            try (Fd dup = tap.fd().dup()) {
                assertEquals("jt0", Tap.adopt(dup).name());
            }
        }
        // a non-persistent tap goes away with its last descriptor
        assertThrows(IOException.class, () -> ns.ip("link", "show", "jt0"));
    }

    @Test
    void theKernelChoosesANameWhenNoneIsGiven(NetNs ns) throws Exception {
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open(null))) {
            assertTrue(tap.name().startsWith("tap"), tap.name());
        }
    }

    @Test
    void anArpRequestWrittenWithAVnetHeaderIsAnsweredThroughReadv(NetNs ns) throws Exception {
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open("jt1"))) {
            ns.ip("addr", "add", "100.64.0.1/24", "dev", "jt1");
            ns.ip("link", "set", "jt1", "up");
            tap.setNonBlocking(true);
            NativeBuffer tx = new NativeBuffer(128);
            // an empty vnet header (flags 0, gso NONE: a plain frame), then the ARP request
            byte[] arp = Frame.ethernet(new byte[] {-1, -1, -1, -1, -1, -1}, OUR_MAC).headroom(Tap.VNET_HDR_LEN)
                    .arp(1, OUR_MAC, OUR_IP, new byte[6], TAP_IP).build();
            tx.asByteBuffer().put(arp);
            int len = arp.length;
            IoVec iov = new IoVec(2);
            iov.add(tx, 0, Tap.VNET_HDR_LEN);
            iov.add(tx, Tap.VNET_HDR_LEN, len - Tap.VNET_HDR_LEN);
            assertEquals(len, tap.writev(iov));

            NativeBuffer rx = new NativeBuffer(2048);
            ByteBuffer r = rx.asByteBuffer().order(ByteOrder.BIG_ENDIAN);
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (true) {
                readFrame(tap, rx, iov, deadline, "no ARP reply");
                int eth = Tap.VNET_HDR_LEN;
                if (r.getShort(eth + 12) != 0x0806 || r.getShort(eth + 14 + 6) != 2) {
                    continue; // IPv6 noise, not our reply
                }
                byte[] tha = new byte[6];
                byte[] spa = new byte[4];
                rx.get(eth + 14 + 8 + 6, spa, 0, 4);
                rx.get(eth + 14 + 8 + 10, tha, 0, 6);
                assertEquals(java.util.Arrays.toString(TAP_IP), java.util.Arrays.toString(spa));
                assertEquals(java.util.Arrays.toString(OUR_MAC), java.util.Arrays.toString(tha));
                break;
            }
        }
    }

    @Test
    void aTxFilterKeepsUnicastToAnotherMacFromTheReaderUntilItIsCleared(NetNs ns) throws Exception {
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open("jt2"))) {
            ns.ip("addr", "add", "100.64.77.1/24", "brd", "+", "dev", "jt2");
            ns.ip("link", "set", "jt2", "up");
            ns.ip("neigh", "add", "100.64.77.2", "lladdr", macText(FILTER_MAC), "dev", "jt2", "nud", "permanent");
            ns.ip("neigh", "add", "100.64.77.3", "lladdr", macText(OTHER_MAC), "dev", "jt2", "nud", "permanent");
            tap.setNonBlocking(true);
            tap.filterUnicastTo(FILTER_MAC);

            // the tap's queue keeps order: had the unicast to the other MAC got through, it would come first
            sendDatagram(ns, "100.64.77.3", "filtered to other");
            sendDatagram(ns, "100.64.77.255", "broadcast");
            sendDatagram(ns, "100.64.77.2", "to filter mac");
            byte[] f = nextDatagramFrame(tap, "the broadcast (TUN_FLT_ALLMULTI)");
            assertEquals(macText(BROADCAST_MAC), macText(destination(f)),
                    "first frame: the unicast to the other MAC (to be dropped) comes before the broadcast (to pass)");
            assertEquals("broadcast", payload(f));
            f = nextDatagramFrame(tap, "the unicast to the filter's MAC");
            assertEquals(macText(FILTER_MAC), macText(destination(f)), "second frame: the unicast to the filter's MAC");
            assertEquals("to filter mac", payload(f));

            tap.clearFilter();
            sendDatagram(ns, "100.64.77.3", "cleared to other");
            f = nextDatagramFrame(tap, "the unicast to the other MAC after clearFilter");
            assertEquals(macText(OTHER_MAC), macText(destination(f)));
            assertEquals("cleared to other", payload(f));
        }
    }

    @Test
    void aTxFilterWantsASixByteMac(NetNs ns) throws Exception {
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open("jt3"))) {
            assertThrows(IllegalArgumentException.class, () -> tap.filterUnicastTo(new byte[5]));
            assertThrows(IllegalArgumentException.class, () -> tap.filterUnicastTo(new byte[7]));
            assertThrows(IllegalArgumentException.class, () -> tap.filterUnicastTo(new byte[0]));
        }
    }

    /** One UDP datagram to {@code ip}:{@link #FILTER_TEST_PORT}, sent from inside {@code ns}. */
    private static void sendDatagram(NetNs ns, String ip, String payload) throws Exception {
        byte[] b = payload.getBytes(StandardCharsets.US_ASCII);
        Netns.call(ns.name(), () -> {
            try (DatagramSocket s = new DatagramSocket()) {
                s.setBroadcast(true);
                s.send(new DatagramPacket(b, b.length, InetAddress.getByName(ip), FILTER_TEST_PORT));
            }
            return null;
        });
    }

    /**
     * The next frame read from {@code tap} (within 5 s) that carries an IPv4 UDP datagram to
     * {@link #FILTER_TEST_PORT}, without its vnet header; anything else (IPv6 noise) is skipped.
     */
    private static byte[] nextDatagramFrame(Tap tap, String what) throws SysException {
        NativeBuffer rx = new NativeBuffer(2048);
        ByteBuffer r = rx.asByteBuffer().order(ByteOrder.BIG_ENDIAN);
        IoVec iov = new IoVec(2);
        int eth = Tap.VNET_HDR_LEN;
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (true) {
            long n = readFrame(tap, rx, iov, deadline, "no frame: " + what);
            if (n < eth + 14 + 20 + 8 || r.getShort(eth + 12) != Frame.ETH_P_IP || r.get(eth + 14 + 9) != Frame.UDP) {
                continue;
            }
            int udp = eth + 14 + (r.get(eth + 14) & 0xf) * 4;
            if (n < udp + 8 || Short.toUnsignedInt(r.getShort(udp + 2)) != FILTER_TEST_PORT) {
                continue;
            }
            byte[] frame = new byte[(int) n - eth];
            rx.get(eth, frame, 0, frame.length);
            return frame;
        }
    }

    /** The next frame read from {@code tap} into {@code rx} (vnet header first): its length; fails past {@code deadline}. */
    private static long readFrame(Tap tap, NativeBuffer rx, IoVec iov, long deadline, String failure) throws SysException {
        while (true) {
            assertTrue(System.nanoTime() < deadline, failure);
            iov.clear();
            iov.add(rx, 0, Tap.VNET_HDR_LEN);
            iov.add(rx, Tap.VNET_HDR_LEN, rx.size() - Tap.VNET_HDR_LEN);
            long n = tap.readv(iov);
            if (n == -Errno.EAGAIN) {
                LibC.poll(tap.fd(), LibC.POLLIN, 100);
                continue;
            }
            assertTrue(n > 0, "readv: " + Errno.describe((int) -n));
            return n;
        }
    }

    private static byte[] destination(byte[] frame) {
        return java.util.Arrays.copyOf(frame, 6);
    }

    /** The UDP payload of a frame {@link #nextDatagramFrame} returned (as long as its UDP length says: no padding). */
    private static String payload(byte[] frame) {
        int udp = 14 + (frame[14] & 0xf) * 4;
        int len = ByteBuffer.wrap(frame).order(ByteOrder.BIG_ENDIAN).getShort(udp + 4) & 0xffff;
        return new String(frame, udp + 8, len - 8, StandardCharsets.US_ASCII);
    }

    private static String macText(byte[] mac) {
        return HexFormat.ofDelimiter(":").formatHex(mac);
    }
}
