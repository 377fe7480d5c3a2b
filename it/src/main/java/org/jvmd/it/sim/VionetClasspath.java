package org.jvmd.it.sim;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The classpath vionet-proc is started with: vionet-proc and what it depends on, without
 * the simulator, the other process modules or test libraries. vionet preloads every
 * {@code org.jvmd.} class on its classpath before it drops privilege, so a narrow classpath
 * is a faster start and loads nothing vionet does not run.
 *
 * <p>Found, in order: the system property {@code jvmd.vionet.classpath}; the file named by
 * {@code jvmd.vionet.classpath.file} (written by the it module's build with
 * dependency:build-classpath); this JVM's classpath without the entries that are not
 * vionet's.
 */
public final class VionetClasspath {
    private VionetClasspath() {}

    /** Entries of a full classpath that vionet never needs. */
    private static final List<String> FOREIGN = List.of("/it/target/", "/control-proc/", "/vmm-proc/",
            "/vmctl/", "/test-classes", "junit", "jqwik", "opentest4j", "apiguardian", "surefire",
            "jvmd-it-", "jvmd-control-proc-", "jvmd-vmm-proc-", "jvmd-vmctl-", "picocli");

    public static String find() {
        String cp = System.getProperty("jvmd.vionet.classpath");
        if (cp != null && !cp.isBlank()) {
            return cp.strip();
        }
        String file = System.getProperty("jvmd.vionet.classpath.file");
        if (file != null && Files.isRegularFile(Path.of(file))) {
            try {
                return Files.readString(Path.of(file)).strip();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return filter(System.getProperty("java.class.path"));
    }

    /** {@code classpath} without the entries of {@link #FOREIGN}. */
    static String filter(String classpath) {
        List<String> keep = new ArrayList<>();
        for (String e : classpath.split(File.pathSeparator)) {
            String n = e.replace('\\', '/');
            if (!e.isEmpty() && FOREIGN.stream().noneMatch(n::contains)) {
                keep.add(e);
            }
        }
        return String.join(File.pathSeparator, keep);
    }
}
