package org.jvmd.it.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.testkit.RequiresRoot;
import org.jvmd.virtio.net.TunFlags;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The guest simulator and vionet-proc with every offload on (what a Linux guest acks):
 * mergeable receive buffers, EVENT_IDX, indirect descriptors, locked lladdr; the guest's two
 * directions on a thread each (SimOptions.oneThread(false)), VionetOffloadsOffTest runs the
 * default one.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@RequiresRoot
class VionetOffloadsOnTest extends WithSimFixture {
    @Override
    SimFixture fixture() throws Exception {
        return new SimFixture("on", 71, true, o -> o.guestOffloads(true).oneThread(false));
    }

    @Test
    @Order(1)
    void tunscapSetsTheHostTapToWhatTheGuestAcked() throws Exception {
        long acked = sim.ackedFeatures();
        TunCapabilities t = sim.awaitTunCapabilities(1, 5000);
        int expected = TunFlags.forGuest(acked);
        assertEquals(expected, t.getTunFlags(), "TunCapabilities after DriverOk");
        int all = TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6;
        assertEquals(all, t.getTunFlags() & all, t.toString());
        assertEquals(expected, sim.hostTapFlags());
        Map<String, Boolean> k = lab.offloads(lab.hostNs, NetLab.HOST_TAP);
        assertEquals(true, k.get("tx-checksumming"), k.toString());
        assertEquals(true, k.get("tx-tcp-segmentation"), k.toString());
        assertEquals(true, k.get("tx-tcp6-segmentation"), k.toString());
        assertEquals((expected & TunFlags.TSO_ECN) != 0, k.get("tx-tcp-ecn-segmentation"), k.toString());
        assertEquals((expected & TunFlags.USO4) != 0, k.get("tx-udp-segmentation"), k.toString());
    }

    @Test
    @Order(2)
    void pingBothWaysIpv4AndIpv6() throws Exception {
        assertTrue(lab.ping(lab.guestNs, lab.host4, 3), "guest -> host IPv4");
        assertTrue(lab.ping(lab.hostNs, lab.guest4, 3), "host -> guest IPv4");
        assertTrue(lab.ping(lab.guestNs, lab.host6, 3), "guest -> host IPv6");
        assertTrue(lab.ping(lab.hostNs, lab.guest6, 3), "host -> guest IPv6");
    }

    @Test
    @Order(3)
    void tcpCarriesDataIntactBothWaysIpv4AndIpv6() throws Exception {
        GuestSim.Counters c0 = sim.counters();
        Traffic.tcpBothWays(lab.hostNs, new InetSocketAddress(InetAddress.getByName(lab.host4), 7001), lab.guestNs,
                24 << 20);
        Traffic.tcpBothWays(lab.guestNs, new InetSocketAddress(InetAddress.getByName(lab.guest6), 7002), lab.hostNs,
                24 << 20);
        GuestSim.Counters c1 = sim.counters();
        assertTrue(c1.txGso() > c0.txGso(), "the guest stack sent TSO super-frames: " + c1);
        assertTrue(c1.rxGso() > c0.rxGso(), "vionet handed the guest GSO frames: " + c1);
        assertTrue(c1.rxMerged() > c0.rxMerged(), "frames spanning several mergeable buffers: " + c1);
        // as KVM halt-polls a vCPU (SimOptions.HALT_POLL_NANOS by default), a thread's poll
        // catches interrupts and frames before it sleeps. On a loaded host every wait of the
        // bulk transfer may outlast the window, which then stays shut (it opens after a wait
        // shorter than its bound): request/response rounds, one hop a wait, give it those.
        List<GuestSim.Waits> waits = sim.haltWaits();
        assertEquals(2, waits.size(), waits.toString());
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (pollHits() == 0 && System.nanoTime() < deadline) {
            Traffic.udpEcho(lab.hostNs, new InetSocketAddress(InetAddress.getByName(lab.host4), 7003), lab.guestNs,
                    64, 200);
        }
        assertTrue(pollHits() > 0, sim.haltWaits().toString());
    }

    private long pollHits() {
        return sim.haltWaits().stream().mapToLong(GuestSim.Waits::polled).sum();
    }

    @Test
    @Order(4)
    void iperfBothWaysWithOffloads() throws Exception {
        NicStats s0 = sim.stats();
        double g2h = lab.iperf(lab.hostNs, lab.host4, lab.guestNs, 2);
        double h2g = lab.iperf(lab.guestNs, lab.guest4, lab.hostNs, 2);
        NicStats s1 = sim.stats();
        System.out.printf("offloads on: g2h %.2f Gbit/s, h2g %.2f Gbit/s%n", g2h / 1e9, h2g / 1e9);
        assertTrue(g2h > 50e6 && h2g > 50e6, "throughput g2h " + g2h + " h2g " + h2g);
        assertTrue(s1.getTxTsoFrames() > s0.getTxTsoFrames(), "vionet passed TSO frames to the tap: " + s1);
        assertTrue(s1.getRxGsoFrames() > s0.getRxGsoFrames(), "vionet received GSO frames from the tap: " + s1);
    }

