package org.jvmd.it.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.testkit.RequiresRoot;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.junit.jupiter.api.Test;

/**
 * A guest with every offload off, and the plainest rings: no MRG_RXBUF (small receive
 * buffers), no EVENT_IDX (flag-based notification suppression), no indirect descriptors,
 * the header in its own transmit descriptor; and the simulator's two paths on one thread
 * (SimOptions.oneThread, a 1-vCPU guest).
 */
@RequiresRoot
class VionetOffloadsOffTest extends WithSimFixture {
    @Override
    SimFixture fixture() throws Exception {
        return new SimFixture("off", 73, true, o -> o.guestOffloads(false).txSplitHeader(true).oneThread(true).haltPollMicros(0)
                .withoutDriverFeatures(VirtioNetFeatures.bit(VirtioNetFeatures.MRG_RXBUF)
                        | VirtioNetFeatures.bit(Virtq.F_EVENT_IDX) | VirtioNetFeatures.bit(Virtq.F_INDIRECT_DESC))
                .rxQueueSize(256));
    }

    @Test
    void tunscapTurnsEveryHostTapOffloadOff() throws Exception {
        TunCapabilities t = sim.awaitTunCapabilities(1, 5000);
        assertEquals(0, t.getTunFlags(), t.toString());
        Map<String, Boolean> k = lab.offloads(lab.hostNs, NetLab.HOST_TAP);
        assertEquals(false, k.get("tx-checksumming"), k.toString());
        assertEquals(false, k.get("tx-tcp-segmentation"), k.toString());
        assertEquals(false, k.get("tx-tcp6-segmentation"), k.toString());
        Map<String, Boolean> g = lab.offloads(lab.guestNs, NetLab.GUEST_TAP);
        assertEquals(false, g.get("tx-checksumming"), g.toString());
    }

    @Test
    void pingAndTcpBothWaysWithoutOffloads() throws Exception {
        assertTrue(lab.ping(lab.guestNs, lab.host4, 2));
        assertTrue(lab.ping(lab.hostNs, lab.guest6, 2));
        GuestSim.Counters c0 = sim.counters();
        Traffic.tcpBothWays(lab.hostNs, new InetSocketAddress(InetAddress.getByName(lab.host6), 7011), lab.guestNs,
                8 << 20);
        GuestSim.Counters c1 = sim.counters();
        assertEquals(c0.txGso(), c1.txGso(), "no TSO from a guest without HOST_TSO: " + c1);
        assertEquals(c0.txNeedsCsum(), c1.txNeedsCsum(), "no partial checksums without CSUM: " + c1);
        assertEquals(c0.rxGso(), c1.rxGso(), "no GSO to a guest without GUEST_TSO: " + c1);
        assertEquals(c0.rxNeedsCsum() + c0.rxDataValid(), c1.rxNeedsCsum() + c1.rxDataValid(),
                "flags masked for a guest without GUEST_CSUM: " + c1);
        // halt polling off: the simulator's one thread slept at every wait
        List<GuestSim.Waits> waits = sim.haltWaits();
        assertEquals(1, waits.size(), waits.toString());
        assertEquals(0, waits.get(0).polled(), waits.toString());
        assertTrue(waits.get(0).slept() > 0, waits.toString());
    }

    @Test
    void iperfBothWaysWithoutOffloads() throws Exception {
        NicStats s0 = sim.stats();
        double g2h = lab.iperf(lab.hostNs, lab.host4, lab.guestNs, 2);
        double h2g = lab.iperf(lab.guestNs, lab.guest4, lab.hostNs, 2);
        System.out.printf("offloads off: g2h %.2f Gbit/s, h2g %.2f Gbit/s%n", g2h / 1e9, h2g / 1e9);
        assertTrue(g2h > 10e6 && h2g > 10e6, "throughput g2h " + g2h + " h2g " + h2g);
        NicStats s1 = sim.stats();
        assertEquals(s0.getTxTsoFrames(), s1.getTxTsoFrames());
        assertTrue(s1.getRxFrames() > s0.getRxFrames());
    }

    @Test
    void udpLargeDatagramsRoundTrip() throws Exception {
        Traffic.udpEcho(lab.guestNs, new InetSocketAddress(InetAddress.getByName(lab.guest4), 7012), lab.hostNs,
                8000, 20);
    }
}
