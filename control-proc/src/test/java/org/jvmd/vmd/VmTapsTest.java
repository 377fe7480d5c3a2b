package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** vmd's taps in a network namespace the test creates: names, MTU, bridge, local address, removal. */
class VmTapsTest {
    static final String NS = "jvmd-vmd-" + ProcessHandle.current().pid();

    static String sh(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + ": " + out);
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

    @TempDir
    Path dir;

    Config config() throws IOException {
        Files.writeString(dir.resolve("bzImage"), "k");
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
        var env = new ConfigEnvironment(EtcAccounts.of("root:x:0:0::/:/bin/sh\n", "root:x:0:\n"),
                LladdrGenerator.secure(), 1, Map.of());
        var r = new ConfigParser(env).parse("vm.conf", text, dir);
        assertTrue(r.ok(), r.errors().toString());
        return r.config().orElseThrow();
    }

    String link(String name) throws Exception {
        return sh("ip", "-n", NS, "-d", "addr", "show", "dev", name);
    }

    @Test
    void tapsAreNamedConfiguredBridgedAndGoneWhenClosed() throws Exception {
        Config c = config();
        VmTaps taps = Netns.call(NS, () -> VmTaps.create(7, c.vm("web").orElseThrow().interfaces(), c));
        try {
            List<String> names = taps.nics().stream().map(n -> n.tap().name()).toList();
            assertEquals(List.of("vm7-if0", "vm7-if1", "named0", "down0"), names);

            String sw = link("vm7-if0");
            assertTrue(sw.contains("mtu 1400"), sw);
            assertTrue(sw.contains("master jvbr0"), sw);
            assertTrue(sw.contains(",UP"), sw);
            String br = link("jvbr0");
            assertTrue(br.contains("bridge"), br);
            assertTrue(br.contains(",UP"), br);

            String local = link("vm7-if1");
            assertTrue(local.contains("inet 100.80.7.2/31"), local);
            assertArrayEquals(new byte[] {100, 80, 7, 3}, taps.nics().get(1).guest());

            assertFalse(link("down0").contains(",UP"), link("down0"));
        } finally {
            taps.close();
        }
        for (String n : List.of("vm7-if0", "vm7-if1", "named0", "down0")) {
            assertThrows(IOException.class, () -> link(n), n + " is gone");
        }
        assertTrue(link("jvbr0").contains("bridge"), "the switch's bridge stays");
    }

    @Test
    void aFailingInterfaceLeavesNoTapBehind() throws Exception {
        Config c = config();
        Tap squatter = Netns.call(NS, () -> Tap.open("named0"));
        try {
            assertThrows(Exception.class,
                    () -> Netns.call(NS, () -> VmTaps.create(8, c.vm("web").orElseThrow().interfaces(), c)));
            assertThrows(IOException.class, () -> link("vm8-if0"));
            assertThrows(IOException.class, () -> link("vm8-if1"));
        } finally {
            squatter.close();
        }
    }

    @Test
    void localAddressesFollowVmdsLayout() {
        Ipv4Prefix p = Ipv4Prefix.DEFAULT_LOCAL;
        assertArrayEquals(new byte[] {100, 64, 1, 0}, VmTaps.localAddress(p, 1, 0, false));
        assertArrayEquals(new byte[] {100, 64, 1, 1}, VmTaps.localAddress(p, 1, 0, true));
        assertArrayEquals(new byte[] {100, 64, 2, 6}, VmTaps.localAddress(p, 2, 3, false));
    }
}
