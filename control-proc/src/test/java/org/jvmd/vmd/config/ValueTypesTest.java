package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Sizes, addresses, prefixes, names, accounts and offload sets. */
class ValueTypesTest {
    @Test
    void scanScaledAcceptsScalesInEitherCaseAndFractions() {
        assertEquals(OptionalLong.of(1L << 30), MemorySize.scan("1G"));
        assertEquals(OptionalLong.of(1L << 30), MemorySize.scan("1g"));
        assertEquals(OptionalLong.of(1536), MemorySize.scan("1.5K"));
        assertEquals(OptionalLong.of(12), MemorySize.scan("12"));
        assertEquals(OptionalLong.of(12), MemorySize.scan("12B"));
        assertEquals(OptionalLong.of(1L << 60), MemorySize.scan("1E"));
        assertEquals(OptionalLong.of(-(1L << 20)), MemorySize.scan("-1M"));
        assertEquals(OptionalLong.of(512L << 10), MemorySize.scan(".5M"));
    }

    @Test
    void scanScaledRefusesJunkAndOverflow() {
        for (String s : new String[] {"", "G", "1GB", "1.2.3", "12X", "1 G", "0x10", "8E", "99999999999999999999"}) {
            assertEquals(OptionalLong.empty(), MemorySize.scan(s), s);
        }
    }

    @Test
    void memoryCheckRoundsDownAndEnforcesVmdsLimits() {
        assertEquals(new MemorySize.Checked(1L << 20, null), MemorySize.check((1L << 20) + 4095));
        assertEquals("memory size must be at least 1MB", MemorySize.check((1L << 20) - 1).error());
        assertEquals("memory size must be at least 1MB", MemorySize.check(-5).error());
        assertNull(MemorySize.check(128L << 30).error());
        assertEquals("memory size too large (limit is 128G)", MemorySize.check((128L << 30) + 1).error());
    }

    @Test
    void macAddressParsesEtherAtonFormsAndPrintsCanonically() {
        MacAddress a = MacAddress.parse("2:0:A:bb:c:D").orElseThrow();
        assertEquals("02:00:0a:bb:0c:0d", a.toString());
        assertArrayEquals(new byte[] {2, 0, 10, (byte) 0xbb, 12, 13}, a.octets());
        assertEquals(a, MacAddress.of(a.octets()));
        for (String s : new String[] {"", "1:2:3:4:5", "1:2:3:4:5:6:7", "001:2:3:4:5:6", "1::3:4:5:6", "g:0:0:0:0:0",
            "1-2-3-4-5-6"}) {
            assertEquals(Optional.empty(), MacAddress.parse(s), s);
        }
    }

    @Test
    void multicastIsTheLowBitOfTheFirstOctet() {
        assertTrue(MacAddress.parse("01:00:5e:00:00:01").orElseThrow().isMulticast());
        assertTrue(MacAddress.parse("ff:ff:ff:ff:ff:ff").orElseThrow().isMulticast());
        assertFalse(MacAddress.parse("fe:e1:bb:d1:00:01").orElseThrow().isMulticast());
    }

    @Test
    void vmdGeneratorUsesTheFeE1BbPrefixAndTheInterfaceIndex() {
        LladdrGenerator g = LladdrGenerator.vmd(new SplittableRandom(7));
        for (int i = 0; i < 20; i++) {
            byte[] b = g.generate(i).octets();
            assertEquals((byte) 0xfe, b[0]);
            assertEquals((byte) 0xe1, b[1]);
            assertEquals((byte) 0xbb, b[2]);
            assertEquals((byte) (0xd0 | ((i + 1) & 0xf)), b[3]);
        }
    }

    @Test
    void allocatorNeverHandsOutAClaimedAddress() {
        MacAddress taken = MacAddress.parse("fe:e1:bb:d1:00:01").orElseThrow();
        LladdrAllocator a = new LladdrAllocator(i -> taken, java.util.List.of(taken));
        assertThrows(LladdrAllocator.Exhausted.class, () -> a.allocate(0));
        LladdrAllocator b = new LladdrAllocator(LladdrGenerator.vmd(new SplittableRandom(1)), java.util.List.of());
        java.util.Set<MacAddress> seen = new java.util.HashSet<>();
        for (int i = 0; i < 5000; i++) {
            assertTrue(seen.add(b.allocate(0)));
        }
    }

