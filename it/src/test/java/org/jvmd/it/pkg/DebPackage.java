package org.jvmd.it.pkg;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jvmd.testkit.Shell;
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

    public static Path projectRoot() {
        return org.jvmd.testkit.Host.projectRoot();
    }

    /** The .deb's path, built on first use. */
    public static synchronized Path get() throws IOException, InterruptedException {
        if (built == null) {
            Path root = projectRoot();
            Path out = root.resolve("it/target/deb");
            String log = Shell.sh(List.of("bash", root.resolve("scripts/deb").toString(), out.toString()));
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
