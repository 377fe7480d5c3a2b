package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code include} and macros, with real files in a temporary directory. */
class IncludeAndMacroTest {
    @TempDir
    Path tmp;
    Fixture fx;

    @BeforeEach
    void setUp() {
        fx = new Fixture(tmp);
    }

    private static List<String> errors(ParseResult r) {
        return r.errors().stream().map(ConfigError::toString).toList();
    }

    @Test
    void includeIsRelativeToTheIncludingFilesDirectory() {
        fx.write("etc/vms/web.conf", "vm web {\n boot \"../../bzImage\"\n memory 1G\n}\n");
        Path main = fx.write("etc/vm.conf", "include \"vms/web.conf\"\nvm db {\n boot \"../bzImage\"\n}\n");
        Config c = fx.parser().parseFile(main).config().orElseThrow();
        assertEquals(List.of("web", "db"), c.vms().stream().map(VmSpec::name).toList());
        assertEquals(1L << 30, c.vm("web").orElseThrow().memoryBytes());
        assertEquals(fx.kernel, c.vm("web").orElseThrow().kernel());
    }

    @Test
    void errorsInAnIncludedFileNameThatFileAndItsLine() {
        fx.write("etc/vms/web.conf", "# web\nvm web {\n boot \"../../bzImage\"\n vcpus 0\n}\n");
        Path main = fx.write("etc/vm.conf", "include \"vms/web.conf\"\nfoo\n");
        ParseResult r = fx.parser().parseFile(main);
        assertEquals(List.of(tmp.resolve("etc/vms/web.conf") + ":4: invalid number of vcpus: 0",
                main + ":2: unknown keyword: foo"), errors(r));
    }

    @Test
    void includedFileNamesFollowTheIncludingFilesName() {
        fx.write("sub.conf", "vm x {\n boot bzImage\n memory 1X\n}\n");
        assertEquals(List.of("sub.conf:3: invalid memory size: 1X", "vm.conf:2: unknown keyword: bar"),
                fx.errors("include \"sub.conf\"\nbar\n"));
    }

    @Test
    void absoluteIncludeIsNamedAsWritten() {
        Path sub = fx.write("abs.conf", "oops\n");
        assertEquals(List.of(sub + ":1: unknown keyword: oops"), fx.errors("include \"" + sub + "\"\n"));
    }

    @Test
    void nestedIncludesResolveFromEachFile() {
        fx.write("a/b/c.conf", "vm deep {\n boot \"../../bzImage\"\n}\n");
        fx.write("a/b.conf", "include \"b/c.conf\"\n");
        assertEquals("deep", fx.ok("include \"a/b.conf\"\n").vms().getFirst().name());
    }

    @Test
    void lastLineOfAnIncludedFileNeedsNoNewline() {
        fx.write("last.conf", "vm a {\n boot \"bzImage\"\n}");
        fx.write("bad.conf", "vm b {\n boot \"bzImage\"\n vcpus 0 }");
        assertEquals("a", fx.ok("include \"last.conf\"").vms().getFirst().name());
        assertEquals(List.of("bad.conf:3: invalid number of vcpus: 0", "vm.conf:2: unknown keyword: x"),
                fx.errors("include \"bad.conf\"\nx\n"));
    }

    @Test
    void includeLoopIsDetected() {
        Path a = fx.write("a.conf", "include \"b.conf\"\n");
        fx.write("b.conf", "include \"a.conf\"\n");
        assertEquals(List.of(tmp.resolve("b.conf") + ":1: include loop: a.conf"), errors(fx.parser().parseFile(a)));
    }

    @Test
    void selfIncludeIsALoop() {
        Path self = fx.write("self.conf", "\n\ninclude \"self.conf\"\n");
        assertEquals(List.of(self + ":3: include loop: self.conf"), errors(fx.parser().parseFile(self)));
    }

    @Test
    void anUnterminatedBlockEndsWithItsFile() {
        fx.write("open.conf", "vm a {\n boot \"bzImage\"\n");
        assertEquals(List.of("open.conf:1: missing '}' for vm \"a\"", "vm.conf:2: syntax error"),
                fx.errors("include \"open.conf\"\n}\n"));
    }

