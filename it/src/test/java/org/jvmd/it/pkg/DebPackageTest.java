package org.jvmd.it.pkg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.jvmd.testkit.Shell;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jvmd.testkit.Host;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/deb's package: its name, control fields, conffiles, maintainer scripts and files
 * (dpkg-deb -I/-c), and the bundled runtime runs the packaged vmd and vmctl.
 */
class DebPackageTest {
    @TempDir
    Path dir;

    @Test
    void controlFieldsNameAConffileAndNoJdkDependency() throws Exception {
        Host.assumeTools("DebPackageTest", "dpkg-deb");
        Path deb = DebPackage.get();
        assertTrue(deb.getFileName().toString().matches("jvmd_0\\.1\\.0~snapshot(\\+git[0-9]{12}\\.[0-9a-f]+)?_amd64\\.deb"),
                deb.toString());
        Map<String, String> f = new HashMap<>();
        for (String field : List.of("Package", "Version", "Architecture", "Depends", "Maintainer", "Installed-Size",
                "Description")) {
            f.put(field, Shell.sh(List.of("dpkg-deb", "-f", deb.toString(), field)).strip());
        }
        assertEquals("jvmd", f.get("Package"));
        assertEquals("amd64", f.get("Architecture"));
        assertTrue(deb.getFileName().toString().contains("_" + f.get("Version") + "_"), f.toString());
        // Only what every Debian 12 has: the package installs offline; no JDK package.
        assertEquals("libc6 (>= 2.36), passwd", f.get("Depends"));
        assertFalse(f.get("Depends").contains("jdk") || f.get("Depends").contains("jre"));
        assertTrue(Long.parseLong(f.get("Installed-Size")) > 10_000, f.toString());
        String info = Shell.sh(List.of("dpkg-deb", "-I", deb.toString()));
        for (String script : List.of("postinst", "prerm", "postrm", "conffiles", "control")) {
            assertTrue(Pattern.compile("^\\s+\\d+ bytes,\\s+\\d+ lines\\s+\\*?\\s*" + script + "\\b", Pattern.MULTILINE)
                    .matcher(info).find(), script + " in:\n" + info);
        }
        Path x = dir.resolve("control");
        Shell.sh(List.of("dpkg-deb", "-e", deb.toString(), x.toString()));
        assertEquals("/etc/vm.conf", Files.readString(x.resolve("conffiles")).strip());
        String postinst = Files.readString(x.resolve("postinst"));
        assertTrue(postinst.contains("systemd-sysusers /usr/lib/sysusers.d/jvmd.conf"), postinst);
        assertTrue(postinst.contains("systemd-tmpfiles --create /usr/lib/tmpfiles.d/jvmd.conf"), postinst);
    }

    @Test
    void filesAreTheSharedLayoutWithABundledRuntime() throws Exception {
        Host.assumeTools("DebPackageTest", "dpkg-deb");
        Path deb = DebPackage.get();
        String listing = Shell.sh(List.of("dpkg-deb", "-c", deb.toString()));
        Map<String, String> modes = new HashMap<>();
        Matcher m = Pattern.compile("^(\\S+) (\\S+)\\s+\\d+ \\S+ \\S+ \\.(/\\S*)", Pattern.MULTILINE).matcher(listing);
        while (m.find()) {
            assertEquals("root/root", m.group(2), m.group());
            modes.put(m.group(3), m.group(1));
        }
        for (String exe : List.of("/usr/sbin/vmd", "/usr/bin/vmctl", "/usr/lib/jvmd/runtime/bin/java")) {
            assertEquals("-rwxr-xr-x", modes.get(exe), exe + " in:\n" + listing);
        }
        for (String file : List.of("/etc/vm.conf", "/lib/systemd/system/vmd.service",
                "/usr/lib/sysusers.d/jvmd.conf", "/usr/lib/tmpfiles.d/jvmd.conf",
                "/usr/lib/jvmd/control-proc/jvmd-control-proc.jar", "/usr/lib/jvmd/vmctl/jvmd-vmctl.jar",
                "/usr/lib/jvmd/vmm-proc/jvmd-vmm-proc.jar", "/usr/lib/jvmd/vionet-proc/jvmd-vionet-proc.jar",
                "/usr/lib/jvmd/vioblk-proc/jvmd-vioblk-proc.jar",
                "/usr/lib/jvmd/runtime/lib/server/classes.jsa",
                "/usr/share/man/man8/vmd.8.gz", "/usr/share/man/man8/vmctl.8.gz", "/usr/share/man/man5/vm.conf.5.gz",
                "/usr/share/doc/jvmd/copyright", "/usr/share/doc/jvmd/examples/vm.conf",
                "/usr/share/bash-completion/completions/vmctl")) {
            assertEquals("-rw-r--r--", modes.get(file), file + " in:\n" + listing);
        }
        // Nothing under /var or /run: tmpfiles.d makes those directories.
        assertFalse(modes.keySet().stream().anyMatch(p -> p.startsWith("/var/") || p.startsWith("/run/")), listing);

        // The packaged files run on their own runtime: unpacked, vmd checks a configuration
        // and the runtime is Java 25.
        Path x = dir.resolve("root");
        Shell.sh(List.of("dpkg-deb", "-x", deb.toString(), x.toString()));
        Path java = x.resolve("usr/lib/jvmd/runtime/bin/java");
        String version = Shell.sh(List.of(java.toString(), "-version"));
        assertTrue(version.contains("version \"25"), version);
        Path conf = dir.resolve("vm.conf");
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "");
        Files.writeString(conf, "vm \"a\" {\n\tmemory 64M\n\tboot \"" + kernel + "\"\n\tdisable\n}\n");
        String check = Shell.sh(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "-jar", x.resolve("usr/lib/jvmd/control-proc/jvmd-control-proc.jar").toString(), "-n", "-f", conf.toString()));
        assertTrue(check.lines().anyMatch(l -> l.equals("configuration OK")), check);
        String unit = Files.readString(x.resolve("lib/systemd/system/vmd.service"));
        assertTrue(unit.contains("\nType=notify\n") && unit.contains("\nExecStart=/usr/sbin/vmd -d -f /etc/vm.conf\n"), unit);
        assertTrue(Files.readString(x.resolve("usr/sbin/vmd")).contains("exec \"/usr/lib/jvmd/runtime/bin/java\""));
    }
}
