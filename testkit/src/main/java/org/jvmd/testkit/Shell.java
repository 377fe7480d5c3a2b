package org.jvmd.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

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
}