    @Test
    void includeOfADirectoryFails() {
        fx.write("d/x", "");
        assertEquals(List.of("vm.conf:1: failed to include file d"), fx.errors("include d\n"));
    }

    @Test
    void macrosDefinedInAnIncludedFileAreVisibleAfterIt() {
        fx.write("defs.conf", "mem=\"2G\"\nkern=\"bzImage\"\n");
        Config c = fx.ok("include \"defs.conf\"\nvm a {\n boot $kern\n memory $mem\n}\n");
        assertEquals(2L << 30, c.vms().getFirst().memoryBytes());
    }

    @Test
    void commandLineMacrosTakePrecedenceOverTheFile() {
        ConfigParser p = new ConfigParser(fx.env(Map.of("mem", "2G")));
        ParseResult r = p.parse("vm.conf", "mem=\"1G\"\n" + fx.vm("a", "memory $mem"), tmp);
        assertEquals(2L << 30, r.config().orElseThrow().vms().getFirst().memoryBytes());
    }

    @Test
    void commandLineMacrosNeedNoDefinitionInTheFile() {
        ConfigParser p = new ConfigParser(fx.env(Map.of("k", fx.kernel.toString())));
        ParseResult r = p.parse("vm.conf", "vm a {\n boot $k\n}\n", tmp);
        assertEquals(fx.kernel, r.config().orElseThrow().vms().getFirst().kernel());
    }

    @Test
    void aMacroMayExpandToSeveralTokens() {
        Config c = fx.ok("opts=\"memory 1G\"\n" + fx.vm("a", "$opts"));
        assertEquals(1L << 30, c.vms().getFirst().memoryBytes());
    }

    @Test
    void macrosWorkAsNamesAndConcatenateWithAdjacentStrings() {
        Config c = fx.ok("name=\"web\"\ndir=\"" + tmp + "\"\nvm $name {\n boot $dir \"/bzImage\"\n}\n");
        assertEquals(fx.kernel, c.vm("web").orElseThrow().kernel());
    }

    @Test
    void macrosAreNotExpandedInsideQuotes() {
        Config c = fx.ok("x=\"1\"\n" + fx.vm("a", "cmdline \"$x\"", "vcpus $x"));
        assertEquals("$x", c.vms().getFirst().cmdline());
    }

    @Test
    void aLaterDefinitionReplacesAnEarlierOne() {
        Config c = fx.ok("m=\"1G\"\nm=\"3G\"\n" + fx.vm("a", "memory $m"));
        assertEquals(3L << 30, c.vms().getFirst().memoryBytes());
    }

    @Test
    void aMacroExpandingToItselfIsNotExpandedAgain() {
        assertEquals(List.of("vm.conf:4: syntax error"), fx.errors("a=\"$a\"\n" + fx.vm("x", "memory $a")));
    }

    @Test
    void unusedMacrosAreWarnedAbout() {
        ParseResult r = fx.parse("unused=\"1\"\nused=\"2\"\n" + fx.vm("a", "vcpus $used"));
        assertEquals(List.of("macro 'unused' not used"), r.warnings());
        assertEquals("warning: macro 'unused' not used\nconfiguration OK\n", r.noActionOutput());
    }

    @Test
    void macroValuesMayBeNumbers() {
        assertEquals(3, fx.ok("n=3\n" + fx.vm("a", "vcpus $n")).vms().getFirst().vcpus());
    }

    @Test
    void undefinedMacroSkipsTheRestOfItsLine() {
        assertEquals(List.of("vm.conf:3: macro 'nope' not defined"), fx.errors(fx.vm("a", "vcpus $nope 1 2 3")));
    }

    @Test
    void defineArgumentsSplitAtTheLastEquals() {
        assertEquals(Map.entry("a=b", "c"), ConfigEnvironment.parseDefine("a=b=c"));
        assertEquals(Map.entry("k", ""), ConfigEnvironment.parseDefine("k="));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConfigEnvironment.parseDefine("novalue"));
        assertEquals("could not parse macro definition novalue", e.getMessage());
    }

    @Test
    void continuationInsideACommentContinuesTheComment() {
        Config c = fx.ok("# vcpus \\\nfoo bar\n" + fx.vm("a"));
        assertTrue(c.vm("a").isPresent());
    }
}