    @Test
    @Order(5)
    void udpLargeDatagramsRoundTrip() throws Exception {
        Traffic.udpEcho(lab.hostNs, new InetSocketAddress(InetAddress.getByName(lab.host4), 7003), lab.guestNs,
                8000, 40);
        Traffic.udpEcho(lab.guestNs, new InetSocketAddress(InetAddress.getByName(lab.guest6), 7004), lab.hostNs,
                8000, 40);
    }

    /**
     * Tagged TCP with offloads: TSO super-frames whose csum_start lies past an inline 802.1Q
     * tag. A VLAN interface in the guest netns makes them where the kernel has 8021q; this
     * machine's kernel may not, and then the simulated driver inserts a priority tag (VID 0,
     * which a host stack without VLAN devices still takes), as a guest VLAN device would.
     */
    @Test
    @Order(6)
    void vlanTaggedTcpWithOffloadsPassesWithCsumStartPastTheTag() throws Exception {
        boolean kernelVlan = lab.in(lab.guestNs, 10, "ip", "link", "add", "link", NetLab.GUEST_TAP, "name", "gvlan10",
                "type", "vlan", "id", "10").status() == 0;
        String server = lab.host4;
        if (kernelVlan) {
            lab.inOk(lab.hostNs, "ip", "link", "add", "link", NetLab.HOST_TAP, "name", "hvlan10", "type", "vlan", "id", "10");
            lab.inOk(lab.guestNs, "ip", "addr", "add", "100.64.72.2/24", "dev", "gvlan10");
            lab.inOk(lab.hostNs, "ip", "addr", "add", "100.64.72.1/24", "dev", "hvlan10");
            lab.inOk(lab.guestNs, "ip", "link", "set", "gvlan10", "up");
            lab.inOk(lab.hostNs, "ip", "link", "set", "hvlan10", "up");
            server = "100.64.72.1";
        } else {
            sim.tagTransmittedFrames(0);
        }
        try {
            GuestSim.Counters c0 = sim.counters();
            NicStats s0 = sim.stats();
            Traffic.tcpBothWays(lab.hostNs, new InetSocketAddress(InetAddress.getByName(server), 7005),
                    lab.guestNs, 16 << 20);
            GuestSim.Counters c1 = sim.counters();
            NicStats s1 = sim.stats();
            assertTrue(c1.txVlanNeedsCsum() > c0.txVlanNeedsCsum(),
                    "tagged frames with NEEDS_CSUM (csum_start past the tag): " + c1);
            assertTrue(s1.getTxTsoFrames() > s0.getTxTsoFrames(), "TSO with the tag: " + s1);
            assertEquals(Map.of(), SimFixture.dropDelta(s0, s1), "no drops");
        } finally {
            sim.tagTransmittedFrames(-1);
            if (kernelVlan) {
                lab.in(lab.guestNs, 10, "ip", "link", "del", "gvlan10");
                lab.in(lab.hostNs, 10, "ip", "link", "del", "hvlan10");
            }
        }
    }

    @Test
    @Order(7)
    void vionetRunsUnprivilegedWithNoNewPrivsAndSeccomp() throws Exception {
        String status = Files.readString(Path.of("/proc", String.valueOf(sim.vionetPid()), "status"));
        int[] uid = ids(status, "Uid");
        int[] gid = ids(status, "Gid");
        for (int v : uid) {
            assertNotEquals(0, v, "Uid: " + Arrays.toString(uid));
        }
        for (int v : gid) {
            assertNotEquals(0, v, "Gid: " + Arrays.toString(gid));
        }
        assertTrue(status.contains("\nNoNewPrivs:\t1\n"), status);
        assertTrue(status.contains("\nSeccomp:\t2\n"), status);
    }

