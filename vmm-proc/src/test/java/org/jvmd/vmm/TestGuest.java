package org.jvmd.vmm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.jvmd.testkit.Host;

/**
 * Finds the real test guest (a Debian cloud kernel and an initramfs): the system
 * properties {@code jvmd.guest.kernel} / {@code jvmd.guest.initrd} (what scripts/lab-test
 * passes) or {@code jvmd.test.kernel} / {@code jvmd.test.initrd}, else the output of
 * {@code scripts/test-guest} (guest/cache/), else a kernel unpacked by hand into
 * build/guest/. Paths are tried relative to the module and to the checkout root.
 */
public final class TestGuest {
    private TestGuest() {
    }

    public static Optional<Path> kernel() {
        return find("jvmd.guest.kernel", "jvmd.test.kernel", "guest/cache/vmlinuz", "build/guest/vmlinuz");
    }

    public static Optional<Path> initrd() {
        return find("jvmd.guest.initrd", "jvmd.test.initrd", "guest/cache/initramfs.gz", "build/guest/initrd.gz");
    }

    /**
     * The classpath a child JVM needs to run this module's code: this JVM's, plus the URLs
     * of the class loader that loaded the tests (the JUnit ConsoleLauncher run with
     * {@code -jar ... --class-path} loads them through its own URLClassLoader).
     */
    public static String classpath() {
        java.util.LinkedHashSet<String> entries = new java.util.LinkedHashSet<>();
        ClassLoader l = TestGuest.class.getClassLoader();
        while (l != null) {
            if (l instanceof java.net.URLClassLoader u) {
                for (java.net.URL url : u.getURLs()) {
                    try {
                        entries.add(Path.of(url.toURI()).toString());
                    } catch (java.net.URISyntaxException | IllegalArgumentException e) {
                        // not a file: skip
                    }
                }
            }
            l = l.getParent();
        }
        entries.addAll(java.util.List.of(System.getProperty("java.class.path").split(java.io.File.pathSeparator)));
        return String.join(java.io.File.pathSeparator, entries);
    }

    /**
     * Skips (loudly) unless /dev/kvm can run a stock kernel (hardware KVM, or kvm_amd
     * inside kvm-lab) and the test guest exists; returns {kernel, initrd}.
     */
    public static Path[] assumeRealKvmAndGuest() {
        Host.assumeRealKvm("real-guest test");
        Path k = kernel().orElse(null);
        Path i = initrd().orElse(null);
        Host.skipIf(k != null && i != null ? java.util.Optional.empty() : java.util.Optional.of(
                "no test guest (run scripts/test-guest, or set -Djvmd.test.kernel/-Djvmd.test.initrd)"), "real-guest test");
        return new Path[] {k, i};
    }

    /**
     * The classpath for a vmm-proc child: {@link #classpath()} without the test classes and
     * the JUnit launcher (Shed preloads every org.jvmd class on it before the chroot).
     */
    public static String childClasspath() {
        return java.util.Arrays.stream(classpath().split(java.io.File.pathSeparator))
                .filter(e -> !e.contains("test-classes") && !e.contains("junit-platform-console"))
                .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
    }

    private static Optional<Path> find(String property, String property2, String... candidates) {
        for (String prop : new String[] {property, property2}) {
            String p = System.getProperty(prop);
            if (p != null && !p.isEmpty()) {
                return Optional.of(Path.of(p)).filter(Files::isReadable);
            }
        }
        for (String c : candidates) {
            for (Path base : new Path[] {Path.of(""), Path.of("..")}) {
                Path f = base.resolve(c).toAbsolutePath().normalize();
                if (Files.isReadable(f)) {
                    return Optional.of(f);
                }
            }
        }
        return Optional.empty();
    }
}
