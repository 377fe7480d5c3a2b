package org.jvmd.it.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jvmd.testkit.RequiresRoot;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.junit.jupiter.api.Test;

/**
 * vmd's `local interface`: vionet answers the guest's DHCP. The guest's tap starts without
 * an address; busybox udhcpc in the guest netns must get 100.64.74.3/31 with the router
 * 100.64.74.2 (the host tap). Receive buffers are Linux's "big packets" here (GUEST_TSO
 * without MRG_RXBUF).
 */
@RequiresRoot
class VionetLocalInterfaceTest extends WithSimFixture {
    static final byte[] GUEST = {100, 64, 74, 3};
    static final byte[] GATEWAY = {100, 64, 74, 2};

    @Override
    SimFixture fixture() throws Exception {
        return new SimFixture("local", 74, false, o -> o.local(GUEST, GATEWAY, 31)
                .withoutDriverFeatures(VirtioNetFeatures.bit(VirtioNetFeatures.MRG_RXBUF)));
    }

    @Override
    void started() throws Exception {
        lab.inOk(lab.hostNs, "ip", "addr", "add", "100.64.74.2/31", "dev", NetLab.HOST_TAP);
    }

    @Test
    void dhcpGivesTheGuestItsAddressAndRouter() throws Exception {
        Path script = NetLab.tempFile("jvmd-udhcpc-", """
                #!/bin/sh
                # udhcpc event script: configure the lease on $interface
                case "$1" in
                bound|renew)
                    ip addr flush dev "$interface"
                    ip addr add "$ip/$mask" dev "$interface"
                    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
                    ;;
                esac
                exit 0
                """);
        Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        try {
            NetLab.Result r = lab.in(lab.guestNs, 30, "busybox", "udhcpc", "-i", NetLab.GUEST_TAP, "-n", "-q",
                    "-t", "5", "-T", "1", "-s", script.toString());
            assertEquals(0, r.status(), "udhcpc: " + r.output() + "\nvionet log:\n" + f.vionetLogTail());
            String addr = lab.inOk(lab.guestNs, "ip", "-4", "-o", "addr", "show", "dev", NetLab.GUEST_TAP);
            assertTrue(addr.contains("inet 100.64.74.3/31"), addr);
            String route = lab.inOk(lab.guestNs, "ip", "-4", "route", "show", "default");
            assertTrue(route.contains("via 100.64.74.2"), route);
            assertTrue(lab.ping(lab.guestNs, "100.64.74.2", 2), "the gateway answers");
            Traffic.tcpBothWays(lab.hostNs, new InetSocketAddress(InetAddress.getByName("100.64.74.2"), 7021),
                    lab.guestNs, 8 << 20);
        } finally {
            Files.deleteIfExists(script);
        }
    }
}
