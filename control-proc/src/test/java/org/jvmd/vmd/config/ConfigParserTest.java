package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One test per vm.conf statement, each checking what lands in the configuration model. */
class ConfigParserTest {
    @TempDir
    Path tmp;
    Fixture fx;

    @BeforeEach
    void setUp() {
        fx = new Fixture(tmp);
    }

    private static MacAddress mac(String s) {
        return MacAddress.parse(s).orElseThrow();
    }

    @Test
    void emptyConfigurationHasVmdsGlobalDefaults() {
        Config c = fx.ok("");
        Globals g = c.globals();
        assertEquals("100.64.0.0/10", g.localPrefix().toString());
        assertFalse(g.localInet6());
        assertEquals(Optional.empty(), g.localPrefix6());
        assertEquals(new Owner(0, 0), g.socketOwner());
        assertEquals(new StaggeredStart(false, 4, 30), g.staggeredStart());
        assertEquals(List.of(), c.switches());
        assertEquals(List.of(), c.vms());
    }

    @Test
    void vmWithOnlyBootGetsVmdsDefaults() {
        VmSpec vm = fx.ok(fx.vm("web")).vm("web").orElseThrow();
        assertEquals(512L << 20, vm.memoryBytes());
        assertEquals(1, vm.vcpus());
        assertEquals(fx.kernel, vm.kernel());
        assertEquals(Optional.empty(), vm.initrd());
        assertEquals("", vm.cmdline());
        assertEquals(List.of(), vm.interfaces());
        assertEquals(Owner.ROOT, vm.owner());
        assertTrue(vm.enabled());
        assertEquals(InstancePolicy.NONE, vm.allowInstance());
        assertEquals(Optional.empty(), vm.parent());
        assertEquals(Optional.of(new Source("vm.conf", 1)), vm.source());
    }

    @Test
    void memoryTakesScaledSizesAndBytesRoundedDownToMegabytes() {
        String[][] cases = {
            {"1G", String.valueOf(1L << 30)},
            {"512M", String.valueOf(512L << 20)},
            {"2048K", String.valueOf(2L << 20)},
            {"1.5G", String.valueOf(3L << 29)},
            {"768m", String.valueOf(768L << 20)},
            {"\"64M\"", String.valueOf(64L << 20)},
            {"1048577", String.valueOf(1L << 20)},
            {"128G", String.valueOf(128L << 30)},
        };
        for (String[] c : cases) {
            VmSpec vm = fx.ok(fx.vm("a", "memory " + c[0])).vms().getFirst();
            assertEquals(Long.parseLong(c[1]), vm.memoryBytes(), c[0]);
        }
    }

    @Test
    void vcpusSetsTheVcpuCount() {
        assertEquals(4, fx.ok(fx.vm("a", "vcpus 4")).vms().getFirst().vcpus());
        assertEquals(64, fx.ok(fx.vm("a", "vcpus 64")).vms().getFirst().vcpus());
    }

    @Test
    void initrdAndCmdlineAreKept() {
        VmSpec vm = fx.ok(fx.vm("a", "initrd \"" + fx.initrd + "\"", "cmdline \"console=ttyS0 quiet\"")).vms().getFirst();
        assertEquals(Optional.of(fx.initrd), vm.initrd());
        assertEquals("console=ttyS0 quiet", vm.cmdline());
    }

    @Test
    void relativeBootPathsAreTakenFromTheConfigurationsDirectory() {
        VmSpec vm = fx.ok("vm a {\n boot bzImage\n initrd \"initrd.img\"\n}\n").vms().getFirst();
        assertEquals(fx.kernel, vm.kernel());
        assertEquals(Optional.of(fx.initrd), vm.initrd());
    }

    @Test
    void interfaceWithoutOptionsIsUpWithAGeneratedVmdAddressAndOffloadsOn() {
        InterfaceSpec i = fx.ok(fx.vm("a", "interface")).vms().getFirst().interfaces().getFirst();
        assertEquals(Optional.empty(), i.tapName());
        assertFalse(i.local());
        assertEquals(Optional.empty(), i.switchName());
        assertEquals(mac("fe:e1:bb:d1:00:01"), i.lladdr());
        assertFalse(i.locked());
        assertTrue(i.up());
        assertEquals(Optional.empty(), i.group());
        assertEquals(Offload.ON, i.offloads());
        assertEquals(OptionalInt.empty(), i.mtu());
    }

