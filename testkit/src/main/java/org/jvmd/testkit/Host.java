package org.jvmd.testkit;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * What a test may need of the host, each answered as "present" or the one reason it is
 * missing, and one way to skip: a single loud line on stderr,
 * {@code jvmd-test: SKIPPED <test>: <reason>}, then a JUnit abort (counted as skipped).
 *
 * <p>Machines of this project differ: some have {@code /dev/kvm} from kvm_pvm (tiny guests
 * only), some have none. {@code -Djvmd.test.hideKvm=true} makes every check here answer as
 * on a machine without {@code /dev/kvm}, so the host phase of the suite can be run as it
 * runs there (scripts/test passes it through {@code JVMD_TEST_HIDE_KVM=1}).
 */
public final class Host {
    /** System property: answer as if this machine had no /dev/kvm. */
    public static final String HIDE_KVM = "jvmd.test.hideKvm";
    static final Path DEV_KVM = Path.of("/dev/kvm");
    static final Path KVM_PVM = Path.of("/sys/module/kvm_pvm");

    private Host() {}

    /** The checkout's root: the nearest directory at or above the working directory with parent/pom.xml. */
    public static Path projectRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("parent/pom.xml"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("project root not found above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    /** Why {@code /dev/kvm} cannot be used here, or empty when it can (tiny guests). */
    public static Optional<String> missingKvm() {
        if (Boolean.getBoolean(HIDE_KVM)) {
            return Optional.of("no /dev/kvm (hidden by -D" + HIDE_KVM + ")");
        }
        if (!Files.exists(DEV_KVM)) {
            return Optional.of("no /dev/kvm on this machine");
        }
        return Optional.empty();
    }

    /**
     * Why a stock Linux kernel cannot boot under this machine's KVM (none, or kvm_pvm,
     * which runs only purpose-built guests), or empty when it can (hardware KVM, or
     * kvm_amd inside kvm-lab). Such tests run in the lab phase: scripts/lab-test.
     */
    public static Optional<String> missingRealKvm() {
        Optional<String> kvm = missingKvm();
        if (kvm.isPresent()) {
            return kvm.map(r -> r + "; real-guest tests run in scripts/lab-test");
        }
        if (Files.exists(KVM_PVM)) {
            return Optional.of("/dev/kvm is kvm_pvm, which cannot boot a stock kernel; real-guest tests run in scripts/lab-test");
        }
        return Optional.empty();
    }

    /** How many descriptors this JVM has open (/proc/self/fd), for leak checks around a test. */
    public static long openFds() throws java.io.IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** Why the test cannot have root's rights, or empty. */
    public static Optional<String> missingRoot() {
        return isRoot() ? Optional.empty()
                : Optional.of("needs root (network namespaces, taps, privilege drop); running as " + System.getProperty("user.name"));
    }

    /** The executables of {@code tools} not on PATH (nor in /usr/sbin, /sbin), as one reason, or empty. */
    public static Optional<String> missingTools(String... tools) {
        List<String> missing = new ArrayList<>();
        for (String t : tools) {
            if (which(t).isEmpty()) {
                missing.add(t);
            }
        }
        return missing.isEmpty() ? Optional.empty() : Optional.of("not installed: " + String.join(", ", missing));
    }

    /** Where {@code tool} is, looked up on PATH plus the sbin directories root's PATH has. */
    public static Optional<Path> which(String tool) {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)));
        dirs.addAll(List.of("/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"));
        for (String d : dirs) {
            if (d.isEmpty()) {
                continue;
            }
            Path p = Path.of(d, tool);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** Skips the calling test when {@code why} is present: one line on stderr, then a JUnit abort. */
    public static void skipIf(Optional<String> why, String test) {
        if (why.isPresent()) {
            Assumptions.abort(announce(test, why.get()));
        }
    }

    /** Skips unless {@code /dev/kvm} is usable ({@link #missingKvm}). */
    public static void assumeKvm(String test) {
        skipIf(missingKvm(), test);
    }

    /** Skips unless a stock kernel can boot here ({@link #missingRealKvm}). */
    public static void assumeRealKvm(String test) {
        skipIf(missingRealKvm(), test);
    }

    public static void assumeRoot(String test) {
        skipIf(missingRoot(), test);
    }

    public static void assumeTools(String test, String... tools) {
        skipIf(missingTools(tools), test);
    }

    /** Prints the one skip line and returns the message for JUnit. */
    static String announce(String test, String why) {
        String line = "SKIPPED " + test + ": " + why;
        System.err.println("jvmd-test: " + line);
        return line;
    }
}
