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

    /** The classpath named by {@code property} or its file, else this JVM's without {@code foreign}. */
    public static String find(String property, List<String> foreign) {
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
}