    @Test
    void interfaceOptionsInBraces() {
        String conf = "switch uplink { interface br0 }\n" + fx.vm("a", """
                interface tap7 {
                    switch "uplink"
                    group "vms"
                    locked lladdr 02:00:00:00:00:01
                    down
                    offload csum tso4
                    mtu 9000
                }""");
        InterfaceSpec i = fx.ok(conf).vms().getFirst().interfaces().getFirst();
        assertEquals(Optional.of("tap7"), i.tapName());
        assertEquals(Optional.of("uplink"), i.switchName());
        assertEquals(Optional.of("vms"), i.group());
        assertEquals(mac("02:00:00:00:00:01"), i.lladdr());
        assertTrue(i.locked());
        assertFalse(i.up());
        assertEquals(EnumSet.of(Offload.CSUM, Offload.TSO4), i.offloads());
        assertEquals(OptionalInt.of(9000), i.mtu());
    }

    @Test
    void interfaceOptionsOnOneLineMaySeparateWithCommas() {
        String conf = "switch uplink { interface br0 }\n"
                + fx.vm("a", "interface tap3 switch \"uplink\", lladdr 2:0:0:0:0:a5, up");
        InterfaceSpec i = fx.ok(conf).vms().getFirst().interfaces().getFirst();
        assertEquals(Optional.of("tap3"), i.tapName());
        assertEquals(Optional.of("uplink"), i.switchName());
        assertEquals(mac("02:00:00:00:00:a5"), i.lladdr());
        assertTrue(i.up());
    }

    @Test
    void localInterfaceIsMarkedLocal() {
        InterfaceSpec i = fx.ok(fx.vm("a", "local interface")).vms().getFirst().interfaces().getFirst();
        assertTrue(i.local());
        assertEquals(Optional.empty(), i.switchName());
    }

    @Test
    void interfaceNamedTapLetsVmdNameIt() {
        InterfaceSpec i = fx.ok(fx.vm("a", "interface tap")).vms().getFirst().interfaces().getFirst();
        assertEquals(Optional.empty(), i.tapName());
    }

    @Test
    void interfacesCountAddsDefaultInterfacesAfterTheConfiguredOnes() {
        String conf = "switch sw { interface br0 }\n" + fx.vm("a", "interface { switch sw }", "interfaces 3");
        List<InterfaceSpec> ifs = fx.ok(conf).vms().getFirst().interfaces();
        assertEquals(3, ifs.size());
        assertEquals(Optional.of("sw"), ifs.get(0).switchName());
        assertEquals(Optional.empty(), ifs.get(1).switchName());
        assertEquals(mac("fe:e1:bb:d1:00:01"), ifs.get(0).lladdr());
        assertEquals(mac("fe:e1:bb:d2:00:02"), ifs.get(1).lladdr());
        assertEquals(mac("fe:e1:bb:d3:00:03"), ifs.get(2).lladdr());
    }

    @Test
    void interfacesCountBelowTheConfiguredOnesKeepsThemAll() {
        List<InterfaceSpec> ifs = fx.ok(fx.vm("a", "interface", "interface", "interfaces 1")).vms().getFirst()
                .interfaces();
        assertEquals(2, ifs.size());
    }

    @Test
    void allZeroLladdrMeansGenerateOne() {
        InterfaceSpec i = fx.ok(fx.vm("a", "interface { lladdr 00:00:00:00:00:00 }")).vms().getFirst()
                .interfaces().getFirst();
        assertEquals(mac("fe:e1:bb:d1:00:01"), i.lladdr());
    }

    @Test
    void lockedLladdrWithoutAnAddressLocksAGeneratedOne() {
        InterfaceSpec i = fx.ok(fx.vm("a", "interface { locked lladdr }")).vms().getFirst().interfaces().getFirst();
        assertTrue(i.locked());
        assertEquals(mac("fe:e1:bb:d1:00:01"), i.lladdr());
    }

