package org.jvmd.vmm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** Runs a command for a test (ip netns, ip link, ethtool ...): its output, or IOException naming it on failure. */
public final class Shell {
    private Shell() {
    }

    public static String sh(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) {
            throw new IOException(String.join(" ", cmd) + ": exit " + rc + ": " + out);
        }
        return out;
    }
}
