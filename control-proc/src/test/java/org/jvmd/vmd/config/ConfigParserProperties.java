package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Whatever the text, the parser answers with a result: no exception, no hang, every error in
 * the {@code file:line: message} form; and generated valid configurations parse to exactly
 * what they say.
 */
class ConfigParserProperties {
    private static final Pattern ERROR = Pattern.compile("[^\\n]*:[1-9][0-9]*: [^\\n]+|failed to open [^\\n]+");
    private static final Duration LIMIT = Duration.ofSeconds(10);
    private static Path dir;
    private static ConfigParser parser;

    @BeforeContainer
    static void setUp() throws IOException {
        dir = Files.createTempDirectory("jvmd-conf-props");
        Files.writeString(dir.resolve("bzImage"), "k");
        Files.writeString(dir.resolve("loop.conf"), "include \"loop.conf\"\n");
        Files.writeString(dir.resolve("inc.conf"), "m=\"1G\"\nvm inc {\n boot bzImage\n");
        parser = new ConfigParser(new ConfigEnvironment(Fixture.ACCOUNTS, LladdrGenerator.vmd(new java.util.Random(3)),
                2, Map.of("d", "1G")));
    }

    @AfterContainer
    static void tearDown() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    private static ParseResult parse(String text) {
        ParseResult r = assertTimeoutPreemptively(LIMIT, () -> parser.parse("fuzz.conf", text, dir));
        for (ConfigError e : r.errors()) {
            assertTrue(ERROR.matcher(e.toString()).matches(), e::toString);
        }
        return r;
    }

    @Property(tries = 1000)
    void arbitraryTextYieldsAResult(@ForAll String text) {
        parse(text);
    }

    @Property(tries = 1000)
    void textFromTheConfigurationAlphabetYieldsAResult(@ForAll("configChars") String text) {
        parse(text);
    }

    @Provide
    Arbitrary<String> configChars() {
        return Arbitraries.strings().withChars("{}=,;\"'\\#$ \n\t/:.-_vmbotincldeu0129GMK\0").ofMaxLength(400);
    }

    private static final List<String> WORDS = List.of(
            "vm", "switch", "include", "local", "prefix", "inet6", "socket", "owner", "staggered", "start",
            "parallel", "delay", "memory", "vcpus", "boot", "initrd", "cmdline", "interface", "interfaces", "lladdr",
            "locked", "up", "down", "group", "offload", "mtu", "enable", "disable", "allow", "instance", "disk",
            "cdrom", "device", "rdomain", "format", "raw", "qcow2", "\"/var/vm/a.img\"", "agentx", "sev", "on", "off", "csum", "tso4", "ecn", "uso",
            "{", "}", "=", ",", ";", "\n", "\n", "\n", "\\\n", "#", "$m", "$d", "$undefined", "m=\"memory 1G\"",
            "\"web\"", "web", "'x y'", "\"", "'", "512M", "12X", "0", "-1", "4", "65", "99999999999999999999",
            "fe:e1:bb:d1:00:01", "01:00:5e:00:00:01", "zz:zz", "100.64.0.0/10", "10.0.0.1/8", "fd00::/48",
            "joe:wheel", ":vmusers", "nobody", "br0", "tap0", "tap0123456789abcdef", "\"bzImage\"", "\"/\"",
            "\"nope\"", "include \"loop.conf\"", "include \"inc.conf\"", "include \"nope.conf\"", "\0", "\u00e9");

    @Provide
    Arbitrary<String> tokenSoup() {
        return Arbitraries.of(WORDS).list().ofMaxSize(80)
                .map(ws -> String.join(" ", ws));
    }

    @Property(tries = 2000)
    void soupsOfConfigurationTokensYieldAResult(@ForAll("tokenSoup") String text) {
        parse(text);
    }

    /** A valid vm block with random values, and the values it must produce. */
    record Generated(String text, String name, long memoryMb, int vcpus, int interfaces, boolean disabled) {
    }