    @Test
    void ownerTakesUserUserGroupGroupOrUid() {
        assertEquals(new Owner(1000, -1), fx.ok(fx.vm("a", "owner joe")).vms().getFirst().owner());
        assertEquals(new Owner(1000, 10), fx.ok(fx.vm("a", "owner joe:wheel")).vms().getFirst().owner());
        assertEquals(new Owner(0, 2000), fx.ok(fx.vm("a", "owner :vmusers")).vms().getFirst().owner());
        assertEquals(new Owner(4321, -1), fx.ok(fx.vm("a", "owner 4321")).vms().getFirst().owner());
    }

    @Test
    void disableAndEnable() {
        assertFalse(fx.ok(fx.vm("a", "disable")).vms().getFirst().enabled());
        assertTrue(fx.ok(fx.vm("a", "disable", "enable")).vms().getFirst().enabled());
    }

    @Test
    void allowInstanceTakesABlockOrOneFlag() {
        VmSpec a = fx.ok(fx.vm("a", """
                allow instance {
                    boot, memory
                    interface
                    vcpus, instance, owner :vmusers
                }""")).vms().getFirst();
        assertEquals(EnumSet.of(InstanceFlag.BOOT, InstanceFlag.MEMORY, InstanceFlag.INTERFACE, InstanceFlag.VCPUS,
                InstanceFlag.INSTANCE), a.allowInstance().flags());
        assertEquals(new Owner(0, 2000), a.allowInstance().owner());
        VmSpec b = fx.ok(fx.vm("b", "allow instance memory", "allow instance owner joe")).vms().getFirst();
        assertEquals(Set.of(InstanceFlag.MEMORY), b.allowInstance().flags());
        assertEquals(new Owner(1000, -1), b.allowInstance().owner());
    }

    @Test
    void switchStatementWithEveryOption() {
        SwitchSpec s = fx.ok("""
                switch "uplink" {
                    interface br0
                    locked lladdr
                    group vmnet
                    down
                    disable
                }
                """).switches().getFirst();
        assertEquals(new SwitchSpec("uplink", "br0", Optional.of("vmnet"), true, false, false,
                new Source("vm.conf", 1)), s);
    }

    @Test
    void groupsAreLinuxNumbersOrNamesIproute2Knows() {
        assertEquals(Optional.of("42"), fx.ok("switch s { interface br0; group 42 }").switches().getFirst().group());
        assertEquals(Optional.of("4294967295"),
                fx.ok("switch s { interface br0; group 4294967295 }").switches().getFirst().group());
        assertEquals(Optional.of("lab"), fx.ok("switch s { interface br0; group lab }").switches().getFirst().group());
        assertEquals(Optional.of("default"),
                fx.ok(fx.vm("a", "interface { group default }")).vms().getFirst().interfaces().getFirst().group());
        assertEquals(java.util.OptionalLong.of(0x20), Fixture.GROUPS.resolve("lab"));
        assertEquals(java.util.OptionalLong.of(42), Fixture.GROUPS.resolve("42"));
        assertEquals(java.util.OptionalLong.empty(), Fixture.GROUPS.resolve("+42"));
        assertEquals(java.util.OptionalLong.empty(), Fixture.GROUPS.resolve("nosuch"));
        assertEquals(java.util.OptionalLong.of(0), InterfaceGroups.of("", "none").resolve("default"));
    }

    @Test
    void switchDefaultsToUpAndEnabled() {
        SwitchSpec s = fx.ok("switch lan { interface br1 }").switches().getFirst();
        assertTrue(s.up());
        assertTrue(s.enabled());
        assertFalse(s.lockedLladdr());
        assertEquals(Optional.empty(), s.group());
    }

    @Test
    void switchWithLockedLladdrLocksItsInterfaces() {
        String conf = fx.vm("a", "interface { switch lan }", "interface") + "switch lan {\n interface br1\n locked lladdr\n}\n";
        List<InterfaceSpec> ifs = fx.ok(conf).vms().getFirst().interfaces();
        assertTrue(ifs.get(0).locked());
        assertFalse(ifs.get(1).locked());
    }

    @Test
    void localPrefix() {
        assertEquals("10.20.0.0/16", fx.ok("local prefix 10.20.0.0/16").globals().localPrefix().toString());
        assertEquals("172.16.0.0/12", fx.ok("local prefix \"172.16/12\"").globals().localPrefix().toString());
        assertEquals("10.1.0.0/16", fx.ok("local prefix 10.1.0.0").globals().localPrefix().toString());
    }

