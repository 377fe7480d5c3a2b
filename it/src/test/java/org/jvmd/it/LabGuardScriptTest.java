package org.jvmd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/lab-guard, which scripts/lab-test runs kvm-lab through: L1's kernel log (lines
 * {@code [  12.345678] ...} on kvm-lab's stderr) goes to its file, everything else passes
 * through, and an L1 whose kernel reports a CPU stuck for 100 s or more, or oopses, is
 * stopped at once with status 124. A fake kvm-lab stands in for the emulator: it prints what L1 prints.
 */
class LabGuardScriptTest {
    @TempDir
    Path dir;

    record Run(int status, String out, String err, String kernelLog, long millis) {}

    /**
     * A fake L1 that runs {@code lines}, then waits up to 50 s; on SIGTERM it writes
     * {@code stopped} and exits 143.
     */
    static String stoppableL1(Path stopped, String lines) {
        return "sleep 50 &\ns=$!\ntrap 'kill $s; echo term > " + stopped + "; exit 143' TERM\n" + lines + "wait\nexit 0\n";
    }

    /**
     * Runs lab-guard over a fake L1 ({@link #stoppableL1}) that runs {@code lines}; asserts that
     * lab-guard stopped it with SIGTERM, exited 124 within 30 s and said {@code why}.
     */
    Run stoppedSaying(String lines, Map<String, String> env, String why) throws IOException, InterruptedException {
        Path stopped = dir.resolve("stopped");
        Run r = guard(stoppableL1(stopped, lines), env);
        assertEquals(124, r.status(), r.err());
        assertTrue(Files.exists(stopped), "the fake L1 got SIGTERM");
        assertTrue(r.millis() < 30_000, r.millis() + " ms: not stopped soon enough");
        assertTrue(r.err().contains(why), r.err());
        return r;
    }

    /** Runs lab-guard over a fake `run` whose body is {@code script}. */
    Run guard(String script) throws IOException, InterruptedException {
        return guard(script, Map.of());
    }