    @Provide
    Arbitrary<Generated> validVm() {
        Arbitrary<String> names = Arbitraries.strings().withCharRange('a', 'z').numeric().withChars("-._")
                .ofMinLength(1).ofMaxLength(63).filter(n -> Names.vmNameError(n).isEmpty());
        return Combinators.combine(names, Arbitraries.longs().between(1, 128 * 1024), Arbitraries.integers().between(1, 64),
                Arbitraries.integers().between(0, 4), Arbitraries.of(true, false), Arbitraries.of("\n", ";", "\n\n  "))
                .as((name, mb, cpus, ifs, off, sep) -> {
                    StringBuilder b = new StringBuilder("vm \"" + name + "\" {" + sep + "boot bzImage" + sep);
                    b.append("memory ").append(mb).append('M').append(sep);
                    b.append("vcpus ").append(cpus).append(sep);
                    for (int i = 0; i < ifs; i++) {
                        b.append("interface { up }").append(sep);
                    }
                    b.append(off ? "disable" : "enable").append(sep).append("}\n");
                    return new Generated(b.toString(), name, mb, cpus, ifs, off);
                });
    }

    @Property(tries = 300)
    void generatedValidVmParsesToWhatItSays(@ForAll("validVm") Generated g) {
        ParseResult r = parse(g.text());
        assertTrue(r.ok(), () -> r.errors() + " in\n" + g.text());
        VmSpec vm = r.config().orElseThrow().vms().getFirst();
        assertEquals(g.name(), vm.name());
        assertEquals(g.memoryMb() << 20, vm.memoryBytes());
        assertEquals(g.vcpus(), vm.vcpus());
        assertEquals(g.interfaces(), vm.interfaces().size());
        assertEquals(!g.disabled(), vm.enabled());
        assertEquals(g.interfaces(), vm.interfaces().stream().map(InterfaceSpec::lladdr).distinct().count());
    }

    @Property(tries = 200)
    void errorsNeverPointPastTheEndOfTheText(@ForAll("tokenSoup") String text) {
        ParseResult r = parse(text);
        long lines = text.chars().filter(c -> c == '\n').count() + 1;
        for (ConfigError e : r.errors()) {
            if (e.file().equals("fuzz.conf")) {
                assertTrue(e.line() >= 1 && e.line() <= lines, () -> e + " in " + lines + " lines: "
                        + Arrays.toString(text.split("\n")));
            }
        }
    }

    /** Up to four disks with random names and formats, and what each must become. */
    @Provide
    Arbitrary<List<DiskSpec>> disks() {
        Arbitrary<String> names = Arbitraries.strings().withCharRange('a', 'z').numeric().withChars("-._")
                .ofMinLength(1).ofMaxLength(40).filter(n -> !n.equals(".") && !n.equals(".."));
        Arbitrary<DiskSpec> one = Combinators.combine(names, Arbitraries.of(DiskSpec.Format.values()))
                .as((n, f) -> DiskSpec.of(Path.of("/var/vm", n + ".img"), f));
        return one.list().ofMaxSize(DiskSpec.MAX_DISKS).uniqueElements(DiskSpec::path);
    }

    @Property(tries = 300)
    void disksParseInOrderToWhatTheySay(@ForAll("disks") List<DiskSpec> disks) {
        StringBuilder b = new StringBuilder("vm \"d\" {\n boot bzImage\n");
        for (DiskSpec d : disks) {
            b.append(" disk \"").append(d.path()).append('"');
            if (d.format() != DiskSpec.Format.AUTO) {
                b.append(" format ").append(d.format().word);
            }
            b.append('\n');
        }
        ParseResult r = parse(b.append("}\n").toString());
        assertTrue(r.ok(), () -> r.errors() + " in\n" + b);
        assertEquals(disks, r.config().orElseThrow().vms().getFirst().disks());
    }

    @Property(tries = 300)
    void anyOtherFormatWordIsRefusedOnItsLine(@ForAll("formatWords") String word, @ForAll int blankLines) {
        int before = Math.floorMod(blankLines, 5);
        String text = "vm \"d\" {\n boot bzImage\n" + "\n".repeat(before) + " disk \"/a.img\" format \"" + word
                + "\"\n}\n";
        ParseResult r = parse(text);
        assertEquals(List.of("fuzz.conf:" + (3 + before) + ": unrecognized disk format " + word),
                r.errors().stream().map(ConfigError::toString).toList());
    }

    @Provide
    Arbitrary<String> formatWords() {
        return Arbitraries.strings().withCharRange('a', 'z').numeric().ofMinLength(1).ofMaxLength(12)
                .filter(w -> !w.equals("raw") && !w.equals("qcow2"));
    }
}
