package org.jvmd.virtio.net;

import static org.jvmd.virtio.net.VirtioNetFeatures.CSUM;
import static org.jvmd.virtio.net.VirtioNetFeatures.CTRL_VQ;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_CSUM;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_ECN;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_UFO;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_USO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_USO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_ECN;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_TSO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_TSO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_USO;
import static org.jvmd.virtio.net.VirtioNetFeatures.MQ;
import static org.jvmd.virtio.net.VirtioNetFeatures.MRG_RXBUF;
import static org.jvmd.virtio.net.VirtioNetFeatures.bit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Feature bits, TUNSETOFFLOAD mapping and the tap's pass-through set. */
class OffloadFeaturesTest {

    static long f(int... bits) {
        long v = 0;
        for (int b : bits) {
            v |= bit(b);
        }
        return v;
    }

    @Test
    void featureBitNumbersAreThoseOfTheSpec() {
        // virtio 1.2 §5.1.3 (and 1.3 for USO), the numbers Linux uses.
        int[][] table = {
            {VirtioNetFeatures.CSUM, 0}, {VirtioNetFeatures.GUEST_CSUM, 1},
            {VirtioNetFeatures.CTRL_GUEST_OFFLOADS, 2}, {VirtioNetFeatures.MTU, 3},
            {VirtioNetFeatures.MAC, 5}, {VirtioNetFeatures.GUEST_TSO4, 7}, {VirtioNetFeatures.GUEST_TSO6, 8},
            {VirtioNetFeatures.GUEST_ECN, 9}, {VirtioNetFeatures.GUEST_UFO, 10}, {VirtioNetFeatures.HOST_TSO4, 11},
            {VirtioNetFeatures.HOST_TSO6, 12}, {VirtioNetFeatures.HOST_ECN, 13}, {VirtioNetFeatures.HOST_UFO, 14},
            {VirtioNetFeatures.MRG_RXBUF, 15}, {VirtioNetFeatures.STATUS, 16}, {VirtioNetFeatures.CTRL_VQ, 17},
            {VirtioNetFeatures.CTRL_RX, 18}, {VirtioNetFeatures.CTRL_VLAN, 19}, {VirtioNetFeatures.GUEST_ANNOUNCE, 21},
            {VirtioNetFeatures.MQ, 22}, {VirtioNetFeatures.CTRL_MAC_ADDR, 23}, {VirtioNetFeatures.GUEST_USO4, 54},
            {VirtioNetFeatures.GUEST_USO6, 55}, {VirtioNetFeatures.HOST_USO, 56}, {VirtioNetFeatures.RSS, 60},
            {VirtioNetFeatures.RSC_EXT, 61}, {VirtioNetFeatures.VERSION_1, 32},
        };
        for (int[] row : table) {
            assertEquals(row[1], row[0]);
        }
        assertEquals(1L << 56, bit(HOST_USO));
    }

    @Test
    void offloadsWithoutTheirChecksumFeatureAreInconsistent() {
        assertEquals(GUEST_TSO4, VirtioNetFeatures.firstUnmetDependency(f(GUEST_TSO4)));
        assertEquals(HOST_TSO6, VirtioNetFeatures.firstUnmetDependency(f(HOST_TSO6)));
        assertEquals(HOST_USO, VirtioNetFeatures.firstUnmetDependency(f(HOST_USO)));
        assertEquals(GUEST_ECN, VirtioNetFeatures.firstUnmetDependency(f(GUEST_CSUM, GUEST_ECN)));
        assertEquals(HOST_ECN, VirtioNetFeatures.firstUnmetDependency(f(CSUM, HOST_ECN)));
        assertEquals(MQ, VirtioNetFeatures.firstUnmetDependency(f(MQ)));
        assertEquals(-1, VirtioNetFeatures.firstUnmetDependency(f(CSUM, HOST_TSO4, HOST_ECN, GUEST_CSUM, GUEST_TSO6,
            GUEST_ECN, MRG_RXBUF, CTRL_VQ, MQ, GUEST_USO4, GUEST_USO6, HOST_USO)));
        assertEquals(-1, VirtioNetFeatures.firstUnmetDependency(0));
    }

    @Test
    void guestOffloadsCanOnlyBeSetToNegotiatedOnes() {
        long acked = f(GUEST_CSUM, GUEST_TSO4, GUEST_TSO6, MRG_RXBUF, CTRL_VQ);
        assertTrue(VirtioNetFeatures.guestOffloadsAllowed(acked, f(GUEST_CSUM)));
        assertTrue(VirtioNetFeatures.guestOffloadsAllowed(acked, 0));
        assertFalse(VirtioNetFeatures.guestOffloadsAllowed(acked, f(GUEST_CSUM, GUEST_UFO)));
        assertFalse(VirtioNetFeatures.guestOffloadsAllowed(acked, f(MRG_RXBUF)));
        assertEquals(f(GUEST_CSUM, MRG_RXBUF, CTRL_VQ), VirtioNetFeatures.withGuestOffloads(acked, f(GUEST_CSUM)));
        assertThrows(IllegalArgumentException.class, () -> VirtioNetFeatures.withGuestOffloads(acked, f(GUEST_ECN)));
    }

