package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example etc/vm.conf (issue 11): in a checkout where scripts/test-guest has built the
 * guest into guest/cache/, it checks OK as it is; without the guest, the missing files are
 * the only errors, with no follow-on error about the instance of the VM that failed.
 */
class ExampleConfigTest {
    @TempDir
    Path checkout;

    /** etc/vm.conf of this source tree (the tests run in the module's directory). */
    private static Path example() {
        Path p = Path.of(System.getProperty("user.dir")).getParent().resolve("etc/vm.conf");
        assertTrue(Files.isRegularFile(p), p.toString());
        return p;
    }

    private ParseResult check(Path conf) {
        return new ConfigParser(new ConfigEnvironment(Fixture.ACCOUNTS, LladdrGenerator.secure(), 4, Map.of()))
                .parseFile(conf);
    }

    private Path copyExample() throws IOException {
        Path conf = checkout.resolve("etc/vm.conf");
        Files.createDirectories(conf.getParent());
        Files.copy(example(), conf);
        return conf;
    }

    @Test
    void theExampleChecksOkOnceScriptsTestGuestHasBuiltTheGuestIntoGuestCache() throws IOException {
        Path conf = copyExample();
        Path cache = Files.createDirectories(checkout.resolve("guest/cache"));
        Files.writeString(cache.resolve("vmlinuz"), "kernel");        // scripts/test-guest's kernel_out
        Files.writeString(cache.resolve("initramfs.gz"), "initramfs"); // and initrd_out
        ParseResult r = check(conf);
        assertTrue(r.ok(), () -> r.errors().toString());
        assertEquals(List.of("demo", "demo2"), r.config().orElseThrow().vms().stream().map(VmSpec::name).toList());
    }

    @Test
    void withoutTheGuestOnlyTheMissingFilesAreReportedNotTheInstanceOfTheFailedVm() throws IOException {
        Path conf = copyExample();
        List<String> errors = check(conf).errors().stream().map(ConfigError::message).toList();
        assertEquals(2, errors.size(), errors::toString);
        assertTrue(errors.get(0).startsWith("kernel path not found: "), errors::toString);
        assertTrue(errors.get(1).startsWith("initrd path not found: "), errors::toString);
    }

    @Test
    void anInstanceOfAVmWithErrorsGetsNoFollowOnErrorButAnUnknownTemplateStillDoes() {
        Fixture fx = new Fixture(checkout);
        List<String> errors = fx.errors("vm \"a\" {\n\tboot \"/nonexistent/kernel\"\n}\n"
                + "vm \"a\" instance \"b\" {\n}\n"
                + "vm \"b\" instance \"c\" {\n}\n"
                + "vm \"nobody\" instance \"d\" {\n}\n");
        assertEquals(List.of(
                "vm.conf:2: kernel path not found: /nonexistent/kernel: No such file or directory",
                "vm.conf:8: unknown template vm: nobody"), errors);
    }
}