    Run guard(String script, Map<String, String> env) throws IOException, InterruptedException {
        Path fake = dir.resolve("run");
        Files.writeString(fake, "#!/bin/bash\n" + script);
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));
        Path log = dir.resolve("kernel.log");
        Path out = dir.resolve("out");
        Path err = dir.resolve("err");
        long t0 = System.nanoTime();
        ProcessBuilder pb = new ProcessBuilder("bash", NativeBoundaryTest.projectRoot().resolve("scripts/lab-guard").toString(),
                log.toString(), "--", fake.toString())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError("lab-guard still running after 60 s: " + Files.readString(err));
        }
        long millis = (System.nanoTime() - t0) / 1_000_000;
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err), Files.readString(log), millis);
    }

    @Test
    void kernelLinesGoToTheirFileTheRestPassesThroughAndTheStatusIsRuns() throws Exception {
        Run r = guard("""
                echo 'test output'
                echo '[    0.000000] Linux version 6.1.0-57-amd64' >&2
                echo 'lab: a line of the command on stderr' >&2
                echo '[  210.123456] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [java:812]' >&2
                exit 7
                """);
        assertEquals(7, r.status(), r.err());
        assertEquals("test output\n", r.out());
        assertTrue(r.err().contains("lab: a line of the command on stderr\n"), r.err());
        assertTrue(r.kernelLog().contains("[    0.000000] Linux version 6.1.0-57-amd64\n"), r.kernelLog());
        // a short lockup is not a wedge (a starved L1 reports one and goes on)
        assertFalse(r.err().contains("wedged"), r.err());
        // a failed run is followed by the kernel log's tail, as kvm-lab's --quiet prints it
        assertTrue(r.err().contains("---- L1 kernel log"), r.err());
        assertTrue(r.err().contains("stuck for 22s"), r.err());
    }

    @Test
    void aSuccessfulRunPrintsNoKernelLog() throws Exception {
        Run r = guard("""
                echo '[    0.000000] Linux version 6.1.0-57-amd64' >&2
                echo done
                """);
        assertEquals(0, r.status(), r.err());
        assertEquals("done\n", r.out());
        assertFalse(r.err().contains("Linux version"), r.err());
    }

    @Test
    void anL1StuckForMinutesIsStoppedAtOnceWith124() throws Exception {
        Run r = stoppedSaying("""
                echo '[  210.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:0]' >&2
                echo '[  298.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 104s! [swapper/0:0]' >&2
                """, Map.of(), "lab-guard: L1 is wedged (watchdog: BUG: soft lockup - CPU#0 stuck for 104s!");
        assertTrue(r.kernelLog().contains("stuck for 104s"), r.kernelLog());
    }

    /**
     * The oops that failed the clean-clone run of f8f838a (a vCPU thread of an L2 guest killed
     * in L1's exception entry; the test waited out its deadline on a broken kernel): L1 is
     * stopped after the grace for the trace, which reaches the kernel log.
     */
    @Test
    void anL1WhoseKernelOopsesIsStoppedWith124AfterItsTrace() throws Exception {
        Run r = stoppedSaying("""
                echo '[  369.714851] kvm [509]: vcpu0, guest rIP: 0xffffffff88273744 Unhandled WRMSR(0xc0010007) = 0xffff' >&2
                echo '[  370.100000] WARNING: CPU: 1 PID: 509 at arch/x86/kvm/svm/svm.c:123 svm_vcpu_run+0x1/0x2 [kvm_amd]' >&2
                echo '[  385.512959] BUG: TASK stack guard page was hit at 000000006a1af3e3 (stack is 0000000049ea60c8..000000004ddf0045)' >&2
                echo '[  385.512959] stack guard page: 0000 [#1] PREEMPT SMP NOPTI' >&2
                sleep 0.5
                echo '[  385.512960] RIP: 0010:error_entry+0x12/0x130' >&2
                """, Map.of("LAB_GUARD_OOPS_GRACE_SECS", "2"),
                "lab-guard: L1 oopsed (stack guard page: 0000 [#1] PREEMPT SMP NOPTI): stopping it; no test verdict");
        assertTrue(r.kernelLog().contains("RIP: 0010:error_entry"), "the trace after the banner is kept: " + r.kernelLog());
    }

    /** A kernel warning is not an oops, and an oops in a run that ended well leaves its status. */
    @Test
    void aWarningDoesNotStopL1AndAFailureAfterAnOopsIs124() throws Exception {
        Run warned = guard("""
                echo '[  370.100000] WARNING: CPU: 1 PID: 509 at arch/x86/kvm/svm/svm.c:123 svm_vcpu_run+0x1/0x2 [kvm_amd]' >&2
                sleep 3
                echo finished
                """, Map.of("LAB_GUARD_OOPS_GRACE_SECS", "1"));
        assertEquals(0, warned.status(), warned.err());
        assertEquals("finished\n", warned.out());
        Run failed = guard("""
                echo '[  385.512959] general protection fault: 0000 [#1] PREEMPT SMP NOPTI' >&2
                exit 1
                """, Map.of("LAB_GUARD_OOPS_GRACE_SECS", "30"));
        assertEquals(124, failed.status(), failed.err());
        assertTrue(failed.err().contains("lab-guard: L1 oopsed (general protection fault: 0000 [#1] PREEMPT SMP NOPTI) before it ended with status 1"), failed.err());
    }

    /** A frozen L1 prints nothing: the heartbeat a live one touches (scripts/lab-watch) stops. */
    @Test
    void anL1WhoseHeartbeatStopsIsStoppedWith124() throws Exception {
        Path beat = dir.resolve("beat");
        stoppedSaying("touch " + beat + "\n", Map.of("LAB_GUARD_HEARTBEAT", beat.toString(), "LAB_GUARD_STALE_SECS", "3"),
                "lab-guard: L1 is wedged (no heartbeat from L1 for ");
    }

    /** A live L1 touching its heartbeat, and one not touching it yet (booting), run to their end. */
    @Test
    void aBeatingOrNotYetBeatingL1RunsToItsEnd() throws Exception {
        Path beat = dir.resolve("beat");
        Map<String, String> env = Map.of("LAB_GUARD_HEARTBEAT", beat.toString(), "LAB_GUARD_STALE_SECS", "3");
        Run beating = guard("""
                for i in 1 2 3 4 5 6 7 8; do touch %s; sleep 1; done
                echo finished
                """.formatted(beat), env);
        assertEquals(0, beating.status(), beating.err());
        assertEquals("finished\n", beating.out());
        Run silent = guard("sleep 6; echo finished\n", env);
        assertEquals(0, silent.status(), silent.err());
    }
}
