package org.jvmd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real bin/ launchers (issue 11) with JAVA_TOOL_OPTIONS set, as containers and CI set it:
 * the JVM then prints "Picked up JAVA_TOOL_OPTIONS" first, which used to hide the JDK's
 * version from scripts/common.sh ("no JDK 25 or newer found"). bin/vmd checks and serves a
 * configuration, bin/vmctl builds its AOT cache on first use, answers with it, and a cache
 * the JVM cannot use leaves vmctl's output as it is. The modules are packaged before this
 * module's tests run.
 */
class LaunchersTest {
    static final Map<String, String> TOOL_OPTIONS = Map.of("JAVA_TOOL_OPTIONS", "-Xmx256m -Dissue=11");

    @TempDir
    Path dir;

    record Run(int status, String out, String err) {}

    static Run run(Map<String, String> env, String... cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        Path out = Files.createTempFile("launcher", ".out");
        Path err = Files.createTempFile("launcher", ".err");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", cmd) + ": still running after 120 s");
            }
            return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static String bin(String name) {
        Path p = NativeBoundaryTest.projectRoot().resolve("bin").resolve(name);
        assertTrue(Files.isExecutable(p), p.toString());
        return p.toString();
    }

    @Test
    void vmdAndVmctlLaunchersWorkWithJavaToolOptionsAndVmctlsAotCacheIsBuiltUsedAndSurvivesCorruption()
            throws Exception {
        Path root = NativeBoundaryTest.projectRoot();
        for (String jar : List.of("vmctl/target/jvmd-vmctl-0.1.0-SNAPSHOT.jar",
                "control-proc/target/jvmd-control-proc-0.1.0-SNAPSHOT.jar")) {
            assertTrue(Files.isRegularFile(root.resolve(jar)), jar + " is not built");
        }
        Path kernel = dir.resolve("bzImage");
        Files.writeString(kernel, "never booted");
        Path conf = dir.resolve("vm.conf");
        Files.writeString(conf, "vm \"launched\" {\n\tboot \"" + kernel + "\"\n\tdisable\n}\n");

        Run check = run(TOOL_OPTIONS, bin("vmd"), "-n", "-f", conf.toString());
        assertEquals(0, check.status(), check.err());
        assertTrue(check.err().contains("configuration OK"), check.err());

        Path sock = dir.resolve("vmd.sock");
        Path log = dir.resolve("vmd.log");
        ProcessBuilder pb = new ProcessBuilder(bin("vmd"), "-d", "-f", conf.toString(), "-s", sock.toString());
        pb.environment().putAll(TOOL_OPTIONS);
        Process vmd = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(sock)) {
                assertTrue(vmd.isAlive(), () -> "vmd ended: " + read(log));
                assertTrue(System.nanoTime() < end, () -> "no socket after 60 s: " + read(log));
                Thread.sleep(50);
            }
            Path cache = dir.resolve("aot/vmctl.aot");
            Map<String, String> env = new java.util.HashMap<>(TOOL_OPTIONS);
            env.put("JVMD_VMCTL_AOT_CACHE", cache.toString());

            Run first = run(env, bin("vmctl"), "-s", sock.toString(), "status"); // builds the cache
            assertStatus(first);
            assertTrue(Files.size(cache) > 0, "no AOT cache at " + cache);
            assertStatus(run(env, bin("vmctl"), "-s", sock.toString(), "status")); // starts with it

            // A cache the JVM cannot use (here: garbage that the launcher takes for current)
            // changes nothing on vmctl's stdout or status.
            Files.writeString(cache, "not an AOT cache");
            Files.setLastModifiedTime(cache, FileTime.fromMillis(System.currentTimeMillis() + 60_000));
            assertStatus(run(env, bin("vmctl"), "-s", sock.toString(), "status"));
        } finally {
            vmd.destroy();
            if (!vmd.waitFor(30, TimeUnit.SECONDS)) {
                vmd.destroyForcibly();
            }
        }
    }

    private static void assertStatus(Run r) {
        assertEquals(0, r.status(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(2, lines.size(), r.out());
        assertTrue(lines.get(0).trim().startsWith("ID"), r.out());
        assertTrue(lines.get(1).matches(" +1 +- +1 +512M +- +- +root +stopped launched"), r.out());
        // the JVM's own line about the options, and nothing else, on stderr
        assertEquals("Picked up JAVA_TOOL_OPTIONS: -Xmx256m -Dissue=11", r.err().strip(), r.err());
    }

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }
}
