package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.testkit.Shell;

/** The outside judge: runs qemu-img / qemu-io (Debian qemu-utils, installed by scripts/setup). */
public final class QemuImg {
    public record Run(int status, String out) {
    }

    private QemuImg() {
    }

    public static Run run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(args));
        assertTrue(Files.isExecutable(Path.of("/usr/bin/" + cmd.get(0))),
                cmd.get(0) + " missing: run scripts/setup (installs qemu-utils)");
        Shell.Result r = Shell.run(Duration.ofSeconds(60), cmd);
        assertTrue(!r.timedOut(), "timeout: " + cmd + "\n" + r.output());
        return new Run(r.status(), r.output());
    }

    /** Runs and asserts exit 0; returns the output. */
    public static String ok(String... args) throws IOException, InterruptedException {
        Run r = run(args);
        assertEquals(0, r.status(), String.join(" ", args) + ":\n" + r.out());
        return r.out();
    }

    /** qemu-img check: exit 0 (clean) or, if leaksAllowed, 3 (leaked clusters only); never 2 (corruption). */
    public static String check(Path img, boolean leaksAllowed) throws IOException, InterruptedException {
        Run r = run("qemu-img", "check", img.toString());
        if (leaksAllowed) {
            assertTrue(r.status() == 0 || r.status() == 3, "qemu-img check " + img + ": " + r.status() + "\n" + r.out());
        } else {
            assertEquals(0, r.status(), "qemu-img check " + img + ":\n" + r.out());
        }
        return r.out();
    }

    /** qemu-img convert -O raw of img, as bytes. */
    public static byte[] toRaw(Path img, Path dir) throws IOException, InterruptedException {
        Path raw = Files.createTempFile(dir, "raw", ".img");
        ok("qemu-img", "convert", "-O", "raw", img.toString(), raw.toString());
        byte[] b = Files.readAllBytes(raw);
        Files.delete(raw);
        return b;
    }
}
