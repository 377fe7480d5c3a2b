package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** docs/architecture.md: only module sys touches native code; the qcow2 library is JDK-only. */
class PureJavaTest {
    private static final Pattern NATIVE = Pattern.compile("\\b(java\\.lang\\.foreign|jnr|sun\\.misc|jdk\\.internal)\\.[A-Za-z*]");

    @Test
    void libraryUsesNoNativeCode() throws IOException {
        List<String> offenders = new ArrayList<>();
        int scanned = 0;
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                scanned++;
                for (String line : Files.readAllLines(f)) {
                    if (NATIVE.matcher(line).find()) {
                        offenders.add(f + ": " + line.strip());
                    }
                }
            }
        }
        assertTrue(scanned >= 10, "scanned only " + scanned + " files");
        assertTrue(offenders.isEmpty(), String.join("\n", offenders));
    }
}
