package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** etc/vm.conf, the example shipped with jvmd, is a valid configuration. */
class ExampleConfigTest {
    @TempDir
    Path tmp;

    private static Path example() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path p = d.resolve("etc/vm.conf");
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new AssertionError("etc/vm.conf not found above " + Path.of("").toAbsolutePath());
    }

    @Test
    void exampleIsOkWithTheGuestPathsGivenOnTheCommandLine() {
        Fixture fx = new Fixture(tmp);
        ConfigParser p = new ConfigParser(fx.env(Map.of(
                "guest_kernel", fx.kernel.toString(), "guest_initrd", fx.initrd.toString())));
        ParseResult r = p.parseFile(example());
        assertEquals("configuration OK\n", r.noActionOutput());
        Config c = r.config().orElseThrow();
        assertEquals(List.of("uplink"), c.switches().stream().map(SwitchSpec::name).toList());
        VmSpec demo = c.vm("demo").orElseThrow();
        assertEquals(2, demo.vcpus());
        assertEquals(fx.kernel, demo.kernel());
        assertEquals(Optional.of(fx.initrd), demo.initrd());
        assertTrue(demo.interfaces().get(0).local());
        assertEquals(Optional.of("uplink"), demo.interfaces().get(1).switchName());
        assertTrue(demo.interfaces().get(1).locked());
        VmSpec demo2 = c.vm("demo2").orElseThrow();
        assertEquals(1L << 30, demo2.memoryBytes());
        assertFalse(demo2.enabled());
        assertEquals(2, demo2.interfaces().size());
    }

    @Test
    void exampleWithoutTheGuestNamesTheMissingKernel() {
        Fixture fx = new Fixture(tmp);
        ParseResult r = fx.parser().parseFile(example());
        assertTrue(r.errors().stream().anyMatch(e -> e.message().startsWith("kernel path not found: ")
                || e.message().startsWith("kernel is not")), r::noActionOutput);
        assertEquals(1, r.exitCode());
    }
}
