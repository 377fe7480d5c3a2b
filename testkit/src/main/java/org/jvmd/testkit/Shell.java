package org.jvmd.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** The one way tests run a command (ip, ethtool, useradd ...): its output, or an IOException naming the command, its status and its output. */
public final class Shell {
    private Shell() {}

    /** Runs {@code cmd} with stderr merged into stdout; its output when it exits 0. */
    public static String sh(String... cmd) throws IOException, InterruptedException {
        return sh(List.of(cmd));
    }

    public static String sh(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) {
            throw new IOException(String.join(" ", cmd) + ": exit " + rc + ": " + out.strip());
        }
        return out;
    }

    /** How a command ended: its exit status (-1 when it was killed at its deadline) and its merged output. */
    public record Result(int status, String output, boolean timedOut) {}

    /**
     * Runs {@code cmd} (stderr merged into stdout) for at most {@code timeout}, then kills it;
     * its status and output whatever they are. The output is read on a thread of its own, so
     * a command that writes more than a pipe holds cannot stall the wait.
     */
    public static Result run(Duration timeout, List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, r -> Thread.ofVirtual().start(r));
        try {
            boolean ended = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!ended) {
                p.destroyForcibly();
                p.waitFor();
            }
            String text = out.get();
            return ended ? new Result(p.exitValue(), text, false)
                    : new Result(-1, text + "\n(timed out after " + timeout.toSeconds() + " s)", true);
        } catch (ExecutionException e) {
            throw new IOException(String.join(" ", cmd) + ": reading its output", e.getCause());
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly(); // interrupted while waiting
            }
        }
    }
}
