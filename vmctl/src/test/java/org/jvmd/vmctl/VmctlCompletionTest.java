package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generated bash completion script, run by bash: what it offers after each typed prefix. */
class VmctlCompletionTest {
    @TempDir
    Path dir;

    /** COMPREPLY of vmctl's completion function for the command line {@code words} (the last is being typed). */
    List<String> complete(String... words) throws IOException, InterruptedException {
        Path script = dir.resolve("vmctl.bash");
        Files.writeString(script, Completion.bash());
        StringBuilder w = new StringBuilder();
        for (String x : words) {
            w.append(" '").append(x).append('\'');
        }
        String cmd = "source " + script + " 2>/dev/null\n"
                + "COMP_WORDS=(" + w + ")\n"
                + "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                + "COMP_LINE=\"${COMP_WORDS[*]}\"\nCOMP_POINT=${#COMP_LINE}\n"
                + "_complete_vmctl 2>/dev/null\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
        Process p = new ProcessBuilder("bash", "--norc", "-c", cmd).directory(dir.toFile()).redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        List<String> l = new ArrayList<>();
        for (String s : out.split("\n")) {
            if (!s.isBlank()) {
                l.add(s.strip());
            }
        }
        return l;
    }

    @Test
    void commandsCompleteFromTheirPrefix() throws Exception {
        assertEquals(List.of("start", "stats", "status", "stop"), complete("vmctl", "st"));
        assertEquals(List.of("unpause"), complete("vmctl", "un"));
        assertEquals(Vmctl.COMMANDS.stream().map(VmctlCommand::name).sorted().toList(),
                complete("vmctl", "").stream().sorted().toList());
    }

    @Test
    void optionsOfVmctlAndOfEachCommandComplete() throws Exception {
        assertEquals(List.of("--help", "-s", "-v"), complete("vmctl", "-").stream().sorted().toList());
        assertEquals(List.of("--help", "-a", "-f", "-w"), complete("vmctl", "stop", "-").stream().sorted().toList());
        assertEquals(List.of("--help", "-L", "-b", "-c", "-d", "-i", "-m", "-n", "-t"),
                complete("vmctl", "start", "-").stream().sorted().toList());
        assertEquals(List.of("--help", "-r"), complete("vmctl", "status", "-").stream().sorted().toList());
    }

    @Test
    void wordsOfLogResetAndHelpComplete() throws Exception {
        assertEquals(List.of("brief", "verbose"), complete("vmctl", "log", ""));
        assertEquals(List.of("verbose"), complete("vmctl", "log", "v"));
        assertEquals(List.of("all", "switches", "vms"), complete("vmctl", "reset", ""));
        assertEquals(List.of("show", "start", "stats", "status", "stop"), complete("vmctl", "help", "s"));
    }

    @Test
    void filesCompleteWhereACommandTakesAFile() throws Exception {
        Files.writeString(dir.resolve("web.qcow2"), "");
        Files.writeString(dir.resolve("vm.conf"), "");
        assertTrue(complete("vmctl", "start", "-d", "we").contains("web.qcow2"), "start -d");
        assertTrue(complete("vmctl", "load", "vm.").contains("vm.conf"), "load");
        assertTrue(complete("vmctl", "create", "-b", "web").contains("web.qcow2"), "create -b");
    }

    @Test
    void theScriptIsOneForBashAndZsh() {
        String s = Completion.bash();
        assertTrue(s.contains("complete -F _complete_vmctl"), "registers vmctl's completion");
        assertTrue(s.contains("ZSH_VERSION"), "zsh runs it through bashcompinit");
    }
}
