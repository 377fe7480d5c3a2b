package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jvmd.sys.net.Netns;
import org.jvmd.sys.net.Tap;
import org.jvmd.vmd.config.Config;
import org.jvmd.vmd.config.ConfigEnvironment;
import org.jvmd.vmd.config.ConfigParser;
import org.jvmd.vmd.config.EtcAccounts;
import org.jvmd.vmd.config.Ipv4Prefix;
import org.jvmd.vmd.config.LladdrGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;

/** vmd's taps in a network namespace the test creates: names, MTU, bridge, local address, removal. */
class VmTapsTest {
    @TempDir
    Path dir;

    Config config() throws IOException {
        String text = """
                local prefix 100.80.0.0/16
                switch "uplink" {
                  interface jvbr0
                }
                vm "web" {
                  boot "bzImage"
                  interface { switch "uplink"
                    mtu 1400 }
                  local interface
                  interface "named0"
                  interface "down0" { down }
                }
                """;
        return parsed(text);
    }

    /** {@code text} parsed as vm.conf beside a kernel file "bzImage". */
    Config parsed(String text) throws IOException {
        Files.writeString(dir.resolve("bzImage"), "k");
        var env = new ConfigEnvironment(EtcAccounts.of("root:x:0:0::/:/bin/sh\n", "root:x:0:\n"),
                LladdrGenerator.secure(), 1, Map.of());
        var r = new ConfigParser(env).parse("vm.conf", text, dir);
        assertTrue(r.ok(), r.errors().toString());
        return r.config().orElseThrow();
    }

    static String link(NetNs ns, String name) throws Exception {
        return ns.ip("-d", "addr", "show", "dev", name);
    }

    @Test
    @NetnsTest
    void tapsAreNamedConfiguredBridgedAndGoneWhenClosed(NetNs ns) throws Exception {
        Config c = config();
        VmTaps taps = Netns.call(ns.name(), () -> VmTaps.create(7, c.vm("web").orElseThrow().interfaces(), c));
        try {
            List<String> names = taps.nics().stream().map(n -> n.tap().name()).toList();
            assertEquals(List.of("vm7-if0", "vm7-if1", "named0", "down0"), names);

            String sw = link(ns, "vm7-if0");
            assertTrue(sw.contains("mtu 1400"), sw);
            assertTrue(sw.contains("master jvbr0"), sw);
            assertTrue(sw.contains(",UP"), sw);
            String br = link(ns, "jvbr0");
            assertTrue(br.contains("bridge"), br);
            assertTrue(br.contains(",UP"), br);

            String local = link(ns, "vm7-if1");
            assertTrue(local.contains("inet 100.80.7.2/31"), local);
            assertArrayEquals(new byte[] {100, 80, 7, 3}, taps.nics().get(1).guest());

            assertFalse(link(ns, "down0").contains(",UP"), link(ns, "down0"));
        } finally {
            taps.close();
        }
        for (String n : List.of("vm7-if0", "vm7-if1", "named0", "down0")) {
            assertThrows(IOException.class, () -> link(ns, n), n + " is gone");
        }
        assertTrue(link(ns, "jvbr0").contains("bridge"), "the switch's bridge stays");
    }

    @Test
    @NetnsTest
    void groupsAndLocalInet6AreApplied(NetNs ns) throws Exception {
        String text = """
                local prefix 100.80.0.0/16
                local inet6 prefix fd00:1:2::/48
                switch "grouped" {
                  interface jvbr1
                  group 7
                }
                vm "g" {
                  boot "bzImage"
                  interface { switch "grouped" }
                  interface { switch "grouped"; group default }
                  local interface { group 42 }
                }
                """;
        Config c = parsed(text);
        VmTaps taps = Netns.call(ns.name(), () -> VmTaps.create(7, c.vm("g").orElseThrow().interfaces(), c));
        try {
            assertTrue(ns.ip("-d", "link", "show", "vm7-if0").contains(" group 7 "), "the switch's group");
            assertTrue(ns.ip("-d", "link", "show", "vm7-if1").contains(" group default "),
                    "the interface's own group wins");
            String local = link(ns, "vm7-if2");
            assertTrue(local.contains(" group 42 "), local);
            assertTrue(local.contains("inet 100.80.7.4/31"), local);
            // vm_priv_addr6: the guest's IPv4 address (100.80.7.5) in bytes 8-11, gateway ::1, /96
            assertTrue(local.contains("inet6 fd00:1:2:0:6450:705:0:1/96"), local);
        } finally {
            taps.close();
        }
    }

