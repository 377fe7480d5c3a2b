package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A child JVM writes through the library (a thin qcow2 over a qcow2 base) and is SIGKILLed at a
 * random moment, 50 times on the same image: qemu-img check never reports corruption (leaks are
 * allowed) and every op whose flush completed reads back intact.
 */
class CrashTest {
    static final int KILLS = Integer.getInteger("jvmd.qcow2.crashKills", 50);
    static final int OPS_PER_CHILD = 80;

    @TempDir
    Path dir;

    @Test
    void sigkillAtRandomPointsNeverCorruptsAndKeepsFlushedData() throws Exception {
        Path base = dir.resolve("base.qcow2");
        Path top = dir.resolve("top.qcow2");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), Long.toString(CrashWriter.SIZE));
        QemuImg.ok("qemu-io", "-c", "write -P 0x5a 0 " + CrashWriter.BASE_DATA, base.toString());
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top.toString(),
                Long.toString(CrashWriter.SIZE));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = Path.of("target/test-classes").toAbsolutePath() + ":" + Path.of("target/classes").toAbsolutePath();
        Random r = new Random(2026);
        List<Integer> durable = new ArrayList<>();
        int next = 0;
        int midOp = 0;
        for (int k = 0; k < KILLS; k++) {
            Process p = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", cp,
                    CrashWriter.class.getName(), top.toString(), Integer.toString(next),
                    Integer.toString(OPS_PER_CHILD)).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
            String line = in.readLine();
            assertTrue("READY".equals(line), "child said " + line);
            long killAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(r.nextInt(150));
            int[] seen = {next - 1, next}; // highest op started, highest flush mark
            while (System.nanoTime() < killAt) {
                if (in.ready()) {
                    if (!parse(in.readLine(), seen)) {
                        break;
                    }
                } else {
                    Thread.sleep(1);
                }
            }
            // SIGKILL by pid (Process.destroyForcibly would also close our end of its stdout)
            assertTrue(new ProcessBuilder("kill", "-KILL", Long.toString(p.pid())).start().waitFor() == 0);
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            while (parse(in.readLine(), seen)) {
                // everything the child said before it died
            }
            int started = seen[0];
            int flushed = seen[1];
            if (started >= flushed) {
                midOp++;
            }
            for (int i = next; i < flushed; i++) {
                durable.add(i);
            }
            QemuImg.check(top, true);
            verify(top, durable.subList(durable.size() - (flushed - next), durable.size()));
            next = Math.max(started + 1, flushed);
        }
        verify(top, durable);
        System.out.println("crash test: " + KILLS + " kills, " + durable.size() + " durable ops, " + midOp
                + " kills with unflushed ops");
        assertTrue(durable.size() > KILLS, "too few durable ops to mean anything: " + durable.size());
    }

    private static boolean parse(String l, int[] seen) {
        if (l == null) {
            return false;
        }
        if (l.startsWith("S ")) {
            seen[0] = Math.max(seen[0], Integer.parseInt(l.substring(2)));
        } else if (l.startsWith("F ")) {
            seen[1] = Math.max(seen[1], Integer.parseInt(l.substring(2)));
        }
        return true;
    }

    static void verify(Path top, List<Integer> ops) throws Exception {
        try (DiskImage d = ImageFiles.openChain(top, true)) {
            byte[] got = new byte[CrashWriter.SLOT];
            for (int i : ops) {
                d.read(CrashWriter.slot(i) * CrashWriter.SLOT, ByteBuffer.wrap(got));
                assertArrayEquals(CrashWriter.expected(i), got, "op " + i + " (slot " + CrashWriter.slot(i) + ")");
            }
        }
    }
}
