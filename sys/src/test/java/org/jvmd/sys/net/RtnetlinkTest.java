package org.jvmd.sys.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.Errno;
import org.jvmd.sys.SysException;

/** Interface groups and IPv6 addresses on a tap in a network namespace this test creates. */
class RtnetlinkTest {
    private static final String NS = "jvmd-rtnl-" + ProcessHandle.current().pid();

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
    void aTapJoinsAGroupAndGetsAnIpv6Address() throws Exception {
        try (Tap tap = Netns.call(NS, () -> Tap.open("jg0"))) {
            Netns.call(NS, () -> {
                Rtnetlink.setGroup(NetIf.index("jg0"), 42);
                return null;
            });
            assertTrue(sh("ip", "-n", NS, "-d", "link", "show", "jg0").contains("group 42"));
            Netns.call(NS, () -> {
                Rtnetlink.setGroup(NetIf.index("jg0"), 0x7fff_ffffL);
                byte[] a = new byte[16];
                a[0] = (byte) 0xfd;
                a[15] = 1;
                NetIf.addIpv6("jg0", a, 96);
                SysException again = assertThrows(SysException.class, () -> NetIf.addIpv6("jg0", a, 96));
                assertEquals(Errno.EEXIST, again.errno());
                return null;
            });
            String link = sh("ip", "-n", NS, "-d", "link", "show", "jg0");
            assertTrue(link.contains("group 2147483647"), link);
            String addr = sh("ip", "-n", NS, "-6", "addr", "show", "dev", "jg0");
            assertTrue(addr.contains("inet6 fd00::1/96"), addr);
        }
    }

    @Test
    void aMissingInterfaceIsTheKernelsEnodev() throws Exception {
        SysException e = Netns.call(NS, () -> assertThrows(SysException.class, () -> Rtnetlink.setGroup(999_999, 1)));
        assertEquals(Errno.ENODEV, e.errno());
        assertThrows(IllegalArgumentException.class, () -> Rtnetlink.setGroup(1, -1));
        assertThrows(IllegalArgumentException.class, () -> Rtnetlink.setGroup(1, 1L << 32));
    }

    /** Whatever the socket returns, the acknowledgement check answers 0, a negative errno, or EPROTO. */
    @Property(tries = 500)
    void anyAnswerIsAnErrnoOrEproto(@ForAll @Size(max = 64) byte[] answer, @ForAll int seq, @ForAll boolean shaped,
            @ForAll int error) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(64, 4);
            MemorySegment.copy(answer, 0, buf, JAVA_BYTE, 0, answer.length);
            long n = answer.length;
            if (shaped && n >= 20) {
                buf.set(JAVA_INT, 0, (int) n);
                buf.set(JAVA_SHORT, 4, (short) 2);
                buf.set(JAVA_INT, 8, seq);
                buf.set(JAVA_INT, 16, error);
            }
            try {
                int r = Rtnetlink.ackError(buf, n, seq);
                assertTrue(r <= 0 && r >= -4095, "error " + r);
                if (shaped && n >= 20) {
                    assertEquals(error, r);
                }
            } catch (SysException e) {
                assertEquals(Errno.EPROTO, e.errno());
                assertTrue(!shaped || n < 20 || error > 0 || error < -4095, e.getMessage());
            }
        }
    }
}
