package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The parts of the drop that can be checked without dropping this (the test) JVM: every
 * case here must fail in drop()'s checks, before its first chroot/setresuid. The real drop
 * runs in a child JVM (SpawnTest).
 */
class ShedTest {
    @TempDir
    Path dir;

    @Test
    void preloadFindsClassesInDirectoriesJarsAndTheJarsTheirManifestNames() throws Exception {
        Path lib = Files.createDirectories(dir.resolve("lib"));
        jar(lib.resolve("dep.jar"), null, "com/example/dep/A.class", "com/example/other/B.class");
        jar(dir.resolve("app.jar"), "lib/dep.jar", "com/example/app/Main.class");
        String saved = System.getProperty("java.class.path");
        try {
            System.setProperty("java.class.path", dir.resolve("app.jar").toString());
            List<String> found = Shed.classNamesOnClasspath(List.of("com.example.app", "com.example.dep"));
            assertEquals(List.of("com.example.app.Main", "com.example.dep.A"), found.stream().sorted().toList());
        } finally {
            System.setProperty("java.class.path", saved);
        }
        // and the real classpath (directories under target/) has this module's classes
        assertTrue(Shed.classNamesOnClasspath(List.of("org.jvmd.sys.")).contains(Shed.class.getName()));
    }

    @Test
    void theChrootMustBeAnEmptyDirectory() throws Exception {
        Files.writeString(dir.resolve("something"), "x");
        IOException e = assertThrows(IOException.class, () -> Shed.to("_vmd").chroot(dir).drop());
        assertEquals("chroot " + dir + ": not empty (something)", e.getMessage());
    }

    @Test
    void anUnknownUserIsAClearError() {
        IOException e = assertThrows(IOException.class,
                () -> Shed.to("jvmd-no-such-user").chroot(dir).drop());
        assertTrue(e.getMessage().startsWith("getpwnam(jvmd-no-such-user): no such user"), e.getMessage());
    }

    @Test
    void droppingToRootIsRefused() {
        IOException e = assertThrows(IOException.class, () -> Shed.to("root").chroot(dir).drop());
        assertEquals("refusing to drop to root: it is root", e.getMessage());
    }

    private static void jar(Path file, String classPath, String... entries) throws IOException {
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (classPath != null) {
            mf.getMainAttributes().put(Attributes.Name.CLASS_PATH, classPath);
        }
        try (OutputStream os = Files.newOutputStream(file); JarOutputStream jar = new JarOutputStream(os, mf)) {
            for (String e : entries) {
                jar.putNextEntry(new JarEntry(e));
                jar.write(new byte[] {(byte) 0xca, (byte) 0xfe});
                jar.closeEntry();
            }
        }
    }
}
