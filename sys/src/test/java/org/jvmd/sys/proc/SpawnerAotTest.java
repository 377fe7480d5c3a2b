package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A child starts with the AOT cache of its main class when the cache directory holds one,
 * and starts normally when it holds none or one the JVM rejects. The real-JVM cases run
 * javac's main class (in the JDK image, so it needs no class of ours on a jar-only class
 * path: a JVM does not record classes loaded from directories, as surefire's are).
 */
class SpawnerAotTest {
    private static final String MAIN = "com.sun.tools.javac.Main";

    @TempDir
    Path dir;

    @Test
    void withoutACacheTheChildKeepsItsSharingOptionAndPassesTheDirectoryOn() {
        List<String> argv = Spawner.java("t", MAIN).aotCacheDir(dir).command();
        assertTrue(argv.contains("-Xshare:auto"), argv.toString());
        assertFalse(argv.stream().anyMatch(a -> a.startsWith("-XX:AOTCache")), argv.toString());
        assertTrue(argv.contains("-D" + Spawner.AOT_CACHE_DIR_PROPERTY + "=" + dir), argv.toString());
        assertNull(Spawner.java("t", MAIN).aotCacheDir(dir).aotCache());
        assertFalse(Spawner.java("t", MAIN).aotCacheDir(null).command().stream()
                .anyMatch(a -> a.contains(Spawner.AOT_CACHE_DIR_PROPERTY)));
    }

    @Test
    void withACacheForItsMainClassTheChildUsesItInsteadOfSharing() throws IOException {
        Path cache = Files.writeString(Spawner.aotCacheFile(dir, MAIN), "placeholder");
        List<String> argv = Spawner.java("t", MAIN).aotCacheDir(dir).jvmOptions("-Xlog:aot=info").command();
        assertTrue(argv.contains("-XX:AOTCache=" + cache), argv.toString());
        assertFalse(argv.stream().anyMatch(a -> a.startsWith("-Xshare:")), argv.toString());
        // the JVM's own report of an unusable cache goes to stderr, and a caller's -Xlog comes after
        assertTrue(argv.indexOf("-Xlog:aot*=off") < argv.indexOf("-Xlog:aot*=warning:stderr")
                && argv.indexOf("-Xlog:aot*=warning:stderr") < argv.indexOf("-Xlog:aot=info"), argv.toString());
        assertEquals(cache, Spawner.java("t", MAIN).aotCacheDir(dir).aotCache());
        assertNull(Spawner.java("t", "other.Main").aotCacheDir(dir).aotCache());
    }

    @Test
    void aTrainedCacheIsUsedAndABrokenOneIsHarmless() throws Exception {
        Path jar = dir.resolve("empty.jar");
        try (OutputStream o = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(o, new Manifest())) {
            j.flush();
        }
        Path cacheDir = Files.createDirectory(dir.resolve("aot"));
        train(jar, Spawner.aotCacheFile(cacheDir, MAIN));

        String used = runChild(jar, cacheDir, "used");
        assertTrue(used.contains("javac "), used);
        assertTrue(used.contains("Using AOT-linked classes: true"), used);

        // A truncated cache: the JVM says so (on stderr, here the same file) and starts without it.
        Path cache = Spawner.aotCacheFile(cacheDir, MAIN);
        byte[] b = Files.readAllBytes(cache);
        Files.write(cache, java.util.Arrays.copyOf(b, 4096));
        String broken = runChild(jar, cacheDir, "broken");
        assertTrue(broken.contains("javac "), broken);
        assertFalse(broken.contains("Using AOT-linked classes: true"), broken);
    }

    /** A training run with the options Spawner gives (less -Xshare): javac -version. */
    private void train(Path jar, Path cache) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Spawner.DEFAULT_JVM_OPTIONS.stream().filter(o -> !o.startsWith("-Xshare:")).forEach(cmd::add);
        cmd.addAll(List.of("-XX:AOTCacheOutput=" + cache, "-cp", jar.toString(), MAIN, "-version"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("train.log").toFile())
                .start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "training did not end");
        assertEquals(0, p.exitValue(), Files.readString(dir.resolve("train.log")));
        assertTrue(Files.size(cache) > 0, Files.readString(dir.resolve("train.log")));
    }

    private String runChild(Path jar, Path cacheDir, String name) throws Exception {
        Path out = dir.resolve(name + ".out");
        try (Child c = Spawner.java(name, MAIN).classpath(jar.toString()).aotCacheDir(cacheDir)
                .jvmOptions("-Xlog:aot=info").args("-version").output(out).spawn()) {
            WaitStatus w = c.waitFor(120_000);
            assertNotNull(w, "the child did not exit");
            assertEquals(0, w.exitCode(), Files.readString(out));
        }
        return Files.readString(out);
    }
}