    private static int[] ids(String status, String key) {
        Matcher m = Pattern.compile("\n" + key + ":\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)").matcher(status);
        assertTrue(m.find(), key + " in " + status);
        return new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                Integer.parseInt(m.group(4))};
    }

    @Test
    @Order(8)
    void malformedChainsAndHeadersAreDroppedCountedAndUsedWithLengthZero() throws Exception {
        NicStats s0 = sim.stats();
        List<TxFault> faults = List.copyOf(EnumSet.allOf(TxFault.class));
        int[] lens = sim.injectTx(faults, 10_000);
        int[] zeros = new int[faults.size()];
        assertArrayEquals(zeros, lens, "every bad chain is used with length 0: " + faults);
        NicStats s1 = sim.stats();
        Map<String, Long> delta = SimFixture.dropDelta(s0, s1);
        assertTrue(SimFixture.drops(s1) - SimFixture.drops(s0) >= faults.size(),
                "each of " + faults.size() + " faults is counted: " + delta);
        for (String key : List.of("chain_loop", "address_out_of_range", "gso_size_zero", "unknown_gso_type",
                "tx_writable_descriptor")) {
            assertTrue(delta.getOrDefault(key, 0L) > 0, key + " counted: " + delta);
        }
        // csum_start past the frame raises hdr_len past it too, which Linux checks first
        assertTrue(delta.getOrDefault("hdr_len_beyond_frame", 0L) + delta.getOrDefault("csum_outside_frame", 0L) >= 2,
                "HDR_LEN_TOO_LARGE and CSUM_START_PAST_FRAME counted: " + delta);
        // vionet keeps serving, twice over
        assertArrayEquals(zeros, sim.injectTx(faults, 10_000));
        assertTrue(lab.ping(lab.guestNs, lab.host4, 3), "traffic after the faults");
        Traffic.tcpBothWays(lab.hostNs, new InetSocketAddress(InetAddress.getByName(lab.host4), 7006), lab.guestNs,
                4 << 20);
    }

    @Test
    @Order(9)
    void ctrlGuestOffloadsResendsTunscapAndTheTapFollows() throws Exception {
        int before = sim.tunCapabilities().size();
        assertEquals(GuestSim.CTRL_OK, sim.setGuestOffloads(0));
        TunCapabilities off = sim.awaitTunCapabilities(before + 1, 5000);
        assertEquals(0, off.getTunFlags(), off.toString());
        NetLab.waitFor(() -> sim.hostTapFlags() == 0, 5000, "TUNSETOFFLOAD 0 applied");
        assertFalse(lab.offloads(lab.hostNs, NetLab.HOST_TAP).get("tx-tcp-segmentation"));
        // receive offloads off: the guest must now get plain, fully checksummed frames
        GuestSim.Counters c0 = sim.counters();
        Traffic.tcpBothWays(lab.guestNs, new InetSocketAddress(InetAddress.getByName(lab.guest4), 7007), lab.hostNs,
                8 << 20);
        f.assertNoProblems();   // no GSO type or checksum flag reached the guest
        GuestSim.Counters c1 = sim.counters();
        assertTrue(c1.rxFrames() > c0.rxFrames());
        long on = sim.ackedFeatures() & VirtioNetFeatures.GUEST_OFFLOADS;
        assertEquals(GuestSim.CTRL_OK, sim.setGuestOffloads(on));
        TunCapabilities back = sim.awaitTunCapabilities(before + 2, 5000);
        assertEquals(TunFlags.forGuest(sim.ackedFeatures()), back.getTunFlags());
        NetLab.waitFor(() -> sim.hostTapFlags() == back.getTunFlags(), 5000, "offloads applied again");
        assertTrue(lab.offloads(lab.hostNs, NetLab.HOST_TAP).get("tx-tcp-segmentation"));
    }

    @Test
    @Order(10)
    void lockedLladdrDropsFramesFromAnotherMac() throws Exception {
        String own = IpLink.format(sim.mac());
        NicStats s0 = sim.stats();
        lab.inOk(lab.guestNs, "ip", "link", "set", "dev", NetLab.GUEST_TAP, "address", "02:6a:76:6d:64:99");
        try {
            assertFalse(lab.ping(lab.guestNs, lab.host4, 2), "a guest with a foreign MAC gets nothing through");
        } finally {
            lab.inOk(lab.guestNs, "ip", "link", "set", "dev", NetLab.GUEST_TAP, "address", own);
        }
        NicStats s1 = sim.stats();
        assertTrue(SimFixture.drop(s1, "locked_lladdr_tx") > SimFixture.drop(s0, "locked_lladdr_tx"),
                "spoofed frames counted: " + SimFixture.dropDelta(s0, s1));
        NetLab.waitFor(() -> lab.ping(lab.guestNs, lab.host4, 1), 10_000, "ping with the own MAC again");
    }
    @Test
    @Order(11)
    void resetInTheMiddleOfTrafficRecovers() throws Exception {
        int before = sim.tunCapabilities().size();
        Process load = lab.background(lab.hostNs, null, "iperf3", "-s", "-1", "-B", lab.host4, "-p", "5202");
        NetLab.waitFor(() -> lab.in(lab.hostNs, 5, "ss", "-Hltn", "sport = :5202").output().strip().length() > 0,
                5000, "iperf3 server listening");
        Process client = lab.background(lab.guestNs, null, "timeout", "20", "iperf3", "-c", lab.host4, "-p", "5202",
                "-t", "3");
        Thread.sleep(1000);
        sim.reset();
        client.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
        load.destroyForcibly();
        List<TunCapabilities> caps = sim.tunCapabilities();
        assertTrue(caps.size() >= before + 2, "a TunCapabilities on Reset and one on DriverOk: " + caps);
        assertEquals(0, caps.get(before).getTunFlags(), "on Reset the guest has no offloads: " + caps);
        assertEquals(TunFlags.forGuest(sim.ackedFeatures()), caps.get(caps.size() - 1).getTunFlags());
        NetLab.waitFor(() -> sim.hostTapFlags() == TunFlags.forGuest(sim.ackedFeatures()), 5000, "offloads again");
        NetLab.waitFor(() -> lab.ping(lab.guestNs, lab.host4, 1), 10_000, "ping after the reset");
        Traffic.tcpBothWays(lab.hostNs, new InetSocketAddress(InetAddress.getByName(lab.host4), 7008), lab.guestNs,
                8 << 20);
    }
}
