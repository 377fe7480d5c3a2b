package org.jvmd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/bench-net's report (issue 16, item 4): the table and the last line are printed from
 * a run's results file ({@code --report RESULTS} prints them again without root or a run), so
 * the format of the last line, which the issue fixes exactly, and its rules (no last line
 * with a failed run or a missing number) are checked here on a results file of known numbers.
 */
class BenchNetReportTest {
    /** The last line as the issue spells it, with every R two decimals. */
    static final Pattern LAST_LINE = Pattern.compile("vionet/floor g2h=\\d+\\.\\d\\d h2g=\\d+\\.\\d\\d"
            + " rr=\\d+\\.\\d\\d pps=\\d+\\.\\d\\d gain g2h=\\d+\\.\\d\\d h2g=\\d+\\.\\d\\d"
            + " floor_gain g2h=\\d+\\.\\d\\d h2g=\\d+\\.\\d\\d");

    @TempDir
    Path dir;

    record Run(int status, String out, String err) {
        String lastLine() {
            String[] lines = out.strip().split("\n");
            return lines[lines.length - 1];
        }
    }

    /** A complete results file: rows a, b, c, d, d0, each measure both ways. */
    static Map<String, String> results() {
        Map<String, String> r = new LinkedHashMap<>();
        r.put("run failed", "0");
        r.put("run floor_only", "0");
        r.put("run hook", "1");
        row(r, "a", "10.50 12.00 15000 14000 200000 180000");
        row(r, "b", "2.10 2.40 15100 14100 190000 170000");
        row(r, "c", "17.00 17.50 30000 31000 500000 510000");
        row(r, "d", "12.00 13.00 16000 16000 250000 200000");
        row(r, "d0", "2.20 2.40 16000 16000 250000 200000");
        return r;
    }

    private static void row(Map<String, String> r, String key, String values) {
        String[] v = values.split(" ");
        String[] measures = {"tcp_g2h", "tcp_h2g", "rr_g2h", "rr_h2g", "pps_g2h", "pps_h2g"};
        for (int i = 0; i < measures.length; i++) {
            r.put(key + " " + measures[i], v[i]);
        }
    }

