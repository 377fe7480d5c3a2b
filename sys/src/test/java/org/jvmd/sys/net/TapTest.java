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

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Taps live only in a network namespace this test creates; addresses from 100.64.0.0/10. */
class TapTest {
    private static final String NS = "jvmd-sys-" + ProcessHandle.current().pid();
    private static final byte[] OUR_MAC = {0x02, 0, 0, 0, 0, 0x02};
    private static final byte[] OUR_IP = {100, 64, 0, 2};
    private static final byte[] TAP_IP = {100, 64, 0, 1};

    static String sh(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) {
            throw new IOException(String.join(" ", cmd) + ": exit " + rc + ": " + out);
        }
        return out;
    }

    @BeforeAll
    static void createNamespace() throws Exception {
        sh("ip", "netns", "add", NS);
    }

    @AfterAll
    static void deleteNamespace() throws Exception {
        sh("ip", "netns", "del", NS);
    }

    @Test
    void aTapOpensInTheNamespaceWithVnetHeadersAndOffloads() throws Exception {
        try (Tap tap = Netns.call(NS, () -> Tap.open("jt0"))) {
            assertEquals("jt0", tap.name());
            assertTrue(sh("ip", "-n", NS, "link", "show", "jt0").contains("jt0"));
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
        assertThrows(IOException.class, () -> sh("ip", "-n", NS, "link", "show", "jt0"));
    }

    @Test
    void theKernelChoosesANameWhenNoneIsGiven() throws Exception {
        try (Tap tap = Netns.call(NS, () -> Tap.open(null))) {
            assertTrue(tap.name().startsWith("tap"), tap.name());
        }
    }

    @Test
    void anArpRequestWrittenWithAVnetHeaderIsAnsweredThroughReadv() throws Exception {
        try (Tap tap = Netns.call(NS, () -> Tap.open("jt1"))) {
            sh("ip", "-n", NS, "addr", "add", "100.64.0.1/24", "dev", "jt1");
            sh("ip", "-n", NS, "link", "set", "jt1", "up");
            tap.setNonBlocking(true);
            NativeBuffer tx = new NativeBuffer(128);
            ByteBuffer b = tx.asByteBuffer().order(ByteOrder.BIG_ENDIAN);
            b.put(new byte[Tap.VNET_HDR_LEN]); // flags 0, gso NONE: a plain frame
            b.put(new byte[] {-1, -1, -1, -1, -1, -1}).put(OUR_MAC).putShort((short) 0x0806);
            b.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
            b.put(OUR_MAC).put(OUR_IP).put(new byte[6]).put(TAP_IP);
            int len = b.position();
            IoVec iov = new IoVec(2);
            iov.add(tx, 0, Tap.VNET_HDR_LEN);
            iov.add(tx, Tap.VNET_HDR_LEN, len - Tap.VNET_HDR_LEN);
            assertEquals(len, tap.writev(iov));

            NativeBuffer rx = new NativeBuffer(2048);
            ByteBuffer r = rx.asByteBuffer().order(ByteOrder.BIG_ENDIAN);
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (true) {
                assertTrue(System.nanoTime() < deadline, "no ARP reply");
                iov.clear();
                iov.add(rx, 0, Tap.VNET_HDR_LEN);
                iov.add(rx, Tap.VNET_HDR_LEN, rx.size() - Tap.VNET_HDR_LEN);
                long n = tap.readv(iov);
                if (n == -Errno.EAGAIN) {
                    LibC.poll(tap.fd(), LibC.POLLIN, 100);
                    continue;
                }
                assertTrue(n > 0, "readv: " + Errno.describe((int) -n));
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
}
