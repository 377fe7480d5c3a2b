package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** vmd refuses to start when its VM processes could not drop privileges. */
class VmdStartTest {
    @TempDir
    Path dir;

    @Test
    void aMissingUnprivilegedUserIsOneClearLineAtStart() throws Exception {
        Path conf = Files.writeString(dir.resolve("vm.conf"), "");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Vmd.run(new String[] {"-d", "-f", conf.toString(), "-s", dir.resolve("sock").toString()},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                "jvmd-no-such-user");
        assertEquals(1, status);
        assertEquals("vmd: user jvmd-no-such-user does not exist: run etc/install or scripts/setup\n",
                err.toString(StandardCharsets.UTF_8));
        assertEquals("", out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aChrootThatIsNotEmptyIsOneClearLineAtStart() throws Exception {
        Path conf = Files.writeString(dir.resolve("vm.conf"), "");
        Path root = Files.createDirectory(dir.resolve("root"));
        Files.writeString(root.resolve("stray"), "x");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Vmd.run(new String[] {"-d", "-f", conf.toString(), "-s", dir.resolve("sock").toString()},
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), "nobody", root.toString());
        assertEquals(1, status);
        assertEquals("vmd: chroot " + root + ": not empty (stray): every VM process chroots there\n",
                err.toString(StandardCharsets.UTF_8));
        assertEquals("chroot " + dir.resolve("none") + ": not a directory: every VM process chroots there",
                Vmd.unusableChroot(dir.resolve("none").toString()));
        Files.delete(root.resolve("stray"));
        assertNull(Vmd.unusableChroot(root.toString()));
    }

    @Test
    void theDefaultUserIsVmdAndRootIsRefused() {
        assertEquals("_vmd", Vmd.vmmUser());
        assertEquals("user root is root: VM processes must drop to an unprivileged user", Vmd.unusableUser("root"));
        Assumptions.assumeTrue(Vmd.unusableUser("nobody") == null || !Vmd.unusableUser("nobody").contains("exist"),
                "no user nobody here");
        assertNull(Vmd.unusableUser("nobody"));
    }

    @Test
    void vmdStartsVmmProcFromItsRoleRowAsTheScriptsDo() {
        java.util.List<String> cmd = VmmProcSpawner.spawner("web").classpath("vmm.jar").aotCacheDir(null).command();
        java.util.List<String> expected = new java.util.ArrayList<>(java.util.List.of(cmd.get(0)));
        expected.addAll(org.jvmd.sys.proc.Role.VMM.allJvmOptions()); // what scripts/bench-boot and aot-cache read
        expected.addAll(java.util.List.of("-cp", "vmm.jar", "org.jvmd.vmm.VmmMain"));
        assertEquals(expected, cmd);
    }

    /** A vmm-proc of the warm pool starts exactly as one spawned for its VM: nothing marks it. */
    @Test
    void aWarmPoolVmmProcHasTheCommandLineOfOneSpawnedForItsVm() {
        assertEquals(VmmProcSpawner.spawner("web").command(), VmmProcSpawner.spawner(VmmProcSpawner.POOL_TITLE).command());
    }

    /** vmd, not an environment variable, tells vmm-proc how long its device processes may take: a share of its own wait. */
    @Test
    void vmmProcGetsItsDevicesReadyTimeoutFromVmdsOwn() throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory("vmdstart");
        java.nio.file.Files.writeString(dir.resolve("k"), "k");
        var env = new org.jvmd.vmd.config.ConfigEnvironment(org.jvmd.vmd.config.Accounts.NONE,
                org.jvmd.vmd.config.LladdrGenerator.secure(), 1, java.util.Map.of());
        var cfg = new org.jvmd.vmd.config.ConfigParser(env).parse("vm.conf", "vm \"web\" { boot \"k\" }\n", dir)
                .config().orElseThrow();
        var spawner = new VmmProcSpawner(() -> cfg, 300_000, 30_000, "", "", null);
        try (VmTaps none = VmTaps.create(1, java.util.List.of(), cfg)) {
            assertEquals(240_000, spawner.vmConfig(1, cfg.vm("web").orElseThrow(), none).getDeviceReadyTimeoutMs());
        }
    }
}
