package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lab network test's guest script and its per-run counters (VmmNetLabTest), checked
 * without KVM: the script fits the kernel command line it travels on, is valid shell, and
 * its NET-STAT lines, made here by the same shell function over this host's loopback, are
 * turned into per-run differences.
 */
class VmmNetLabScriptTest {
    @TempDir
    Path dir;

    /** x86 COMMAND_LINE_SIZE (arch/x86/include/asm/setup.h), with its terminating NUL. */
    static final int COMMAND_LINE_SIZE = 2048;

    @Test
    void guestScriptFitsTheKernelCommandLine() {
        String cmdline = LinuxGuestLabTest.cmdline(VmmNetLabTest.guestScript()) + " jvmd.ip=" + VmmNetLabTest.GUEST + "/24";
        assertTrue(cmdline.length() < COMMAND_LINE_SIZE, cmdline.length() + " bytes");
    }

    private String sh(String script, String... args) throws Exception {
        Path f = dir.resolve("script.sh");
        Files.writeString(f, script);
        Path out = dir.resolve("out");
        Process p = new ProcessBuilder(List.of("sh", args.length > 0 ? args[0] : "-e", f.toString()))
                .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String o = Files.readString(out);
        assertEquals(0, p.exitValue(), o);
        return o;
    }

    @Test
    void guestScriptIsValidShell() throws Exception {
        sh(VmmNetLabTest.guestScript(), "-n");
    }

    @Test
    void statLinesOfTheGuestsShellFunctionBecomePerRunDifferences() throws Exception {
        String function = VmmNetLabTest.guestScript().lines().filter(l -> l.startsWith("s(){")).findFirst().orElseThrow();
        String out = sh(function.replace("eth0", "lo") + "\ns warm\ns g2h-on\n");
        List<String> lines = out.lines().filter(l -> l.startsWith("NET-STAT ")).toList();
        assertEquals(2, lines.size(), out);
        assertTrue(lines.get(0).matches("NET-STAT warm( [0-9]+){5,6}"), out);

        String console = String.join("\r\n", "NET-STAT warm 1000 10 2000 20 5 7", "NET-IPERF g2h-on x",
                "NET-STAT g2h-on 1500 20 66000 21 9 8", "NET-STAT h2g-on 9000 100 68000 60 12",
                "NET-STAT off 9000 100 68000 60 12 9", "NET-STAT g2h-off 9500 110 98000 80 52 109", "");
        List<String> stats = VmmNetLabTest.guestStats(console);
        assertEquals(List.of(
                "guest counters g2h-on: tx 1 frames 64000 bytes (64000 B/frame), rx 10 frames 500 bytes,"
                        + " tx interrupts 4, tx kicks 1",
                "guest counters h2g-on: tx 39 frames 2000 bytes (51 B/frame), rx 80 frames 7500 bytes,"
                        + " tx interrupts 3, tx kicks n/a",
                "guest counters g2h-off: tx 20 frames 30000 bytes (1500 B/frame), rx 10 frames 500 bytes,"
                        + " tx interrupts 40, tx kicks 100",
                "guest counters h2g-off: NET-STAT g2h-off/h2g-off missing or short"), stats);
    }
}
