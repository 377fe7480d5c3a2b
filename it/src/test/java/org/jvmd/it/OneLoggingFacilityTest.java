package org.jvmd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Issue 12: one logging facility. Product code logs through System.getLogger only; its one
 * backend is sys's org.jvmd.sys.log.JvmdLoggerFinder (one format, the level switch, stderr
 * or syslog). No main source names java.util.logging (whose default format, local-time
 * stamps and handlers were the second and third facility), and no other module registers a
 * System.LoggerFinder.
 */
class OneLoggingFacilityTest {
    private static final Pattern JUL = Pattern.compile("\\bjava\\.util\\.logging\\b");
    private static final String SERVICE = "META-INF/services/java.lang.System$LoggerFinder";

    private static boolean isMain(Path rel) {
        return rel.toString().contains("/src/main/") && !rel.toString().contains("/target/") && !rel.startsWith(".git");
    }

    @Test
    void noMainSourceUsesJavaUtilLogging() throws IOException {
        Path root = NativeBoundaryTest.projectRoot();
        List<String> offenders = new ArrayList<>();
        int scanned = 0;
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                Path rel = root.relativize(f);
                if (!isMain(rel)) {
                    continue;
                }
                scanned++;
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    String line = lines.get(i).strip();
                    if (line.startsWith("//") || line.startsWith("*") || line.startsWith("/*")) {
                        continue;
                    }
                    if (JUL.matcher(line).find()) {
                        offenders.add(rel + ":" + (i + 1) + ": " + line);
                    }
                }
            }
        }
        assertTrue(scanned > 100, "only " + scanned + " main sources scanned under " + root);
        assertTrue(offenders.isEmpty(), "java.util.logging in product code (log through System.getLogger):\n"
                + String.join("\n", offenders));
    }

    @Test
    void sysRegistersTheOneLoggerFinder() throws IOException {
        Path root = NativeBoundaryTest.projectRoot();
        List<Path> services;
        try (Stream<Path> files = Files.walk(root)) {
            services = files.map(root::relativize)
                    .filter(rel -> isMain(rel) && rel.toString().endsWith(SERVICE)).toList();
        }
        assertEquals(List.of(Path.of("sys/src/main/resources").resolve(SERVICE)), services);
        assertEquals("org.jvmd.sys.log.JvmdLoggerFinder", Files.readString(root.resolve(services.get(0))).strip());
    }

    @Test
    void thisJvmLogsThroughIt() {
        assertEquals("org.jvmd.sys.log.JvmdLoggerFinder", System.LoggerFinder.getLoggerFinder().getClass().getName());
    }
}