    @Test
    void localInet6WithAndWithoutPrefix() {
        Globals auto = fx.ok("local inet6").globals();
        assertTrue(auto.localInet6());
        assertEquals(Optional.empty(), auto.localPrefix6());
        Globals fixed = fx.ok("local inet6 prefix fd00:1:2::/48").globals();
        assertTrue(fixed.localInet6());
        assertEquals(48, fixed.localPrefix6().orElseThrow().length());
        assertEquals("fd00:1:2:0:0:0:0:0", fixed.localPrefix6().orElseThrow().address().getHostAddress());
        assertEquals(64, fx.ok("local inet6 prefix fd00:1:2:3::").globals().localPrefix6().orElseThrow().length());
    }

    @Test
    void socketOwnerSetsUserAndGroupWithRootGroupByDefault() {
        assertEquals(new Owner(1000, 10), fx.ok("socket owner joe:wheel").globals().socketOwner());
        assertEquals(new Owner(1000, 0), fx.ok("socket owner joe").globals().socketOwner());
        assertEquals(new Owner(0, 2000), fx.ok("socket owner :vmusers").globals().socketOwner());
    }

    @Test
    void staggeredStart() {
        assertEquals(new StaggeredStart(true, 2, 15),
                fx.ok("staggered start parallel 2 delay 15").globals().staggeredStart());
    }

    @Test
    void commentsAndBackslashContinuation() {
        Config c = fx.ok("# a comment line\n"
                + "vm \"a\" { # comment after a brace\n"
                + "  boot \"" + fx.kernel + "\"\n"
                + "  memory \\\n 1G   # continued\n"
                + "  vcpus 2\n"
                + "}\n");
        VmSpec vm = c.vms().getFirst();
        assertEquals(1L << 30, vm.memoryBytes());
        assertEquals(2, vm.vcpus());
    }

    @Test
    void commentsDoNotStartInsideQuotes() {
        VmSpec vm = fx.ok(fx.vm("a", "cmdline \"a#b\" # real comment")).vms().getFirst();
        assertEquals("a#b", vm.cmdline());
    }

    @Test
    void adjacentStringsConcatenate() {
        Config c = fx.ok("vm \"we\" \"b\" {\n boot \"" + fx.dir + "\" \"/bzImage\"\n}\n");
        assertEquals(fx.kernel, c.vm("web").orElseThrow().kernel());
    }

    @Test
    void semicolonsSeparateStatementsLikeNewlines() {
        Config c = fx.ok("m=\"1G\"; vm a { boot \"" + fx.kernel + "\"; memory $m; vcpus 2 }");
        assertEquals(1L << 30, c.vms().getFirst().memoryBytes());
        assertEquals(2, c.vms().getFirst().vcpus());
    }

    @Test
    void quotedStringsKeepEscapedQuotesAndBlanks() {
        VmSpec vm = fx.ok(fx.vm("a", "cmdline 'say \\'hi\\' \\n'")).vms().getFirst();
        assertEquals("say 'hi' \\n", vm.cmdline());
    }

    @Test
    void offloadOnOffAndListsChooseTheOfferedFeatures() {
        InterfaceSpec on = fx.ok(fx.vm("a", "interface { offload on }")).vms().getFirst().interfaces().getFirst();
        InterfaceSpec off = fx.ok(fx.vm("a", "interface { offload off }")).vms().getFirst().interfaces().getFirst();
        InterfaceSpec list = fx.ok(fx.vm("a", "interface { offload csum tso6 ecn uso indirect }")).vms().getFirst()
                .interfaces().getFirst();
        assertEquals(Offload.ON, on.offloads());
        assertEquals(Offload.OFF, off.offloads());
        assertEquals(EnumSet.of(Offload.CSUM, Offload.TSO6, Offload.ECN, Offload.USO, Offload.INDIRECT),
                list.offloads());
        long base = (1L << 32) | (1L << 5) | (1L << 16);
        assertEquals(base | 0b11 | (1L << 12) | (1L << 8) | (1L << 13) | (1L << 9) | (7L << 54) | (1L << 28),
                list.virtioFeatures());
        assertEquals(base | (1L << 15) | (1L << 29) | (1L << 28) | (1L << 17) | (1L << 2), off.virtioFeatures());
    }