    @Test
    void localPrefixParsing() {
        assertEquals("100.64.0.0/10", Ipv4Prefix.parseLocal("100.64/10").toString());
        assertEquals("10.0.0.0/16", Ipv4Prefix.parseLocal("10").toString());
        assertEquals("prefix length too small",
                assertThrows(IllegalArgumentException.class, () -> Ipv4Prefix.parseLocal("10.0.0.0/0")).getMessage());
        assertEquals("invalid prefix length",
                assertThrows(IllegalArgumentException.class, () -> Ipv4Prefix.parseLocal("10.0.0.0/x")).getMessage());
        assertEquals("invalid format",
                assertThrows(IllegalArgumentException.class, () -> Ipv4Prefix.parseLocal("1.2.3.4.5/8")).getMessage());
        assertEquals("invalid format",
                assertThrows(IllegalArgumentException.class, () -> Ipv4Prefix.parseLocal("a.b.c.d/8")).getMessage());
    }

    @Test
    void localInet6PrefixParsing() {
        assertEquals(0, Ipv6Prefix.parseLocal("::/0").length());
        assertEquals("invalid format",
                assertThrows(IllegalArgumentException.class, () -> Ipv6Prefix.parseLocal("fe80::%eth0/64")).getMessage());
        assertEquals("invalid format",
                assertThrows(IllegalArgumentException.class, () -> Ipv6Prefix.parseLocal("[fd00::]/64")).getMessage());
        assertEquals("not an IPv6 address",
                assertThrows(IllegalArgumentException.class, () -> Ipv6Prefix.parseLocal("::ffff:1.2.3.4/64")).getMessage());
        assertEquals("bad mask",
                assertThrows(IllegalArgumentException.class, () -> Ipv6Prefix.parseLocal("fd00:0:0:1::/60")).getMessage());
    }

    @Test
    void linuxInterfaceNameRules() {
        assertTrue(Names.validInterfaceName("tap0"));
        assertTrue(Names.validInterfaceName("vm1-if0.x_y"));
        assertTrue(Names.validInterfaceName("a".repeat(15)));
        for (String s : new String[] {"", ".", "..", "a".repeat(16), "a/b", "a:b", "a b", "a\tb", "tap\u00e9"}) {
            assertFalse(Names.validInterfaceName(s), s);
        }
    }

    @Test
    void groupNamesMustNotEndInADigitOrBeLong() {
        assertTrue(Names.validGroup("vms"));
        assertFalse(Names.validGroup("vms1"));
        assertFalse(Names.validGroup("g".repeat(16)));
        assertFalse(Names.validGroup(""));
    }

    @Test
    void etcAccountsLooksUpUsersGroupsAndMembership() {
        Accounts a = EtcAccounts.of(Fixture.PASSWD + "broken line\n::x\nneg:x:-1:0::/:/bin/sh\n",
                Fixture.GROUP + "bad:x:notanumber:joe\n");
        assertEquals(OptionalInt.of(1001), a.uid("ann"));
        assertEquals(OptionalInt.empty(), a.uid("neg"));
        assertEquals(OptionalInt.of(2000), a.gid("vmusers"));
        assertEquals(OptionalInt.empty(), a.gid("bad"));
        assertTrue(a.isMember(1001, 2000));
        assertTrue(a.isMember(1000, 1000));
        assertTrue(a.isMember(1000, 10));
        assertFalse(a.isMember(1001, 10));
        assertFalse(a.isMember(4242, 10));
    }

    @Test
    void offloadDependenciesFollowTheVirtioSpec() {
        assertEquals(Optional.empty(), Offload.missingDependency(Offload.ON));
        assertEquals(Optional.empty(), Offload.missingDependency(Offload.OFF));
        assertEquals(Optional.of("offload uso requires csum"), Offload.missingDependency(EnumSet.of(Offload.USO)));
        assertEquals(Optional.of("offload tso6 requires csum"), Offload.missingDependency(EnumSet.of(Offload.TSO6)));
        assertEquals(Optional.empty(), Offload.missingDependency(EnumSet.of(Offload.CSUM, Offload.TSO6, Offload.ECN)));
    }
}
