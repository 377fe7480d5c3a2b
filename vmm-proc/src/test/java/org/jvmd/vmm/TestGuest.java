package org.jvmd.vmm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the real test guest (a Debian cloud kernel and an initramfs): the system
 * properties {@code jvmd.test.kernel} / {@code jvmd.test.initrd}, else the output of
 * {@code scripts/test-guest} (guest/cache/), else a kernel unpacked by hand into
 * build/guest/. Paths are tried relative to the module and to the checkout root.
 */
public final class TestGuest {
    private TestGuest() {
    }

    public static Optional<Path> kernel() {
        return find("jvmd.test.kernel", "guest/cache/vmlinuz", "build/guest/vmlinuz");
    }

    public static Optional<Path> initrd() {
        return find("jvmd.test.initrd", "guest/cache/initramfs.gz", "build/guest/initrd.gz");
    }

    private static Optional<Path> find(String property, String... candidates) {
        String p = System.getProperty(property);
        if (p != null && !p.isEmpty()) {
            return Optional.of(Path.of(p)).filter(Files::isReadable);
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
