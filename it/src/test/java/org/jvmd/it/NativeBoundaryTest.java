package org.jvmd.it;

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
 * docs/architecture.md: only the `sys` module touches native code. No source file outside
 * sys may import (or name fully qualified) java.lang.foreign or jnr.
 */
class NativeBoundaryTest {
    private static final Pattern NATIVE = Pattern.compile("\\b(java\\.lang\\.foreign|jnr)\\.[A-Za-z*]");

    static Path projectRoot() {
        return org.jvmd.testkit.Host.projectRoot();
    }

    @Test
    void nativeImportsStayInsideSys() throws IOException {
        Path root = projectRoot();
        List<String> offenders = new ArrayList<>();
        int scanned = 0;
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                Path rel = root.relativize(f);
                if (rel.startsWith("sys") || rel.toString().contains("/target/") || rel.startsWith(".git")) {
                    continue;
                }
                scanned++;
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    String line = lines.get(i).strip();
                    if (line.startsWith("//") || line.startsWith("*")) {
                        continue;
                    }
                    if (NATIVE.matcher(line).find()) {
                        offenders.add(rel + ":" + (i + 1) + ": " + line);
                    }
                }
            }
        }
        assertTrue(scanned > 0, "no sources scanned under " + root);
        assertTrue(offenders.isEmpty(), "native code outside sys:\n" + String.join("\n", offenders));
    }
}
