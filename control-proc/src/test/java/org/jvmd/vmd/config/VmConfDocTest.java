package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/vm.conf.md (the source of vm.conf.5) names every word the parser knows, in bold, and
 * its examples check OK (with the boot files they name in a temporary directory).
 */
class VmConfDocTest {
    @TempDir
    Path dir;

    @Test
    void everyExampleChecksOk() throws IOException {
        String doc = Files.readString(Path.of("../docs/vm.conf.md"));
        Fixture f = new Fixture(dir);
        Matcher m = Pattern.compile("```\\n(.*?)```", Pattern.DOTALL).matcher(doc);
        int examples = 0;
        while (m.find()) {
            String conf = m.group(1).replace("/var/lib/jvmd/guest/vmlinuz", f.kernel.toString())
                    .replace("/var/lib/jvmd/guest/initramfs.gz", f.initrd.toString()).replace("alice", "ann");
            ParseResult r = f.parser().parse("example" + ++examples, conf, dir);
            assertTrue(r.ok(), "example " + examples + ": " + r.errors() + "\n" + conf);
        }
        assertTrue(examples >= 4, "examples found: " + examples);
    }

    @Test
    void everyKeywordIsDocumented() throws IOException {
        String doc = Files.readString(Path.of("../docs/vm.conf.md"));
        Set<String> bold = new HashSet<>();
        Matcher m = Pattern.compile("\\*\\*([^*]+)\\*\\*").matcher(doc);
        while (m.find()) {
            bold.addAll(List.of(m.group(1).split("[^a-z0-9_]+")));
        }
        List<String> missing = new ArrayList<>();
        for (Keyword k : Keyword.values()) {
            if (!bold.contains(k.word)) {
                missing.add(k.word);
            }
        }
        assertEquals(List.of(), missing, "keywords without a word in docs/vm.conf.md");
    }
}