    @Test
    void mtuAlsoOffersTheMtuFeature() {
        InterfaceSpec i = fx.ok(fx.vm("a", "interface { mtu 1400 }")).vms().getFirst().interfaces().getFirst();
        assertEquals(OptionalInt.of(1400), i.mtu());
        assertEquals(1L << 3, i.virtioFeatures() & (1L << 3));
    }

    @Test
    void vmNamesMayUseLettersDigitsDotsDashesAndUnderscores() {
        Config c = fx.ok(fx.vm("web-1.example_com") + fx.vm("9lives") + fx.vm("x".repeat(63)));
        assertEquals(List.of("web-1.example_com", "9lives", "x".repeat(63)), c.vms().stream().map(VmSpec::name).toList());
    }

    @Test
    void keywordsQuotedAreOrdinaryStrings() {
        assertEquals("memory", fx.ok(fx.vm("memory")).vms().getFirst().name());
    }

    @Test
    void instanceInheritsFromItsParentExceptAddressesAndTapNames() {
        String conf = "switch sw { interface br0 }\n"
                + fx.vm("base", "memory 1G", "vcpus 2", "cmdline \"console=ttyS0\"", "owner joe",
                        "interface tap10 { switch sw }", "local interface")
                + "vm base instance copy {\n memory 2G\n}\n";
        Config c = fx.ok(conf);
        VmSpec base = c.vm("base").orElseThrow();
        VmSpec copy = c.vm("copy").orElseThrow();
        assertEquals(Optional.of("base"), copy.parent());
        assertEquals(2L << 30, copy.memoryBytes());
        assertEquals(2, copy.vcpus());
        assertEquals(base.kernel(), copy.kernel());
        assertEquals("console=ttyS0", copy.cmdline());
        assertEquals(base.owner(), copy.owner());
        assertEquals(2, copy.interfaces().size());
        assertEquals(Optional.empty(), copy.interfaces().get(0).tapName());
        assertEquals(Optional.of("sw"), copy.interfaces().get(0).switchName());
        assertTrue(copy.interfaces().get(1).local());
        for (int i = 0; i < 2; i++) {
            assertFalse(base.interfaces().get(i).lladdr().equals(copy.interfaces().get(i).lladdr()));
        }
        assertEquals(Optional.of(new Source("vm.conf", 11)), copy.source());
        assertEquals(InstancePolicy.NONE, copy.allowInstance());
    }

    @Test
    void instanceKeepsItsParentsPolicyWhenInstancesOfInstancesAreAllowed() {
        String conf = fx.vm("base", "allow instance { instance, memory }") + "vm base instance one { memory 1G }\n"
                + "vm one instance two { memory 2G }\n";
        Config c = fx.ok(conf);
        assertEquals(EnumSet.of(InstanceFlag.INSTANCE, InstanceFlag.MEMORY),
                c.vm("one").orElseThrow().allowInstance().flags());
        assertEquals(Optional.of("one"), c.vm("two").orElseThrow().parent());
    }

    @Test
    void generatedAddressesAreUniqueAcrossTheConfiguration() {
        LladdrGenerator stuck = new LladdrGenerator() {
            int calls;

            @Override
            public MacAddress generate(int index) {
                return mac(calls++ < 3 ? "fe:e1:bb:d1:00:01" : "fe:e1:bb:d1:00:0" + calls);
            }
        };
        ConfigParser p = new ConfigParser(new ConfigEnvironment(Fixture.ACCOUNTS, stuck, 1, Map.of()));
        ParseResult r = p.parse("vm.conf", fx.vm("a", "interface") + fx.vm("b", "interface"), fx.dir);
        List<VmSpec> vms = r.config().orElseThrow().vms();
        assertFalse(vms.get(0).interfaces().getFirst().lladdr().equals(vms.get(1).interfaces().getFirst().lladdr()));
    }

    @Test
    void noActionOutputSaysConfigurationOk() {
        ParseResult r = fx.parse(fx.vm("a"));
        assertEquals("configuration OK\n", r.noActionOutput());
        assertEquals(0, r.exitCode());
    }

    @Test
    void noActionOutputListsErrorsAndFails() {
        ParseResult r = fx.parse("vm a {\n boot bzImage\n memory 12X\n}\nfoo\n");
        assertEquals("vm.conf:3: invalid memory size: 12X\nvm.conf:5: unknown keyword: foo\n", r.noActionOutput());
        assertEquals(1, r.exitCode());
        assertEquals(Optional.empty(), r.config());
    }

