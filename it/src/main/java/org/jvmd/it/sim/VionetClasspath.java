package org.jvmd.it.sim;

/**
 * The classpath vionet-proc is started with ({@link DeviceClasspath}): the system property
 * {@code jvmd.vionet.classpath}; the file named by {@code jvmd.vionet.classpath.file}
 * (written by the it module's build); this JVM's classpath without the entries that are
 * not vionet's.
 */
public final class VionetClasspath {
    private VionetClasspath() {}

    public static String find() {
        return DeviceClasspath.find("jvmd.vionet.classpath", DeviceClasspath.NOT_A_DEVICE);
    }

    /** {@code classpath} without the entries vionet never needs. */
    static String filter(String classpath) {
        return DeviceClasspath.filter(classpath, DeviceClasspath.NOT_A_DEVICE);
    }
}
