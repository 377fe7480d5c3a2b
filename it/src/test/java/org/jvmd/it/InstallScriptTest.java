package org.jvmd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * etc/install into a staging directory (--destdir): the layout an operator gets, shared with the
 * Debian package (launchers,
 * self-contained jars, the example vm.conf, the systemd unit pointing at the prefix, the
 * empty chroot, the log directory), and the installed daemon's jar checks the example
 * configuration on its own. The modules are packaged before this module's tests run.
 */
class InstallScriptTest {
    @TempDir
    Path dest;

    record Run(int status, String out) {}

    static Run run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out);
    }

    @Test
    void installLaysOutLaunchersJarsConfigUnitAndDirectoriesAndTheInstalledVmdChecksTheExample() throws Exception {
        Path root = NativeBoundaryTest.projectRoot();
        Run r = run(List.of("bash", root.resolve("etc/install").toString(), "--prefix", "/opt/jvmd",
                "--destdir", dest.toString()));
        assertEquals(0, r.status(), r.out());
        Path prefix = dest.resolve("opt/jvmd");
        for (String launcher : new String[] {"sbin/vmd", "bin/vmctl"}) {
            Path l = prefix.resolve(launcher);
            assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(l)), l.toString());
            assertTrue(Files.readString(l).contains("/opt/jvmd/lib/jvmd/"), Files.readString(l));
        }
        for (String m : new String[] {"control-proc", "vmctl", "vmm-proc", "vionet-proc", "vioblk-proc"}) {
            Path jar = prefix.resolve("lib/jvmd").resolve(m).resolve("jvmd-" + m + ".jar");
            assertTrue(Files.isRegularFile(jar), jar + ": " + r.out());
        }
        assertTrue(Files.isRegularFile(dest.resolve("etc/vm.conf")));
        String unit = Files.readString(dest.resolve("etc/systemd/system/vmd.service"));
        assertTrue(unit.contains("ExecStart=/opt/jvmd/sbin/vmd -d -f /etc/vm.conf"), unit);
        assertTrue(unit.contains("ExecStartPre=/opt/jvmd/sbin/vmd -n -f /etc/vm.conf"), unit);
        assertTrue(Files.isDirectory(dest.resolve("var/empty")));
        assertFalse(Files.exists(dest.resolve("var/empty/vmd")), "the chroot of VM processes is /var/empty itself");
        assertTrue(Files.isDirectory(dest.resolve("var/log/vmd")));

        // The installed jars stand alone: vmd checks the installed example (its guest files given
        // as macros: the example's own paths exist only where an operator put a guest), vmctl
        // prints its usage.
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> vmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp",
                prefix.resolve("lib/jvmd/control-proc/jvmd-control-proc.jar").toString(), "org.jvmd.vmd.Vmd",
                "-n", "-D", "guest_kernel=" + root.resolve("etc/install"), "-D", "guest_initrd=" + root.resolve("etc/install"),
                "-f", prefix.resolve("share/doc/jvmd/examples/vm.conf").toString()));
        Run check = run(vmd);
        assertEquals(0, check.status(), check.out());
        assertTrue(check.out().lines().anyMatch(l -> l.equals("configuration OK")), check.out());
        Run usage = run(List.of(java, "--enable-native-access=ALL-UNNAMED", "-jar",
                prefix.resolve("lib/jvmd/vmctl/jvmd-vmctl.jar").toString()));
        assertEquals(1, usage.status(), usage.out());
        assertTrue(usage.out().startsWith("usage:\tvmctl [-v] [-s socket] command"), usage.out());
        Run help = run(List.of(java, "--enable-native-access=ALL-UNNAMED", "-jar",
                prefix.resolve("lib/jvmd/vmctl/jvmd-vmctl.jar").toString(), "--help"));
        assertEquals(0, help.status(), help.out());
        assertTrue(help.out().startsWith("usage:\tvmctl [-v] [-s socket] command"), help.out());

        // vmctl's shell completion, generated from its command model at install time
        Path completion = prefix.resolve("share/bash-completion/completions/vmctl");
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(completion)));
        String script = Files.readString(completion);
        assertTrue(script.contains("complete -F _complete_vmctl") && script.contains("_picocli_vmctl_start"), script);
    }
}
