package org.jvmd.it.pkg;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The Debian package, built once per test JVM by {@code scripts/deb} into it/target/deb
 * (the modules are packaged before this module's tests run). Its tests and the container
 * tests share it.
 */
public final class DebPackage {
    private static Path built;

    private DebPackage() {
    }

    /** Runs {@code cmd}, returns its merged output; fails on a non-zero status. */
    public static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int status = p.waitFor();
        if (status != 0) {
            throw new IOException(String.join(" ", cmd) + ": exit " + status + "\n" + out);
        }
        return out;
    }

    public static Path projectRoot() {
        return org.jvmd.testkit.Host.projectRoot();
    }

    /** The .deb's path, built on first use. */
    public static synchronized Path get() throws IOException, InterruptedException {
        if (built == null) {
            Path root = projectRoot();
            Path out = root.resolve("it/target/deb");
            String log = run(List.of("bash", root.resolve("scripts/deb").toString(), out.toString()));
            List<String> lines = log.strip().lines().toList();
            Path deb = Path.of(lines.get(lines.size() - 1));
            if (!Files.isRegularFile(deb)) {
                throw new IOException("scripts/deb printed no package path:\n" + log);
            }
            built = deb;
        }
        return built;
    }
}
