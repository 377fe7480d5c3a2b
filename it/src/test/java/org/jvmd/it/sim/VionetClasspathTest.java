package org.jvmd.it.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * vionet's class path as a reactor build (scripts/test: mvn install) writes it: the module
 * jars it names carry a manifest Class-Path into their target/lib, which the same build
 * filled; the simulator used to hand vionet every library jar twice (issue 11).
 */
class VionetClasspathTest {
    @TempDir
    Path tmp;

    private static void jar(Path p, String classPath) throws IOException {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (classPath != null) {
            m.getMainAttributes().put(Attributes.Name.CLASS_PATH, classPath);
        }
        Files.createDirectories(p.getParent());
        try (OutputStream o = Files.newOutputStream(p); JarOutputStream j = new JarOutputStream(o, m)) {
            // a manifest is all it needs
        }
    }

    @Test
    void libraryJarsAModuleJarsManifestAlreadyBringsAreNotListedAgain() throws IOException {
        Path vionet = tmp.resolve("vionet-proc/target/jvmd-vionet-proc-0.1.0-SNAPSHOT.jar");
        jar(vionet, "lib/protobuf-java-4.33.5.jar lib/jnr-ffi-2.2.17.jar lib/jvmd-sys-0.1.0-SNAPSHOT.jar");
        for (String lib : new String[] {"protobuf-java-4.33.5.jar", "jnr-ffi-2.2.17.jar", "jvmd-sys-0.1.0-SNAPSHOT.jar"}) {
            jar(tmp.resolve("vionet-proc/target/lib").resolve(lib), null);
        }
        Path sys = tmp.resolve("sys/target/jvmd-sys-0.1.0-SNAPSHOT.jar");
        jar(sys, "lib/jnr-ffi-2.2.17.jar"); // sys/target/lib does not exist: its manifest adds nothing
        String m2 = tmp.resolve("m2").toString();
        String given = String.join(File.pathSeparator, sys.toString(), m2 + "/protobuf-java-4.33.5.jar",
                m2 + "/jnr-ffi-2.2.17.jar", m2 + "/jnr-constants-0.10.4.jar", vionet.toString(),
                m2 + "/protobuf-java-4.33.5.jar");
        String before = System.getProperty("jvmd.vionet.classpath");
        System.setProperty("jvmd.vionet.classpath", given);
        try {
            // What the vionet jar's manifest brings (sys, protobuf, jnr-ffi) comes from there
            // alone; jnr-constants, which nothing brings, stays once.
            assertEquals(String.join(File.pathSeparator, m2 + "/jnr-constants-0.10.4.jar", vionet.toString()),
                    VionetClasspath.find());
        } finally {
            if (before == null) {
                System.clearProperty("jvmd.vionet.classpath");
            } else {
                System.setProperty("jvmd.vionet.classpath", before);
            }
        }
    }

    @Test
    void classDirectoriesOfABuildTreeAreAllKeptThoughEachEndsInClasses() {
        // bin/guest-sim's class path: each jvmd module as module/target/classes
        String given = String.join(File.pathSeparator, "/tree/proto/target/classes", "/m2/protobuf-java-4.33.5.jar",
                "/tree/sys/target/classes", "/tree/virtio/target/classes", "/tree/vionet-proc/target/classes",
                "/tree/sys/target/classes", "/m2/protobuf-java-4.33.5.jar");
        assertEquals(String.join(File.pathSeparator, "/tree/proto/target/classes", "/m2/protobuf-java-4.33.5.jar",
                "/tree/sys/target/classes", "/tree/virtio/target/classes", "/tree/vionet-proc/target/classes"),
                DeviceClasspath.withoutDuplicates(given));
    }
}
