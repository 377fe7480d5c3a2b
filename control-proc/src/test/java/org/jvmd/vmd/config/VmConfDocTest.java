package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

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

/** docs/vm.conf.md (the source of vm.conf.5) names every word the parser knows, in bold. */
class VmConfDocTest {
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