    @Test
    void parseFileNamesErrorsAfterThePathGiven() {
        Path f = fx.write("etc/vm.conf", "vm a {\n boot \"../bzImage\"\n vcpus 0\n}\n");
        ParseResult r = fx.parser().parseFile(f);
        assertEquals(List.of(f + ":3: invalid number of vcpus: 0"), r.errors().stream().map(Object::toString).toList());
    }

    @Test
    void parseFileOfAMissingFileSaysSo() {
        ParseResult r = fx.parser().parseFile(tmp.resolve("none.conf"));
        assertEquals(List.of("failed to open " + tmp.resolve("none.conf") + ": No such file or directory"),
                r.errors().stream().map(Object::toString).toList());
    }

    // ---- disk ----

    private static DiskSpec disk(Path p, DiskSpec.Format f) {
        return DiskSpec.of(p, f);
    }

    @Test
    void disksKeepTheirOrderAndFormat() {
        VmSpec vm = fx.ok(fx.vm("web", "disk \"/var/vm/root.img\"", "disk \"/var/vm/data.qcow2\" format qcow2",
                "disk \"/var/vm/swap.img\" format \"raw\"")).vm("web").orElseThrow();
        assertEquals(List.of(disk(Path.of("/var/vm/root.img"), DiskSpec.Format.AUTO),
                disk(Path.of("/var/vm/data.qcow2"), DiskSpec.Format.QCOW2),
                disk(Path.of("/var/vm/swap.img"), DiskSpec.Format.RAW)), vm.disks());
    }

    @Test
    void aVmWithoutDisksHasNone() {
        assertEquals(List.of(), fx.ok(fx.vm("web")).vm("web").orElseThrow().disks());
    }

    @Test
    void relativeDiskPathsAreTakenFromTheConfigurationsDirectoryAndNeedNotExistYet() {
        VmSpec vm = fx.ok(fx.vm("web", "disk \"images/../images/web.img\"")).vm("web").orElseThrow();
        assertEquals(List.of(disk(tmp.toAbsolutePath().resolve("images/web.img"), DiskSpec.Format.AUTO)), vm.disks());
    }

    @Test
    void macrosAndAdjacentStringsMakeTheDiskPath() {
        VmSpec vm = fx.ok("dir=\"/var/vm\"\n" + fx.vm("web", "disk $dir \"/web.img\" format raw")).vm("web").orElseThrow();
        assertEquals(List.of(disk(Path.of("/var/vm/web.img"), DiskSpec.Format.RAW)), vm.disks());
    }

    @Test
    void fourDisksAreTheLimit() {
        VmSpec vm = fx.ok(fx.vm("web", "disk a", "disk b", "disk c", "disk d")).vm("web").orElseThrow();
        assertEquals(4, vm.disks().size());
    }

    @Test
    void statusShowsTheFormatOnlyWhenConfigured() {
        assertEquals("/a.img", disk(Path.of("/a.img"), DiskSpec.Format.AUTO).toString());
        assertEquals("qcow2:/a.img", disk(Path.of("/a.img"), DiskSpec.Format.QCOW2).toString());
    }

    @Test
    void anInstanceInheritsItsParentsDisksOrReplacesThemAll() {
        Config c = fx.ok(fx.vm("base", "disk \"/var/vm/base.img\"", "disk \"/var/vm/data.img\"")
                + "vm base instance same {\n}\n"
                + "vm base instance own {\n disk \"/var/vm/own.img\" format raw\n}\n");
        assertEquals(c.vm("base").orElseThrow().disks(), c.vm("same").orElseThrow().disks());
        assertEquals(List.of(disk(Path.of("/var/vm/own.img"), DiskSpec.Format.RAW)), c.vm("own").orElseThrow().disks());
    }

    @Test
    void formatNamesAreVmds() {
        assertEquals(Optional.of(DiskSpec.Format.RAW), DiskSpec.Format.named("raw"));
        assertEquals(Optional.of(DiskSpec.Format.QCOW2), DiskSpec.Format.named("qcow2"));
        assertEquals(Optional.empty(), DiskSpec.Format.named(""));
        assertEquals(Optional.empty(), DiskSpec.Format.named("auto"));
    }
}
