package org.jvmd.it.sim;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The classpath a simulator starts a device process (vionet-proc, vioblk-proc) with: the
 * device module and what it depends on, without the simulator, the other process modules
 * or test libraries. A device process preloads every {@code org.jvmd.} class on its
 * classpath before it drops privilege, so a narrow classpath is a faster start and loads
 * nothing the device does not run.
 *
 * <p>Found, in order: the system property {@code <property>}; the file named by
 * {@code <property>.file} (written by the it module's build with
 * dependency:build-classpath); this JVM's classpath without the {@code foreign} entries.
 */
public final class DeviceClasspath {
    private DeviceClasspath() {}

    /** Entries of a full classpath that no device process needs. */
    public static final List<String> NOT_A_DEVICE = List.of("/it/target/", "/control-proc/", "/vmm-proc/",
            "/vmctl/", "/test-classes", "junit", "jqwik", "opentest4j", "apiguardian", "surefire",
            "jvmd-it-", "jvmd-control-proc-", "jvmd-vmm-proc-", "jvmd-vmctl-", "picocli");

    /**
     * The classpath named by {@code property} or its file, else this JVM's without
     * {@code foreign}; a jar named twice, or also brought by a jar's manifest, once.
     */
    public static String find(String property, List<String> foreign) {
        return withoutDuplicates(given(property, foreign));
    }

    private static String given(String property, List<String> foreign) {
        String cp = System.getProperty(property);
        if (cp != null && !cp.isBlank()) {
            return cp.strip();
        }
        String file = System.getProperty(property + ".file");
        if (file != null && Files.isRegularFile(Path.of(file))) {
            try {
                return Files.readString(Path.of(file)).strip();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return filter(System.getProperty("java.class.path"), foreign);
    }

    /** {@code classpath} without the entries that contain one of {@code foreign}. */
    public static String filter(String classpath, List<String> foreign) {
        List<String> keep = new ArrayList<>();
        for (String e : classpath.split(File.pathSeparator)) {
            String n = e.replace('\\', '/');
            if (!e.isEmpty() && foreign.stream().noneMatch(n::contains)) {
                keep.add(e);
            }
        }
        return String.join(File.pathSeparator, keep);
    }

    /**
     * {@code classpath} without the jars the JVM would see twice. A module jar a reactor build
     * packaged (module/target/jvmd-*.jar) names its libraries in its manifest's Class-Path
     * (lib/..., which that build also fills), and the JVM adds those after the jar: the same
     * libraries listed on the class path as well are then searched and opened twice. An entry
     * that a jar's manifest brings, or that an earlier entry already named, is left out.
     * Only jars are matched by file name: class directories (bin/guest-sim's build-tree path,
     * module/target/classes) all end in {@code classes} and are told apart by their whole
     * path, else every module's classes but the first were dropped and vionet-proc did not
     * find its main class.
     */
    static String withoutDuplicates(String classpath) {
        java.util.Set<String> brought = new java.util.HashSet<>();
        for (String e : classpath.split(File.pathSeparator)) {
            if (!e.isEmpty()) {
                for (Path lib : manifestClassPath(Path.of(e))) {
                    brought.add(lib.getFileName().toString());
                }
            }
        }
        List<String> keep = new ArrayList<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (String e : classpath.split(File.pathSeparator)) {
            if (e.isEmpty()) {
                continue;
            }
            String name = e.endsWith(".jar") ? Path.of(e).getFileName().toString() : e;
            if (!brought.contains(name) && seen.add(name)) {
                keep.add(e);
            }
        }
        return String.join(File.pathSeparator, keep);
    }

    /** The existing files a jar's manifest Class-Path adds (resolved against the jar's directory). */
    static List<Path> manifestClassPath(Path jar) {
        List<Path> out = new ArrayList<>();
        if (!Files.isRegularFile(jar) || !jar.toString().endsWith(".jar")) {
            return out;
        }
        try (java.util.jar.JarFile j = new java.util.jar.JarFile(jar.toFile())) {
            java.util.jar.Manifest m = j.getManifest();
            String cp = m == null ? null : m.getMainAttributes().getValue(java.util.jar.Attributes.Name.CLASS_PATH);
            if (cp == null) {
                return out;
            }
            for (String rel : cp.trim().split("\\s+")) {
                Path p = jar.resolveSibling(rel);
                if (!rel.isEmpty() && Files.exists(p)) {
                    out.add(p);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not a readable jar: the JVM will not expand it either
        }
        return out;
    }
}
