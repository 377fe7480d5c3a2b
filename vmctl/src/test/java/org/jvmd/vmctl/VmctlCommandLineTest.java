package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command's parsing through its picocli model: prefixes, clustered options, vmctl's
 * (getopt's) error words and exit codes, help. No daemon: a command that parsed reaches the
 * missing socket, whose connect error proves it ran.
 */
class VmctlCommandLineTest {
    @TempDir
    Path dir;

    String sock() {
        return dir.resolve("none.sock").toString();
    }

    Vmctl.Result vmctl(String... args) {
        return VmctlRun.inJvm(args);
    }

    /** vmctl -s SOCK args...: parsed, and sent to the missing socket. */
    void reachesVmd(String... args) {
        Vmctl.Result r = vmctl(Stream.concat(Stream.of("-s", sock()), Stream.of(args)).toArray(String[]::new));
        assertEquals(1, r.status(), String.join(" ", args) + ": " + r.err());
        assertTrue(r.err().endsWith("vmctl: connect: " + sock() + ": No such file or directory\n"),
                String.join(" ", args) + ": " + r.err());
    }

    /** vmctl -s SOCK args...: refused with exactly {@code err} and status 1. */
    void refused(String err, String... args) {
        Vmctl.Result r = vmctl(Stream.concat(Stream.of("-s", sock()), Stream.of(args)).toArray(String[]::new));
        assertEquals(1, r.status(), String.join(" ", args));
        assertEquals(err, r.err(), String.join(" ", args));
        assertEquals("", r.out(), String.join(" ", args));
    }

    static String usage(String cmd) {
        VmctlCommand c = Vmctl.COMMANDS.stream().filter(x -> x.name().equals(cmd)).findFirst().orElseThrow();
        return "usage:\tvmctl [-v] [-s socket] " + cmd + " " + c.usage() + "\n";
    }

    @Test
    void everyCommandParsesThroughItsModel() {
        reachesVmd("console", "web");
        reachesVmd("load", "vm.conf");
        reachesVmd("log", "verbose");
        reachesVmd("pause", "1");
        reachesVmd("reload");
        reachesVmd("reset", "vms");
        reachesVmd("show", "-r", "web");
        reachesVmd("start", "web");
        reachesVmd("stats", "web");
        reachesVmd("status", "-r");
        reachesVmd("stop", "-fw", "web");
        reachesVmd("unpause", "web");
        reachesVmd("wait", "web");
    }

    @Test
    void everyUniquePrefixOfEveryCommandSelectsIt() {
        Vmctl v = new Vmctl(System.in, System.out, System.err);
        for (VmctlCommand c : Vmctl.COMMANDS) {
            for (int n = 1; n <= c.name().length(); n++) {
                String p = c.name().substring(0, n);
                long others = Vmctl.COMMANDS.stream()
                        .filter(o -> o != c && o.name().startsWith(p) && (c.added() || !o.added())).count();
                if (others == 0) {
                    assertEquals(c.name(), v.lookup(p).name(), p);
                }
            }
        }
    }

    @Test
    void ambiguousAndUnknownWordsAreVmctlsErrorsWithItsUsage() {
        for (String p : new String[] {"s", "st", "sta", "re", "lo", "c", ""}) {
            Vmctl.Result r = vmctl(p);
            assertEquals(1, r.status(), p);
            assertEquals("ambiguous argument: " + p + "\n" + Vmctl.usageText(), r.err(), p);
        }
        Vmctl.Result r = vmctl("stopp");
        assertEquals(1, r.status());
        assertEquals("unknown argument: stopp\n" + Vmctl.usageText(), r.err());
        // jvmd's own commands never make vmctl's prefixes ambiguous, and answer to their own
        assertEquals("status", new Vmctl(System.in, System.out, System.err).lookup("stat").name());
        assertEquals("help", new Vmctl(System.in, System.out, System.err).lookup("h").name());
    }

    @Test
    void clusteredAndAttachedOptionsAsGetopt() throws Exception {
        reachesVmd("stop", "-f", "-w", "web");
        reachesVmd("stop", "-wf", "web");
        reachesVmd("stop", "-afw");
        reachesVmd("sto", "web", "-fw");
        reachesVmd("start", "-cL", "-m1G", "web");
        reachesVmd("start", "-Lm", "512M", "-i1", "web");
        reachesVmd("start", "-Lcm512M", "web");
        reachesVmd("status", "-rr");
        // vmctl's own options clustered and attached, before the command
        Vmctl.Result r = vmctl("-vs" + sock(), "status");
        assertEquals("vmctl: connect: " + sock() + ": No such file or directory\n", r.err());
        r = vmctl("-v", "-s", sock(), "status");
        assertEquals("vmctl: connect: " + sock() + ": No such file or directory\n", r.err());
        // after --, a word that looks like an option is an operand (a VM named -r)
        refused("vmctl: connect: " + sock() + ": No such file or directory\n", "status", "--", "-r");
        // the last of a repeated option counts, as with getopt
        String k = java.nio.file.Files.writeString(dir.resolve("k"), "").toString();
        refused("vmctl: cannot open kernel 'nokernel': No such file or directory\n",
                "start", "-b", k, "-b", "nokernel", "web");
    }

    @Test
    void badOptionsAreGetoptsWordsThenTheCommandsUsage() {
        refused("vmctl: unknown option -- x\n" + usage("stop"), "stop", "-x", "web");
        refused("vmctl: unknown option -- x\n" + usage("stop"), "stop", "-fx", "web");
        refused("vmctl: unknown option -- a\n" + usage("status"), "status", "-ra");
        refused("vmctl: unknown option -- r\n" + usage("pause"), "pause", "-r", "web");
        refused("vmctl: option requires an argument -- m\n" + usage("start"), "start", "web", "-m");
        refused("vmctl: option requires an argument -- s\n" + usage("create"), "create", "disk.img", "-s");
        refused(usage("pause"), "pause");
        refused(usage("pause"), "pause", "a", "b");
        refused(usage("reload"), "reload", "now");
        refused(usage("load"), "load");
        refused(usage("status"), "status", "a", "b");
        refused(usage("stop"), "stop", "-a", "web");
        refused(usage("wait"), "wait");
        refused(usage("stats"), "stats");
        refused(usage("console"), "console");
        refused(usage("log"), "log");
        refused(usage("reset"), "reset", "all", "vms");
        // vmctl's own options: getopt's words, then vmctl's usage
        Vmctl.Result r = vmctl("-x", "status");
        assertEquals(1, r.status());
        assertEquals("vmctl: unknown option -- x\n" + Vmctl.usageText(), r.err());
        r = vmctl("-s");
        assertEquals(1, r.status());
        assertEquals("vmctl: option requires an argument -- s\n" + Vmctl.usageText(), r.err());
        r = vmctl("-v");
        assertEquals(1, r.status());
        assertEquals(Vmctl.usageText(), r.err());
    }

    @Test
    void atFilesAreNotExpanded() throws Exception {
        java.nio.file.Files.writeString(dir.resolve("args"), "-fw\n");
        refused("vmctl: connect: " + sock() + ": No such file or directory\n", "status", "@" + dir.resolve("args"));
    }

    @Test
    void helpPrintsVmctlsUsageOnStdoutWithStatus0() {
        for (String[] args : new String[][] {{"help"}, {"he"}, {"--help"}}) {
            Vmctl.Result r = vmctl(args);
            assertEquals(0, r.status(), args[0]);
            assertEquals(Vmctl.usageText(), r.out(), args[0]);
            assertEquals("", r.err(), args[0]);
        }
        assertTrue(Vmctl.usageText().startsWith("usage:\tvmctl [-v] [-s socket] command [arg ...]\n"
                + "\tvmctl console id\n\tvmctl create [-b base | -i disk] [-s size] disk\n"), Vmctl.usageText());
        assertTrue(Vmctl.usageText().contains("\tvmctl stop [-fw] [id | -a]\n"), Vmctl.usageText());
    }

    @Test
    void helpOfACommandIsItsUsageLineDescriptionAndOptions() {
        for (String[] args : new String[][] {{"help", "stop"}, {"help", "sto"}, {"stop", "--help"}, {"-s", "x", "sto", "--help"}}) {
            Vmctl.Result r = vmctl(args);
            assertEquals(0, r.status(), String.join(" ", args));
            assertEquals("", r.err());
            String o = r.out();
            assertTrue(o.startsWith(usage("stop")), o);
            assertTrue(o.contains("Stop the VM"), o);
            for (String opt : List.of("-a", "-f", "-w", "--help")) {
                assertTrue(o.contains("  " + opt + " "), opt + " in:\n" + o);
            }
        }
        String start = vmctl("help", "start").out();
        assertTrue(start.startsWith("usage:\tvmctl [-v] [-s socket] start [-cL] [-b path] [-d disk] [-i count] [-m size]"
                + " [-n switch] [-t name]\n\t\tid | name\n"), start);
        assertTrue(start.contains("-m=size") || start.contains("-m size"), start);
        Vmctl.Result r = vmctl("help", "frobnicate");
        assertEquals(1, r.status());
        assertEquals("unknown argument: frobnicate\n" + Vmctl.usageText(), r.err());
        r = vmctl("help", "a", "b");
        assertEquals(1, r.status());
        assertEquals(usage("help"), r.err());
    }

    @Test
    void everyCommandHasHelp() {
        for (VmctlCommand c : Vmctl.COMMANDS) {
            Vmctl.Result r = vmctl(c.name(), "--help");
            assertEquals(0, r.status(), c.name());
            assertTrue(r.out().startsWith(usage(c.name()).stripTrailing()), r.out());
            assertTrue(r.out().contains(c.description().substring(0, Math.min(20, c.description().length()))), r.out());
        }
    }

    /**
     * vmctl's own options read by hand (no picocli parser for the common command line) mean
     * what getopt("vs:") makes of them; anything unusual is left to picocli's parse (null).
     */
    @Test
    void plainOwnOptionsAreReadWithoutAParserAsGetoptWould() {
        record Case(List<String> args, String socket, List<String> rest) {
        }
        for (Case c : List.of(
                new Case(List.of("status"), "/run/vmd.sock", List.of("status")),
                new Case(List.of("-s", "/x", "status", "-r"), "/x", List.of("status", "-r")),
                new Case(List.of("-s/x", "stop", "web"), "/x", List.of("stop", "web")),
                new Case(List.of("-vs", "/x", "stat"), "/x", List.of("stat")),
                new Case(List.of("-vvs/y", "-v", "show"), "/y", List.of("show")),
                new Case(List.of("-sv", "status"), "v", List.of("status")),
                new Case(List.of("-v"), "/run/vmd.sock", List.of()))) {
            Vmctl v = new Vmctl(java.io.InputStream.nullInputStream(), System.out, System.err);
            assertEquals(c.rest(), v.ownOptions(c.args().toArray(String[]::new)), c.toString());
            assertEquals(Path.of(c.socket()), v.socketPath(), c.toString());
        }
        for (List<String> odd : List.of(List.of("--help"), List.of("--", "status"), List.of("-x", "status"),
                List.of("-s"), List.of("-vx"), List.of("-", "status"))) {
            Vmctl v = new Vmctl(java.io.InputStream.nullInputStream(), System.out, System.err);
            assertEquals(null, v.ownOptions(odd.toArray(String[]::new)), odd.toString());
        }
    }
}