    @Test
    @NetnsTest
    void aFailingInterfaceLeavesNoTapBehind(NetNs ns) throws Exception {
        Config c = config();
        Tap squatter = Netns.call(ns.name(), () -> Tap.open("named0"));
        try {
            assertThrows(Exception.class,
                    () -> Netns.call(ns.name(), () -> VmTaps.create(8, c.vm("web").orElseThrow().interfaces(), c)));
            assertThrows(IOException.class, () -> link(ns, "vm8-if0"));
            assertThrows(IOException.class, () -> link(ns, "vm8-if1"));
        } finally {
            squatter.close();
        }
    }

    /**
     * A locked interface's tap carries the kernel's filter (TUNSETTXFILTER): a unicast frame
     * for another MAC is dropped before any reader, which vionet's direct receive relies on;
     * an unlocked one passes it. Counted in the tap's tx_dropped.
     */
    @Test
    @NetnsTest
    void aLockedInterfacesTapPassesNoUnicastForAnotherMac(NetNs ns) throws Exception {
        String text = """
                local prefix 100.80.0.0/16
                vm "l" {
                  boot "bzImage"
                  local interface { locked lladdr 02:00:00:00:78:01 }
                  local interface { lladdr 02:00:00:00:78:02 }
                }
                """;
        Config c = parsed(text);
        VmTaps taps = Netns.call(ns.name(), () -> VmTaps.create(7, c.vm("l").orElseThrow().interfaces(), c));
        try {
            // vm7-if0 (locked): 100.80.7.0/31, the guest .1; vm7-if1: .2/31, the guest .3
            assertEquals(0, dropsSending(ns, "vm7-if0", "100.80.7.1", "02:00:00:00:78:01"), "the guest's own MAC passes");
            assertEquals(1, dropsSending(ns, "vm7-if0", "100.80.7.1", "02:00:00:00:78:99"), "another MAC is dropped");
            assertEquals(0, dropsSending(ns, "vm7-if1", "100.80.7.3", "02:00:00:00:78:99"), "unlocked: no filter");
        } finally {
            taps.close();
        }
    }

    /** The tap's tx_dropped growth over one UDP datagram to {@code ip}, the neighbour at {@code mac}. */
    private static long dropsSending(NetNs ns, String tap, String ip, String mac) throws Exception {
        ns.ip("neigh", "replace", ip, "lladdr", mac, "dev", tap, "nud", "permanent");
        long before = txDropped(ns, tap);
        Netns.call(ns.name(), () -> {
            try (DatagramSocket s = new DatagramSocket()) {
                s.send(new DatagramPacket(new byte[8], 8, InetAddress.getByName(ip), 7778));
            }
            return null;
        });
        long deadline = System.nanoTime() + 500_000_000L;   // the qdisc may send it from softirq
        long after = txDropped(ns, tap);
        while (after == before && System.nanoTime() < deadline) {
            Thread.sleep(20);
            after = txDropped(ns, tap);
        }
        return after - before;
    }

    private static long txDropped(NetNs ns, String tap) throws Exception {
        return Long.parseLong(ns.exec("cat", "/sys/class/net/" + tap + "/statistics/tx_dropped").strip());
    }

    @Test
    void localAddressesFollowVmdsLayout() {
        Ipv4Prefix p = Ipv4Prefix.DEFAULT_LOCAL;
        assertArrayEquals(new byte[] {100, 64, 1, 0}, VmTaps.localAddress(p, 1, 0, false));
        assertArrayEquals(new byte[] {100, 64, 1, 1}, VmTaps.localAddress(p, 1, 0, true));
        assertArrayEquals(new byte[] {100, 64, 2, 6}, VmTaps.localAddress(p, 2, 3, false));
    }
}
