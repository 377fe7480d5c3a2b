package org.jvmd.it.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.jvmd.virtio.net.TunFlags;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.junit.jupiter.api.Test;

/** The simulator's pure parts: features it acks, tap flags it sets, its command line. */
class SimConfigTest {
    @Test
    void offloadsOffAcksNoChecksumOrSegmentationFeatureAndKeepsTheRest() {
        long off = new SimOptions().guestOffloads(false).driverFeatures();
        assertEquals(0, off & SimOptions.OFFLOAD_FEATURES);
        assertEquals(SimOptions.DEVICE_FEATURES & ~SimOptions.OFFLOAD_FEATURES, off);
        assertEquals(-1, VirtioNetFeatures.firstUnmetDependency(off));
        long on = new SimOptions().guestOffloads(true).driverFeatures();
        assertEquals(SimOptions.DEVICE_FEATURES, on);
        assertEquals(-1, VirtioNetFeatures.firstUnmetDependency(on));
    }

    @Test
    void driverNeverAcksWhatTheDeviceDoesNotOffer() {
        long offered = VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1) | VirtioNetFeatures.bit(VirtioNetFeatures.CSUM);
        assertEquals(offered, new SimOptions().deviceFeatures(offered).driverFeatures());
    }

    @Test
    void guestTapOffloadsFollowTheHostFeaturesTheDriverAcked() {
        int on = GuestSim.guestTapFlags(SimOptions.DEVICE_FEATURES);
        assertEquals(TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.TSO_ECN | TunFlags.USO4
                | TunFlags.USO6, on);
        assertEquals(0, GuestSim.guestTapFlags(new SimOptions().guestOffloads(false).driverFeatures()));
    }

    /** Whatever the acked features, the guest tap's TUNSETOFFLOAD argument is one Linux takes. */
    @Property(tries = 500)
    void guestTapFlagsAreAlwaysAcceptedByLinux(@ForAll long features) {
        assertTrue(TunFlags.acceptedByLinux(GuestSim.guestTapFlags(features)),
                "0x" + Integer.toHexString(GuestSim.guestTapFlags(features)));
    }

    @Test
    void commandLineOfTheBenchHook() {
        SimOptions o = GuestSimMain.parse(new String[] {"--ns1", "g", "--tap1", "gtap0", "--ns2", "h", "--tap2", "htap0",
            "--guest-offloads", "off", "--rx-queue", "512", "--chroot", "/var/empty"});
        assertEquals("g", o.guestNs);
        assertEquals(java.nio.file.Path.of("/var/empty"), o.chroot);
        assertEquals("htap0", o.hostTap);
        assertEquals(512, o.rxQueueSize);
        assertEquals(0, o.driverFeatures() & SimOptions.OFFLOAD_FEATURES);
        assertEquals(SimOptions.HALT_POLL_NANOS, o.haltPollNanos);
        assertTrue(o.oneThread, "a 1-vCPU guest by default");
        assertFalse(GuestSimMain.parse(new String[] {"--tap1", "a", "--tap2", "b", "--guest-offloads", "on",
            "--two-threads"}).oneThread);
        assertTrue(GuestSimMain.parse(new String[] {"--tap1", "a", "--tap2", "b", "--guest-offloads", "on",
            "--two-threads", "--one-thread"}).oneThread);
        SimOptions noPoll = GuestSimMain.parse(new String[] {"--tap1", "a", "--tap2", "b", "--guest-offloads", "on",
            "--halt-poll-us", "0"});
        assertEquals(0, noPoll.haltPollNanos);
        assertEquals(50_000, GuestSimMain.parse(new String[] {"--tap1", "a", "--tap2", "b", "--guest-offloads", "on",
            "--halt-poll-us", "50"}).haltPollNanos);
        assertThrows(IllegalArgumentException.class, () -> GuestSimMain.parse(new String[] {"--tap1", "a", "--tap2", "b",
            "--guest-offloads", "on", "--halt-poll-us", "-1"}));
        assertThrows(IllegalArgumentException.class, () -> GuestSimMain.parse(new String[] {"--tap1", "a", "--tap2", "b"}));
        assertThrows(IllegalArgumentException.class, () -> GuestSimMain.parse(new String[] {"--tap1", "a", "--tap2", "b",
            "--guest-offloads", "maybe"}));
        assertThrows(IllegalArgumentException.class, () -> GuestSimMain.parse(new String[] {"--bogus"}));
    }

    @Test
    void vionetClasspathLeavesOutTheSimulatorAndTestLibraries() {
        String cp = String.join(java.io.File.pathSeparator, "/w/it/target/classes", "/w/vionet-proc/target/classes",
                "/m2/junit-jupiter-api-5.jar", "/w/sys/target/classes", "/w/vmm-proc/target/classes",
                "/m2/protobuf-java-4.jar", "/w/virtio/target/test-classes", "/w/vioblk-proc/target/classes");
        assertEquals(String.join(java.io.File.pathSeparator, "/w/vionet-proc/target/classes", "/w/sys/target/classes",
                "/m2/protobuf-java-4.jar"), VionetClasspath.filter(cp));
    }

    @Test
    void vioblkClasspathLeavesOutTheSimulatorVionetAndTestLibraries() {
        String cp = String.join(java.io.File.pathSeparator, "/w/it/target/classes", "/w/vionet-proc/target/classes",
                "/m2/junit-jupiter-api-5.jar", "/w/sys/target/classes", "/w/vioblk-proc/target/classes",
                "/m2/org/jvmd/jvmd-vionet-proc/0.1.0-SNAPSHOT/jvmd-vionet-proc-0.1.0-SNAPSHOT.jar",
                "/m2/protobuf-java-4.jar", "/w/virtio/target/test-classes");
        assertEquals(String.join(java.io.File.pathSeparator, "/w/sys/target/classes", "/w/vioblk-proc/target/classes",
                "/m2/protobuf-java-4.jar"), DeviceClasspath.filter(cp, org.jvmd.it.blk.VioblkSpawn.FOREIGN));
    }
}
