package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Malformed configurations, each with the exact errors vmd-style: {@code file:line: message}.
 * In the texts, {@code @K@} stands for a kernel file that exists.
 */
class ConfigErrorsTest {
    @TempDir
    Path tmp;
    Fixture fx;

    @BeforeEach
    void setUp() {
        fx = new Fixture(tmp);
    }

    private static Arguments bad(String what, String conf, String... errors) {
        return Arguments.of(what, conf, List.of(errors));
    }

    static Stream<Arguments> malformed() {
        String vm = "vm \"a\" {\n boot \"@K@\"\n";
        return Stream.of(
                bad("unknown top-level word", "foo bar\n", "vm.conf:1: unknown keyword: foo"),
                bad("unknown keyword in a vm block", vm + " vcpu 2\n}\n", "vm.conf:3: unknown keyword: vcpu"),
                bad("unknown keyword in a switch block", "switch s {\n interface br0\n mtu 9000\n}\n",
                        "vm.conf:3: syntax error"),
                bad("option without its value", vm + " memory\n}\n", "vm.conf:3: syntax error"),
                bad("stray closing brace", "}\n", "vm.conf:1: syntax error"),
                bad("block without an opening brace", "vm \"a\"\n", "vm.conf:1: syntax error"),
                bad("two options on one line", vm + " vcpus 2 memory 1G\n}\n", "vm.conf:3: syntax error"),
                bad("unquoted keyword as a name", "vm memory {\n}\n", "vm.conf:1: syntax error"),
                bad("invalid memory size", vm + " memory 12X\n}\n", "vm.conf:3: invalid memory size: 12X"),
                bad("memory below a megabyte", vm + " memory 512K\n}\n",
                        "vm.conf:3: memory size must be at least 1MB"),
                bad("memory above 128G", vm + " memory 129G\n}\n",
                        "vm.conf:3: memory size too large (limit is 128G)"),
                bad("memory twice", vm + " memory 1G\n memory 2G\n}\n",
                        "vm.conf:4: memory specified more than once"),
                bad("zero vcpus", vm + " vcpus 0\n}\n", "vm.conf:3: invalid number of vcpus: 0"),
                bad("too many vcpus", vm + " vcpus 65\n}\n", "vm.conf:3: invalid number of vcpus: 65"),
                bad("vcpus twice", vm + " vcpus 1\n vcpus 2\n}\n", "vm.conf:4: vcpus specified more than once"),
                bad("number out of range", vm + " vcpus 99999999999999999999\n}\n",
                        "vm.conf:3: \"99999999999999999999\" invalid number: too large"),
                bad("duplicate vm name", vm + "}\n" + vm + "}\n", "vm.conf:4: duplicate vm name: a"),
                bad("duplicate switch name", "switch s { interface br0 }\nswitch s { interface br1 }\n",
                        "vm.conf:2: duplicate switch name: s"),
                bad("unknown switch", vm + " interface { switch \"uplink\" }\n}\n",
                        "vm.conf:3: unknown switch: uplink"),
                bad("bad lladdr", vm + " interface { lladdr fe:e1:zz:00:00:01 }\n}\n",
                        "vm.conf:3: invalid address: fe:e1:zz:00:00:01"),
                bad("multicast lladdr", vm + " interface { lladdr 01:00:5e:00:00:01 }\n}\n",
                        "vm.conf:3: invalid address: 01:00:5e:00:00:01 (multicast)"),
                bad("duplicate lladdr", vm + " interface { lladdr 2:0:0:0:0:1 }\n interface { lladdr 2:0:0:0:0:1 }\n}\n",
                        "vm.conf:4: duplicate lladdr: 02:00:00:00:00:01"),
                bad("local prefix with host bits", "local prefix 10.0.0.1/8\n",
                        "vm.conf:1: invalid local prefix: 10.0.0.1/8 (bad mask)"),
                bad("local prefix too long", "local prefix 10.0.0.0/24\n",
                        "vm.conf:1: invalid local prefix: 10.0.0.0/24 (prefix length too large)"),
                bad("local prefix not an address", "local prefix 300.1.0.0/16\n",
                        "vm.conf:1: invalid local prefix: 300.1.0.0/16 (invalid format)"),
                bad("inet6 prefix too long", "local inet6 prefix fd00::/80\n",
                        "vm.conf:1: invalid local inet6 prefix: fd00::/80 (prefix length too large)"),
                bad("inet6 prefix with host bits", "local inet6 prefix fd00::1/64\n",
                        "vm.conf:1: invalid local inet6 prefix: fd00::1/64 (bad mask)"),
                bad("inet6 prefix that is IPv4", "local inet6 prefix \"10.0.0.0/8\"\n",
                        "vm.conf:1: invalid local inet6 prefix: 10.0.0.0/8 (invalid format)"),
                bad("vm name too long", "vm " + "x".repeat(64) + " {\n boot \"@K@\"\n}\n",
                        "vm.conf:1: vm name too long"),
                bad("vm name starting with a dash", "vm \"-web\" {\n boot \"@K@\"\n}\n",
                        "vm.conf:1: invalid VM name: -web"),
                bad("vm name with a blank", "vm \"my vm\" {\n boot \"@K@\"\n}\n",
                        "vm.conf:1: invalid VM name: my vm"),
                bad("tap name longer than IFNAMSIZ", vm + " interface tap0123456789abcd\n}\n",
                        "vm.conf:3: interface name too long: tap0123456789abcd"),
                bad("tap name with a slash", vm + " interface \"tap/0\"\n}\n", "vm.conf:3: invalid interface: tap/0"),
                bad("duplicate tap name", vm + " interface tap5\n}\nvm b {\n boot \"@K@\"\n interface tap5\n}\n",
                        "vm.conf:7: duplicate interface name: tap5"),
                bad("undefined macro", vm + " memory $mem\n}\n", "vm.conf:3: macro 'mem' not defined"),
                bad("unterminated string", "vm \"a {\n boot x\n}\n",
                        "vm.conf:1: reached end of file while parsing quoted string"),
                bad("unterminated block", vm + " memory 1G\n", "vm.conf:1: missing '}' for vm \"a\""),
                bad("unterminated interface block", vm + " interface {\n up\n",
                        "vm.conf:3: missing '}' for interface", "vm.conf:1: missing '}' for vm \"a\""),
                bad("switch without interface", "switch s {\n locked lladdr\n}\n",
                        "vm.conf:3: switch \"s\" is missing interface name"),
                bad("switch interface too long", "switch s { interface bridge0123456789 }\n",
                        "vm.conf:1: switch interface too long: bridge0123456789"),
                bad("switch interface with a colon", "switch s { interface \"br:0\" }\n",
                        "vm.conf:1: invalid switch interface: br:0"),
                bad("group ending in a digit", "switch s {\n interface br0\n group vms1\n}\n",
                        "vm.conf:3: invalid group name: vms1"),
                bad("group iproute2 does not name", "switch s {\n interface br0\n group nosuch\n}\n",
                        "vm.conf:3: unknown interface group: nosuch (not a number, not named in groups)"),
                bad("interface group past u32", vm + " interface { group 4294967296 }\n}\n",
                        "vm.conf:3: invalid group name: 4294967296"),
                bad("five interfaces", vm + " interface\n interface\n interface\n interface\n interface\n}\n",
                        "vm.conf:7: too many interfaces: 5"),
                bad("interfaces count too large", vm + " interfaces 5\n}\n", "vm.conf:3: too many interfaces: 5"),
                bad("interfaces count twice", vm + " interfaces 1\n interfaces 2\n}\n",
                        "vm.conf:4: interfaces specified more than once"),
                bad("missing kernel", "vm \"a\" {\n boot \"/nonexistent/bzImage\"\n}\n",
                        "vm.conf:2: kernel path not found: /nonexistent/bzImage: No such file or directory"),
                bad("kernel twice", vm + " boot \"@K@\"\n}\n", "vm.conf:3: kernel specified more than once"),
                bad("kernel is a directory", "vm \"a\" {\n boot \"/\"\n}\n", "vm.conf:2: kernel is not a regular file: /"),
                bad("missing initrd", vm + " initrd \"nope.img\"\n}\n",
                        "vm.conf:3: initrd path not found: nope.img: No such file or directory"),
                bad("no boot kernel", "vm \"a\" {\n memory 1G\n}\n", "vm.conf:1: vm \"a\" has no boot kernel"),
                bad("cmdline too long", vm + " cmdline \"" + "x".repeat(2048) + "\"\n}\n",
                        "vm.conf:3: cmdline too long: 2048 bytes (limit is 2047)"),
                bad("unknown disk format", vm + " disk \"/var/vm/a.img\" format vmdk\n}\n",
                        "vm.conf:3: unrecognized disk format vmdk"),
                bad("disk format in capitals", vm + " disk \"/var/vm/a.img\" format \"RAW\"\n}\n",
                        "vm.conf:3: unrecognized disk format RAW"),
                bad("disk without a path", vm + " disk\n}\n", "vm.conf:3: syntax error"),
                bad("disk format without its word", vm + " disk \"/var/vm/a.img\" format\n}\n",
                        "vm.conf:3: syntax error"),
                bad("empty disk path", vm + " disk \"\"\n}\n", "vm.conf:3: disk path is empty"),
                bad("the same disk twice", vm + " disk \"/var/vm/a.img\"\n disk \"/var/vm/../vm/a.img\" format raw\n}\n",
                        "vm.conf:4: disk specified more than once: /var/vm/../vm/a.img"),
                bad("five disks", vm + " disk a\n disk b\n disk c\n disk d\n disk e\n}\n",
                        "vm.conf:7: too many disks (at most 4)"),
                bad("bad format and a bad vcpus in one block", vm + " disk x format qcow3\n vcpus 0\n}\n",
                        "vm.conf:3: unrecognized disk format qcow3", "vm.conf:4: invalid number of vcpus: 0"),
                bad("boot device", vm + " boot device cdrom\n}\n", "vm.conf:3: boot device is not supported on Linux"),
                bad("rdomain", vm + " interface { rdomain 1 }\n}\n", "vm.conf:3: rdomain is not supported on Linux"),
                bad("unknown offload feature", vm + " interface { offload csum gso }\n}\n",
                        "vm.conf:3: unknown offload feature: gso"),
                bad("tso without csum", vm + " interface { offload tso4 }\n}\n", "vm.conf:3: offload tso4 requires csum"),
                bad("ecn without tso", vm + " interface { offload csum ecn }\n}\n",
                        "vm.conf:3: offload ecn requires tso4 or tso6"),
                bad("offload twice", vm + " interface { offload on\n offload off }\n}\n",
                        "vm.conf:4: offload specified more than once"),
                bad("mtu too small", vm + " interface { mtu 67 }\n}\n", "vm.conf:3: invalid mtu: 67"),
                bad("local interface on a switch", "switch s { interface br0 }\n" + vm + " local interface { switch s }\n}\n",
                        "vm.conf:4: a local interface cannot join a switch"),
                bad("unknown user", vm + " owner nosuchuser\n}\n", "vm.conf:3: failed to get user: nosuchuser"),
                bad("unknown group", "socket owner joe:nosuchgroup\n", "vm.conf:1: failed to get group: nosuchgroup"),
                bad("zero parallelism", "staggered start parallel 0 delay 30\n", "vm.conf:1: invalid parallelism: 0"),
                bad("negative delay", "staggered start parallel 2 delay -1\n", "vm.conf:1: invalid delay: -1"),
                bad("instance of an unknown vm", "vm base instance copy {\n memory 1G\n}\n",
                        "vm.conf:1: unknown template vm: base"),
                bad("instance setting its own policy", vm + "}\nvm a instance b {\n allow instance memory\n}\n",
                        "vm.conf:4: vm \"b\" cannot change instance permissions"),
                bad("instance owned by another user", vm + " owner joe\n}\nvm a instance b {\n owner ann\n}\n",
                        "vm.conf:5: vm \"b\" user mismatch"),
                bad("instance reusing a tap name", vm + " interface tap9\n}\nvm a instance b {\n interface tap9\n}\n",
                        "vm.conf:5: vm \"b\" interface tap9 cannot be reused"),
                bad("instance reusing its parent's lladdr",
                        vm + " interface { lladdr 2:0:0:0:0:9 }\n}\nvm a instance b {\n interface { lladdr 2:0:0:0:0:9 }\n}\n",
                        "vm.conf:5: vm \"b\" lladdr cannot be reused"),
                bad("invalid macro name", "my-var=\"x\"\n", "vm.conf:1: invalid macro name: my-var"),
                bad("macro name with a blank", "\"a b\"=\"x\"\n", "vm.conf:1: macro name cannot contain whitespace"),
                bad("include of a missing file", "include \"nope.conf\"\n", "vm.conf:1: failed to include file nope.conf"),
                bad("agentx", "agentx context \"x\"\n", "vm.conf:1: agentx is not supported on Linux"),
                bad("errors are collected in reading order",
                        "foo\n" + vm + " memory 12X\n vcpus 0\n}\nvm \"b\" {\n}\nbar\n",
                        "vm.conf:1: unknown keyword: foo", "vm.conf:4: invalid memory size: 12X",
                        "vm.conf:5: invalid number of vcpus: 0", "vm.conf:7: vm \"b\" has no boot kernel",
                        "vm.conf:9: unknown keyword: bar"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void malformedConfigurationReportsExactErrors(String what, String conf, List<String> expected) {
        assertEquals(expected, fx.errors(conf.replace("@K@", fx.kernel.toString())), what);
    }

    @Test
    void malformedConfigurationYieldsNoConfiguration() {
        ParseResult r = fx.parse("vm a {\n vcpus 0\n}\n");
        assertEquals(java.util.Optional.empty(), r.config());
    }

    @Test
    void aBrokenOptionDoesNotHideTheRestOfTheBlock() {
        fx.fails("vm \"a\" {\n boot \"" + fx.kernel + "\"\n memory { 1G }\n vcpus 0\n vcpus 2\n}\n",
                "vm.conf:3: syntax error", "vm.conf:4: invalid number of vcpus: 0",
                "vm.conf:5: vcpus specified more than once");
    }

    @Test
    void aBrokenVmHeaderSkipsTheWholeBlock() {
        fx.fails("vm \"a\" = {\n memory 1G\n vcpus 2\n}\nvm \"c\" {\n boot \"" + fx.kernel + "\"\n vcpus 0\n}\n",
                "vm.conf:1: syntax error", "vm.conf:7: invalid number of vcpus: 0");
    }
}
