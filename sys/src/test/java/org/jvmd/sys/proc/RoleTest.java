package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class RoleTest {
    @Test
    void spawnerOfARoleStartsItsMainClassWithDefaultsThenItsOptions() {
        List<String> cmd = Spawner.role(Role.VIONET, "vm/a/vionet0").classpath("x.jar").aotCacheDir(null).command();
        assertEquals(Role.VIONET.allJvmOptions(), cmd.subList(1, cmd.size() - 3));
        assertEquals(List.of("-cp", "x.jar", "org.jvmd.vionet.VionetMain"), cmd.subList(cmd.size() - 3, cmd.size()));
        List<String> vmm = Role.VMM.allJvmOptions();
        assertEquals(Spawner.DEFAULT_JVM_OPTIONS, vmm.subList(0, Spawner.DEFAULT_JVM_OPTIONS.size()));
        assertEquals(List.of("-Xmn8m", "-XX:TieredStopAtLevel=1", "-XX:+ErrorFileToStderr"),
                vmm.subList(Spawner.DEFAULT_JVM_OPTIONS.size(), vmm.size()), "vmm-proc: C1 only, a small young generation");
    }

    @Test
    void everyProcessOfAVmBoundsItsYoungGeneration() {
        // the JVM's default young generation is a third of the initial heap (1/64 of the host's
        // memory, up to -Xmx), filled once while the process starts and resident from then on
        for (Role r : List.of(Role.VMM, Role.VIONET, Role.VIOBLK)) {
            assertTrue(r.jvmOptions().stream().anyMatch(o -> o.matches("-Xmn[0-9]+m")), r + ": " + r.jvmOptions());
        }
    }

    @Test
    void emptyUserAndChrootMeanTheRoleDefaults() throws Exception {
        for (Role r : Role.values()) {
            assertEquals("_vmd", r.user(""));
            assertEquals("_vmd", r.user(null));
            assertEquals("nobody", r.user("nobody"));
            assertEquals(Path.of("/srv/empty"), r.chroot("/srv/empty"));
        }
    }

    @Test
    void scriptsReadTheOptionsOfARole() {
        assertEquals(String.join(" ", Role.VIOBLK.allJvmOptions()) + "\n", run(0, "vioblk-proc"));
        String noShare = run(0, "--no-share", "vmm-proc", "vionet-proc");
        assertEquals(2, noShare.lines().count(), noShare);
        assertTrue(noShare.lines().toList().get(1).endsWith(" -Xmx64m -XX:+ErrorFileToStderr") && !noShare.contains("-Xshare"),
                noShare);
        assertTrue(Role.VMM.allJvmOptions().stream().noneMatch(o -> o.contains(" ")), "blank-separated for scripts");
        run(2);
        assertEquals("org.jvmd.vmm.VmmMain\n", run(0, "--main", "vmm-proc"));
        run(2, "no-such-proc");
        assertThrows(IllegalArgumentException.class, () -> Role.of("vmd"));
    }

    @Test
    void eachRoleHasItsSeccompProfile() {
        assertEquals(List.of("vmm", "vionet", "disk", "control"), java.util.Arrays.stream(Role.values()).map(Role::seccompProfile).toList());
        for (Role r : Role.values()) {
            assertTrue(r.seccomp().build() != null);
        }
    }

    private static String run(int status, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(status, Role.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)), err.toString(StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }
}