    Run report(Map<String, String> results) throws IOException, InterruptedException {
        Path file = dir.resolve("results");
        StringBuilder sb = new StringBuilder();
        results.forEach((k, v) -> sb.append(k).append(' ').append(v).append('\n'));
        Files.writeString(file, sb);
        Path script = NativeBoundaryTest.projectRoot().resolve("scripts/bench-net");
        Path out = dir.resolve("out");
        Path err = dir.resolve("err");
        Process p = new ProcessBuilder("bash", script.toString(), "--report", file.toString())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("bench-net --report still running after 60 s");
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    void lastLineIsExactlyTheIssuesFormatWithRrAndPpsAsGeometricMeansOfBothDirections() throws Exception {
        Run run = report(results());
        assertEquals(0, run.status(), run.out() + run.err());
        // tcp a/d: 10.5/12, 12/13; rr: sqrt(15000/16000 * 14000/16000) = 0.906; pps: sqrt(0.8 * 0.9) = 0.849;
        // gain a/b: 10.5/2.1, 12/2.4; floor_gain d/d0: 12/2.2, 13/2.4
        assertEquals("vionet/floor g2h=0.88 h2g=0.92 rr=0.91 pps=0.85 gain g2h=5.00 h2g=5.00 floor_gain g2h=5.45 h2g=5.42",
                run.lastLine());
        assertTrue(LAST_LINE.matcher(run.lastLine()).matches(), run.lastLine());
        // both directions of rr and pps are in the table
        assertTrue(run.out().contains("vionet/floor (a/d):       tcp g2h=0.88 h2g=0.92  rr g2h=0.94 h2g=0.88"
                + "  pps g2h=0.80 h2g=0.90"), run.out());
        assertTrue(Pattern.compile("(?m)^\\(a\\)  vionet, offloads on +10\\.50 +12\\.00 +15000 +14000 +200000 +180000$")
                .matcher(run.out()).find(), run.out());
    }

    @Test
    void theScriptsHeaderDocumentsTheSameLastLine() throws IOException {
        String script = Files.readString(NativeBoundaryTest.projectRoot().resolve("scripts/bench-net"));
        assertTrue(script.contains(
                "\n#   vionet/floor g2h=R h2g=R rr=R pps=R gain g2h=R h2g=R floor_gain g2h=R h2g=R\n"), "header");
    }

    @Test
    void noLastLineWhenAnyNumberItNeedsIsMissingOrARunFailed() throws Exception {
        // one of each pair the last line divides (a/d tcp, rr and pps, a/b, d/d')
        for (String missing : List.of("a tcp_g2h", "d tcp_h2g", "a rr_h2g", "d rr_g2h", "a pps_g2h", "d pps_h2g",
                "b tcp_h2g", "d0 tcp_g2h")) {
            Map<String, String> r = results();
            r.put(missing, "FAIL");
            Run run = report(r);
            assertEquals(1, run.status(), missing + ": " + run.out());
            assertFalse(run.out().contains("vionet/floor g2h="), missing + ": " + run.out());
        }
        Map<String, String> r = results();
        r.put("run failed", "1");   // e.g. a tap whose ethtool -k flags differ from the row's offloads
        Run run = report(r);
        assertEquals(1, run.status(), run.out());
        assertFalse(run.out().contains("vionet/floor g2h="), run.out());
        r = results();
        r.put("d rr_g2h", "0");   // a ratio over 0 is no number
        run = report(r);
        assertEquals(1, run.status(), run.out());
        assertFalse(run.out().contains("vionet/floor g2h="), run.out());
    }

    @Test
    void floorOnlyPrintsTheFloorsOwnGainButNoLastLine() throws Exception {
        Map<String, String> r = results();
        r.put("run floor_only", "1");
        r.put("run hook", "0");
        Run run = report(r);
        assertEquals(0, run.status(), run.out() + run.err());
        assertTrue(run.out().contains("C floor on/off (d/d'):    tcp g2h=5.45 h2g=5.42"), run.out());
        assertFalse(run.out().contains("vionet/floor g2h="), run.out());
    }

    @Test
    void withoutAVionetHookItSaysSoAndExitsTwo() throws Exception {
        Map<String, String> r = results();
        r.put("run hook", "0");
        Run run = report(r);
        assertEquals(2, run.status(), run.out());
        assertTrue(run.out().contains("NO VIONET LAUNCHER"), run.out());
        assertFalse(run.out().contains("vionet/floor g2h="), run.out());
    }

    @Test
    void someRowsOnlyShowTheirRatiosButNoLastLine() throws Exception {
        Map<String, String> r = results();
        r.put("run only_rows", "d,a");
        for (String skipped : List.of("b", "c", "d0")) {
            for (String m : List.of("tcp_g2h", "tcp_h2g", "rr_g2h", "rr_h2g", "pps_g2h", "pps_h2g")) {
                r.put(skipped + " " + m, "skipped");
            }
        }
        Run run = report(r);
        assertEquals(0, run.status(), run.out() + run.err());
        assertTrue(run.out().contains("vionet/floor (a/d):       tcp g2h=0.88 h2g=0.92  rr g2h=0.94 h2g=0.88"), run.out());
        assertFalse(run.out().contains("vionet on/off"), run.out());
        assertFalse(run.out().contains("C floor on/off"), run.out());
        assertFalse(run.out().contains("vionet/floor g2h="), run.out());
        assertTrue(run.out().contains("--rows d,a: not every row measured, so no final line"), run.out());

        r.put("a rr_h2g", "FAIL");
        run = report(r);
        assertEquals(1, run.status(), run.out());
    }

    @Test
    void rowsNotInTheTableAreAUsageError() throws Exception {
        Path script = NativeBoundaryTest.projectRoot().resolve("scripts/bench-net");
        Process p = new ProcessBuilder("bash", script.toString(), "--rows", "d,e").redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(64, p.exitValue(), out);
        assertTrue(out.contains("--rows wants rows from a,b,c,d,d0"), out);
    }
}
