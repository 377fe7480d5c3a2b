package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jvmd.testkit.RequiresTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reference pages in docs/ are the one source of the man pages: scripts/man turns them
 * into vmctl.8, vm.conf.5 and vmd.8, which mandoc finds nothing to say about and man renders;
 * and docs/vmctl.md documents every command vmctl accepts.
 */
class ManPagesTest {
    /** The repository: tests run in the module's directory. */
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    record Run(int status, String out) {
    }

    static Run run(Path dir, String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).directory(dir.toFile()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", argv) + " did not end");
        return new Run(p.exitValue(), out);
    }

    @Test
    @RequiresTools({"pandoc", "mandoc", "man"})
    void scriptGeneratesEveryPageWithItsSectionsAndMandocFindsNothingToSay(@TempDir Path out) throws Exception {
        Run gen = run(ROOT, ROOT.resolve("scripts/man").toString(), out.toString());
        assertEquals(0, gen.status(), gen.out());
        for (String page : List.of("vmctl.8", "vm.conf.5", "vmd.8")) {
            Path f = out.resolve(page);
            assertTrue(gen.out().contains(f.toString()), "scripts/man names " + page + ": " + gen.out());
            String roff = Files.readString(f);
            String section = page.substring(page.lastIndexOf('.') + 1);
            String title = page.substring(0, page.lastIndexOf('.')).toUpperCase(java.util.Locale.ROOT);
            assertTrue(roff.contains(".TH \"" + title + "\" \"" + section + "\""), page + ": .TH " + title + " " + section);
            for (String sh : List.of("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO")) {
                assertTrue(roff.contains("\n.SH " + sh + "\n"), page + " has " + sh);
            }
            Run lint = run(out, "mandoc", "-T", "lint", "-W", "warning", f.toString());
            assertEquals(0, lint.status(), page + ": mandoc -T lint:\n" + lint.out());
            Run man = run(out, "env", "MANWIDTH=80", "man", "-l", f.toString());
            assertEquals(0, man.status(), page + ": man -l:\n" + man.out());
            assertTrue(man.out().contains("NAME") && man.out().contains("SYNOPSIS"), page + " renders:\n" + man.out());
        }
        assertTrue(Files.readString(out.resolve("vmctl.8")).contains("vmctl - control jvmd"),
                "vmctl.8's NAME line is the page's");
    }

    @Test
    void vmctlPageDocumentsEveryCommandAndItsUsage() throws IOException {
        String doc = Files.readString(ROOT.resolve("docs/vmctl.md"));
        List<String> missing = new ArrayList<>();
        for (VmctlCommand c : Vmctl.COMMANDS) {
            if (!doc.contains("\n**" + c.name() + "**")) {
                missing.add(c.name());
            }
        }
        assertEquals(List.of(), missing, "commands without an entry in docs/vmctl.md");
    }

    @Test
    void readmeAndDocsSendNoReaderOutsideTheRepository() throws IOException {
        List<Path> pages = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (var s = Files.list(ROOT.resolve("docs"))) {
            s.filter(p -> p.toString().endsWith(".md")).forEach(pages::add);
        }
        for (Path p : pages) {
            String text = Files.readString(p);
            assertTrue(!text.contains("../shared") && !text.contains("/work/shared"), p + " points outside the repository");
        }
    }
}
