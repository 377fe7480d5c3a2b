package org.jvmd.sys.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.Fd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.LibC;
import org.jvmd.sys.NativeBuffer;
import org.jvmd.sys.SysException;

/** connect(2) and setsockopt(2) on an inet socket, in a private namespace's loopback. */
class UdpSegmentTest {
    private static final String NS = "jvmd-sysudp-" + ProcessHandle.current().pid();

    @BeforeAll
    static void createNamespace() throws Exception {
        TapTest.sh("ip", "netns", "add", NS);
        TapTest.sh("ip", "-n", NS, "link", "set", "lo", "up");
    }

    @AfterAll
    static void deleteNamespace() throws Exception {
        TapTest.sh("ip", "netns", "del", NS);
    }

    @Test
    void udpSegmentSplitsOneWriteIntoDatagramsOverIpv4() throws Exception {
        assertEquals(List.of(100, 100, 50), sendSegmented("127.0.0.1", StandardProtocolFamily.INET, LibC.AF_INET));
    }

    @Test
    void udpSegmentSplitsOneWriteIntoDatagramsOverIpv6() throws Exception {
        assertEquals(List.of(100, 100, 50), sendSegmented("::1", StandardProtocolFamily.INET6, LibC.AF_INET6));
    }

    @Test
    void connectToAClosedTcpPortNamesTheCall() throws Exception {
        SysException e = Netns.call(NS, () -> {
            try (Fd s = LibC.socket(LibC.AF_INET, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0)) {
                return assertThrows(SysException.class,
                    () -> LibC.connect(s, new InetSocketAddress(InetAddress.getLoopbackAddress(), 9)));
            }
        });
        assertEquals("connect: ECONNREFUSED (Connection refused)", e.getMessage());
    }

    /** One 250-byte write with UDP_SEGMENT 100 from a native socket; the sizes a Java receiver gets. */
    private static List<Integer> sendSegmented(String host, StandardProtocolFamily family, int af) throws Exception {
        return Netns.call(NS, () -> {
            try (DatagramChannel rx = DatagramChannel.open(family);
                 Fd tx = LibC.socket(af, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0)) {
                rx.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
                LibC.connect(tx, (InetSocketAddress) rx.getLocalAddress());
                LibC.setsockopt(tx, LibC.SOL_UDP, LibC.UDP_SEGMENT, 100);
                NativeBuffer buf = new NativeBuffer(250);
                IoVec iov = new IoVec(1);
                iov.add(buf, 0, 250);
                assertEquals(250, LibC.writev(tx, iov));
                List<Integer> sizes = new ArrayList<>();
                ByteBuffer b = ByteBuffer.allocate(1000);
                rx.configureBlocking(false);
                long deadline = System.currentTimeMillis() + 2_000;
                while (sizes.size() < 3 && System.currentTimeMillis() < deadline) {
                    b.clear();
                    if (rx.receive(b) != null) {
                        sizes.add(b.position());
                    } else {
                        Thread.onSpinWait();
                    }
                }
                return sizes;
            }
        });
    }
}
