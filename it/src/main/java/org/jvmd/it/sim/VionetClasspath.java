package org.jvmd.it.sim;

import java.util.List;
import java.util.stream.Stream;

/**
 * The classpath vionet-proc is started with ({@link DeviceClasspath}): the system property
 * {@code jvmd.vionet.classpath}; the file named by {@code jvmd.vionet.classpath.file}
 * (written by the it module's build); this JVM's classpath without the entries that are
 * not vionet's.
 */
public final class VionetClasspath {
    private VionetClasspath() {}

    /** Entries of a full classpath that vionet never needs: no device's, and the disk process's. */
    static final List<String> FOREIGN = Stream.concat(DeviceClasspath.NOT_A_DEVICE.stream(),
            Stream.of("/vioblk-proc/", "jvmd-vioblk-proc-")).toList();

    public static String find() {
        return DeviceClasspath.find("jvmd.vionet.classpath", FOREIGN);
    }

    /** {@code classpath} without the entries vionet never needs. */
    static String filter(String classpath) {
        return DeviceClasspath.filter(classpath, FOREIGN);
    }
}
