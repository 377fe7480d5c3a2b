package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jvmd.sys.ipc.ControlSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11: clients that announce a 1 MiB request and stall made vmd allocate and hold 1 MiB
 * each, with no timeout and no limit. Now 200 of them against a real vmd add less than
 * {@link #RSS_BOUND_MIB} MiB to its resident memory, a normal {@code vmctl status} is
 * answered meanwhile, and every stalled client is cut off once its read timeout passes.
 */
class VmdStalledClientsTest {
    /** 200 stalled clients may grow vmd by this much (before the fix: 200 x 1 MiB and more). */
    static final long RSS_BOUND_MIB = 40;
    static final int STALLED = 200;
    static final long READ_TIMEOUT_MS = 5000;

    @TempDir
    Path dir;

    static long rssKib(long pid) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS for " + pid);
    }

    @Test
    void twoHundredStalledClientsStayWithinTheRssBoundWhileStatusIsAnsweredAndAreCutOffInTime() throws Exception {
        Path kernel = dir.resolve("bzImage");
        Files.writeString(kernel, "never booted");
        List<ControlSocket.Connection> stalled = new ArrayList<>();
        try (VmdProcess vmd = VmdProcess.start(dir, "vm \"quiet\" {\n  boot \"" + kernel + "\"\n  disable\n}\n", null,
                List.of("-Djvmd.controlReadTimeoutMs=" + READ_TIMEOUT_MS))) {
            for (int i = 0; i < 5; i++) {
                assertEquals(0, vmd.vmctl("status").status());
            }
            long before = rssKib(vmd.pid());
            long fds = vmd.fdCount();
            for (int i = 0; i < STALLED; i++) {
                ControlSocket.Connection c = ControlSocket.connect(vmd.socket);
                stalled.add(c);
                c.out().write(new byte[] {(byte) 0x80, (byte) 0x80, 0x40, 1, 2, 3, 4}); // 1 MiB announced, 4 sent
                c.out().flush();
            }
            CompletableFuture<Vmctl.Result> status = CompletableFuture.supplyAsync(() -> vmd.vmctl("status"));
            Vmctl.Result r = status.get(20, TimeUnit.SECONDS);
            assertEquals(0, r.status(), r.err());
            assertTrue(r.out().lines().anyMatch(l -> l.endsWith(" quiet")), r.out());
            long grown = rssKib(vmd.pid()) - before;
            System.out.println("vmd RSS " + before + " KiB, with " + STALLED + " stalled clients +" + grown + " KiB");
            assertTrue(grown < RSS_BOUND_MIB * 1024, "vmd grew by " + grown + " KiB with " + STALLED + " stalled clients");

            // Every one of them is cut off: to make room, or when its read timeout passes.
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(READ_TIMEOUT_MS * 6);
            for (ControlSocket.Connection c : stalled) {
                CompletableFuture<Integer> end = CompletableFuture.supplyAsync(() -> {
                    try {
                        return c.in().read();
                    } catch (IOException e) {
                        return -1;
                    }
                });
                long left = Math.max(1, deadline - System.nanoTime());
                assertEquals(-1, end.get(left, TimeUnit.NANOSECONDS));
            }
            assertEquals(0, vmd.vmctl("status").status());
            vmd.awaitFdsBack(fds, 20_000);
        } finally {
            for (ControlSocket.Connection c : stalled) {
                c.close();
            }
        }
    }
}
