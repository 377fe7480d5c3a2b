package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** vmd's command line through picocli: getopt's rules and words, jvmd's long options, --help. */
class VmdArgsTest {
    static final PrintStream SINK = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);

    static Vmd.Options parse(String... args) throws VmdArgs.UsageError {
        return Vmd.parse(args, SINK);
    }

    static String refusal(String... args) {
        return assertThrows(VmdArgs.UsageError.class, () -> parse(args)).getMessage();
    }

    @Test
    void defaultsAreVmdsAndJvmdsOwn() throws Exception {
        Vmd.Options o = parse();
        assertEquals(false, o.foreground());
        assertEquals(false, o.noAction());
        assertEquals(0, o.verbose());
        assertEquals(Map.of(), o.defines());
        assertEquals(Vmd.DEFAULT_CONFIG, o.config());
        assertEquals(Vmd.DEFAULT_SOCKET, o.socket());
        assertEquals("", o.user());
        assertEquals("", o.chroot());
        assertNull(o.consoleLogDir());
    }

    @Test
    void flagsClusterAndValuesAttachAsWithGetopt() throws Exception {
        Vmd.Options o = parse("-dvv", "-Dmem=1G", "-D", "cpus=2", "-f/etc/x.conf", "-s", "/run/x.sock");
        assertTrue(o.foreground());
        assertEquals(2, o.verbose());
        assertEquals(Map.of("mem", "1G", "cpus", "2"), o.defines());
        assertEquals(Path.of("/etc/x.conf"), o.config());
        assertEquals(Path.of("/run/x.sock"), o.socket());
        o = parse("-nf", "a.conf");
        assertTrue(o.noAction());
        assertEquals(Path.of("a.conf"), o.config());
        assertEquals(Path.of("b.conf"), parse("-f", "a.conf", "-f", "b.conf").config(), "the last one counts");
        assertEquals(Map.of("m", "2"), parse("-D", "m=1", "-D", "m=2").defines());
    }

    @Test
    void operatorSettingsAreLongOptions() throws Exception {
        Vmd.Options o = parse("--user", "vmuser", "--chroot", "/var/empty2", "--console-log-dir", "/var/log/vmd",
                "--shutdown-timeout", "5", "--stop-timeout", "7", "--ready-timeout", "300");
        assertEquals("vmuser", o.user());
        assertEquals("/var/empty2", o.chroot());
        assertEquals(Path.of("/var/log/vmd"), o.consoleLogDir());
        assertEquals(5_000, o.shutdownTimeoutMs());
        assertEquals(7_000, o.stopTimeoutMs());
        assertEquals(300_000, o.readyTimeoutMs());
    }

    @Test
    void theWarmPoolIsOneVmmProcUnlessWarmPoolSays() throws Exception {
        assertEquals(Vmd.DEFAULT_WARM_POOL, parse().warmPool());
        assertEquals(0, Vmd.DEFAULT_WARM_POOL, "off unless asked: a member waits unconfined");
        assertEquals(0, parse("--warm-pool", "0").warmPool(), "0: off");
        assertEquals(3, parse("--warm-pool", "2", "--warm-pool", "3").warmPool(), "the last one counts");
        assertEquals("invalid warm pool size: -1 (0..64)", refusal("--warm-pool", "-1"));
        assertEquals("invalid warm pool size: 65 (0..64)", refusal("--warm-pool", "65"));
        assertEquals("option requires an argument -- --warm-pool", refusal("--warm-pool"));
    }

    @Test
    void badCommandLinesAreGetoptsWords() {
        assertEquals("unknown option -- x", refusal("-x"));
        assertEquals("unknown option -- x", refusal("-dx"));
        assertEquals("option requires an argument -- f", refusal("-f"));
        assertEquals("option requires an argument -- s", refusal("-d", "-s"));
        assertEquals("unknown option -- frobnicate", refusal("--frobnicate"));
        assertEquals("", refusal("extra"));
        assertEquals("", refusal("--", "extra"));
        assertTrue(refusal("--shutdown-timeout", "soon").contains("soon"), refusal("--shutdown-timeout", "soon"));
        assertEquals("invalid timeout: -1", refusal("--stop-timeout", "-1"));
        assertTrue(!refusal("-D", "novalue").isEmpty());
    }

    @Test
    void badCommandLinesEndWithVmdsUsageAndStatus1() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Vmd.run(new String[] {"-x"}, SINK, new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(1, status);
        assertEquals("vmd: unknown option -- x\n" + Vmd.USAGE + "\n", err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void helpListsEveryOptionOnStdoutWithStatus0() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Vmd.run(new String[] {"--help"}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, status);
        assertEquals("", err.toString(StandardCharsets.UTF_8));
        String help = out.toString(StandardCharsets.UTF_8);
        assertTrue(help.startsWith(Vmd.USAGE + "\n"), help);
        for (String o : new String[] {"-d", "-n", "-v", "-D", "-f", "-s", "--user", "--chroot", "--console-log-dir",
                "--shutdown-timeout", "--stop-timeout", "--ready-timeout", "--warm-pool", "--help"}) {
            assertTrue(help.contains("  " + o + " ") || help.contains("  " + o + "\n") || help.contains(", " + o),
                    o + " in:\n" + help);
        }
    }
}