    static Stream<Arguments> guestToTun() {
        return Stream.of(
            Arguments.of("nothing", 0L, 0),
            Arguments.of("csum only", f(GUEST_CSUM), TunFlags.CSUM),
            Arguments.of("TSO without GUEST_CSUM", f(GUEST_TSO4, GUEST_TSO6, GUEST_ECN), 0),
            Arguments.of("TSO4", f(GUEST_CSUM, GUEST_TSO4), TunFlags.CSUM | TunFlags.TSO4),
            Arguments.of("TSO6", f(GUEST_CSUM, GUEST_TSO6), TunFlags.CSUM | TunFlags.TSO6),
            Arguments.of("TSO4+6+ECN", f(GUEST_CSUM, GUEST_TSO4, GUEST_TSO6, GUEST_ECN),
                TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.TSO_ECN),
            Arguments.of("ECN without TSO", f(GUEST_CSUM, GUEST_ECN), TunFlags.CSUM),
            Arguments.of("UFO", f(GUEST_CSUM, GUEST_UFO), TunFlags.CSUM | TunFlags.UFO),
            Arguments.of("USO4 alone", f(GUEST_CSUM, GUEST_USO4), TunFlags.CSUM),
            Arguments.of("USO6 alone", f(GUEST_CSUM, GUEST_USO6), TunFlags.CSUM),
            Arguments.of("USO4+6", f(GUEST_CSUM, GUEST_USO4, GUEST_USO6), TunFlags.CSUM | TunFlags.USO4 | TunFlags.USO6),
            Arguments.of("HOST bits do not reach the tap", f(CSUM, HOST_TSO4, HOST_TSO6, HOST_ECN, HOST_USO), 0),
            Arguments.of("everything", -1L, TunFlags.ALL));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("guestToTun")
    void ackedFeaturesMapToTunOffloadFlags(String name, long acked, int expected) {
        assertEquals(expected, TunFlags.forGuest(acked));
    }

    @Property(tries = 1000)
    void everyMappedFlagSetIsOneLinuxAcceptsAndNeedsCsum(@ForAll long acked) {
        int flags = TunFlags.forGuest(acked);
        assertTrue(TunFlags.acceptedByLinux(flags), () -> Integer.toHexString(flags));
        if (flags != 0) {
            assertTrue((flags & TunFlags.CSUM) != 0);
        }
        if ((acked & bit(GUEST_CSUM)) == 0) {
            assertEquals(0, flags);
        }
    }

    @Test
    void linuxRefusesFlagsWithoutCsumOrHalfUsoOrBareEcn() {
        assertFalse(TunFlags.acceptedByLinux(TunFlags.TSO4));
        assertFalse(TunFlags.acceptedByLinux(TunFlags.CSUM | TunFlags.TSO_ECN));
        assertFalse(TunFlags.acceptedByLinux(TunFlags.CSUM | TunFlags.USO4));
        assertFalse(TunFlags.acceptedByLinux(0x80));
        assertTrue(TunFlags.acceptedByLinux(0));
        assertTrue(TunFlags.acceptedByLinux(TunFlags.ALL));
    }

    static Stream<Arguments> tunToTap() {
        return Stream.of(
            Arguments.of("none", 0, "TapOffloads[csum=false, tso4=false, tso6=false, ecn=false, ufo=false, uso=false, udpMaxSegments=0]"),
            Arguments.of("TSO without CSUM passes nothing", TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.USO4 | TunFlags.USO6,
                "TapOffloads[csum=false, tso4=false, tso6=false, ecn=false, ufo=false, uso=false, udpMaxSegments=0]"),
            Arguments.of("csum", TunFlags.CSUM, "TapOffloads[csum=true, tso4=false, tso6=false, ecn=false, ufo=false, uso=false, udpMaxSegments=0]"),
            Arguments.of("pre-6.2 kernel", TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.TSO_ECN | TunFlags.UFO,
                "TapOffloads[csum=true, tso4=true, tso6=true, ecn=true, ufo=true, uso=false, udpMaxSegments=0]"),
            Arguments.of("ECN without TSO", TunFlags.CSUM | TunFlags.TSO_ECN,
                "TapOffloads[csum=true, tso4=false, tso6=false, ecn=false, ufo=false, uso=false, udpMaxSegments=0]"),
            Arguments.of("half USO", TunFlags.CSUM | TunFlags.USO6,
                "TapOffloads[csum=true, tso4=false, tso6=false, ecn=false, ufo=false, uso=false, udpMaxSegments=0]"),
            Arguments.of("6.2+ kernel", TunFlags.ALL,
                "TapOffloads[csum=true, tso4=true, tso6=true, ecn=true, ufo=true, uso=true, udpMaxSegments=64]"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tunToTap")
    void supportedTunFlagsMapToWhatTxCanPassThrough(String name, int supported, String expected) {
        assertEquals(expected, TapOffloads.fromTunFlags(supported).toString());
    }
}
