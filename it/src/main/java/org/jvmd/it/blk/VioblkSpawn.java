package org.jvmd.it.blk;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.jvmd.it.sim.DeviceClasspath;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Spawner;
import org.jvmd.vioblk.VioblkMain;

/**
 * How vioblk-proc is started: its main class, JVM options and classpath, in this one place.
 *
 * <p>{@link #start} is vmm-proc's {@code VioblkProxy.startEarly}, so that the simulator
 * starts vioblk exactly as a VM does (a test may add JVM options after those).
 */
public final class VioblkSpawn {
    private VioblkSpawn() {}

    /** vioblk-proc's main class. */
    public static final String MAIN_CLASS = VioblkMain.MAIN_CLASS;

    /** Entries of a full classpath that vioblk never needs. */
    public static final List<String> FOREIGN = java.util.stream.Stream.concat(DeviceClasspath.NOT_A_DEVICE.stream(),
            java.util.stream.Stream.of("/vionet-proc/", "jvmd-vionet-proc-")).toList();

    /**
     * vioblk's classpath: {@code jvmd.vioblk.classpath}, the file named by
     * {@code jvmd.vioblk.classpath.file} (the it module's build writes
     * it/target/vioblk.classpath), or this JVM's without what vioblk never needs.
     */
    public static String classpath() {
        return DeviceClasspath.find("jvmd.vioblk.classpath", FOREIGN);
    }

    /**
     * Starts vioblk-proc {@code title}; it waits for its VioblkInit. {@code output}: its
     * stdout+stderr (appended), or null to inherit; {@code classpath}: null for
     * {@link #classpath()}; {@code extraJvmOptions} go last (a later option wins).
     */
    public static Child start(String title, Path output, String classpath, List<String> extraJvmOptions)
            throws IOException {
        String cp = classpath != null ? classpath : classpath();
        if (extraJvmOptions.isEmpty()) {
            return org.jvmd.vmm.blk.VioblkProxy.startEarly(title, output, cp);   // exactly as a VM starts it
        }
        return spawner(title, output, cp).jvmOptions(extraJvmOptions.toArray(String[]::new)).spawn();
    }

    /** vioblk-proc as a VM starts it (the role's main class and JVM options, org.jvmd.sys.proc.Role). */
    public static Spawner spawner(String title, Path output, String classpath) {
        return org.jvmd.vmm.blk.VioblkProxy.spawner(title, output, classpath);
    }
}
