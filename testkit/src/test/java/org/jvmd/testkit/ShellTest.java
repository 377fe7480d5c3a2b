package org.jvmd.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ShellTest {
    @Test
    void aFailingCommandIsNamedWithItsStatusAndOutput() {
        IOException e = assertThrows(IOException.class, () -> Shell.sh("sh", "-c", "echo nope >&2; exit 3"));
        assertEquals("sh -c echo nope >&2; exit 3: exit 3: nope", e.getMessage());
    }

    @Test
    void moreOutputThanAPipeHoldsDoesNotStallTheDeadlinedRun() throws Exception {
        Shell.Result r = Shell.run(Duration.ofSeconds(30), List.of("sh", "-c", "head -c 300000 /dev/zero; exit 4"));
        assertEquals(4, r.status());
        assertEquals(300_000, r.output().length());
        assertFalse(r.timedOut());
    }

    @Test
    void aCommandPastItsDeadlineIsKilledAndSaysSo() throws Exception {
        long t0 = System.nanoTime();
        Shell.Result r = Shell.run(Duration.ofMillis(300), List.of("sh", "-c", "echo started; exec sleep 30"));
        assertTrue(r.timedOut());
        assertEquals(-1, r.status());
        assertTrue(r.output().startsWith("started"), r.output());
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "killed, not waited for");
    }
}
