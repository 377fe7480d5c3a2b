package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A non-root user created by the test runs vmctl (its own process, its own uid: vmd sees it
 * through SO_PEERCRED) against a real vmd: it may act on its own VM and is refused on root's VM
 * and on daemon commands, with vmctl's messages.
 */
class PermissionsTest {
    static final String USER = "jvmdt" + (ProcessHandle.current().pid() % 100000);
    static int uid;
    static int gid;
    static Path work;
    static String classpath;

    static String sh(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + ": " + out);
        }
        return out.trim();
    }

    @BeforeAll
    static void createUserAndReadableClasspath() throws Exception {
        sh("useradd", "-M", "-U", "-s", "/usr/sbin/nologin", USER);
        uid = Integer.parseInt(sh("id", "-u", USER));
        gid = Integer.parseInt(sh("id", "-g", USER));
        work = Files.createTempDirectory("jvmd-perm");
        List<String> entries = new ArrayList<>();
        int i = 0;
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (e.contains("junit") || e.contains("jqwik") || e.contains("opentest4j") || e.contains("apiguardian")) {
                continue;
            }
            Path src = Path.of(e);
            Path dst = work.resolve("cp").resolve(i++ + (Files.isDirectory(src) ? "" : ".jar"));
            copy(src, dst);
            entries.add(dst.toString());
        }
        classpath = String.join(File.pathSeparator, entries);
        sh("chmod", "-R", "a+rX", work.toString());
    }

    static void copy(Path src, Path dst) throws IOException {
        if (!Files.isDirectory(src)) {
            Files.createDirectories(dst.getParent());
            Files.copy(src, dst);
            return;
        }
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }

    @AfterAll
    static void removeUser() throws Exception {
        try {
            sh("userdel", USER);
        } finally {
            try {
                sh("groupdel", USER);
            } catch (IOException e) {
                // userdel removed the user's group already
            }
            sh("rm", "-rf", work.toString());
        }
    }

    @TempDir
    Path dir;

    /** vmctl as the test user, in its own process. */
    Vmctl.Result asUser(Path socket, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(VmdProcess.JVM);
        cmd.addAll(List.of("-Duser.home=/tmp", "-cp", classpath, "org.jvmd.vmctl.Vmctl", "-s", socket.toString()));
        cmd.addAll(List.of(args));
        Path out = dir.resolve("out");
        Path err = dir.resolve("err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String errText = Files.readString(err).lines().filter(l -> !l.startsWith("WARNING:"))
                .reduce("", (a, l) -> a + l + "\n");
        return new Vmctl.Result(p.exitValue(), Files.readString(out), errText);
    }

    @Test
    void aUserMayActOnlyOnItsOwnVmAndIsRefusedWithVmctlsMessages() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("bzImage"), "not a kernel");
        String conf = "socket owner root:" + USER + "\n"
                + "vm \"mine\" {\n  boot \"bzImage\"\n  owner " + USER + "\n  disable\n}\n"
                + "vm \"theirs\" {\n  boot \"bzImage\"\n  disable\n}\n";
        try (VmdProcess vmd = VmdProcess.start(dir, conf)) {
            Vmctl.Result st = asUser(vmd.socket, "status");
            assertEquals(0, st.status(), st.err());
            List<String> lines = st.out().lines().toList();
            assertEquals(3, lines.size(), st.out());
            assertEquals(String.format("%12s", USER), StatusTableTest.columns(lines.get(1))[6]);
            assertEquals("mine", StatusTableTest.columns(lines.get(1))[8]);

            Vmctl.Result r = asUser(vmd.socket, "stop", "theirs");
            assertEquals(1, r.status());
            assertEquals("stopping vm theirs: failed: Operation not permitted\n", r.err());

            r = asUser(vmd.socket, "start", "theirs");
            assertEquals(1, r.status());
            assertEquals("vmctl: start vm command failed: Operation not permitted\n", r.err());

            r = asUser(vmd.socket, "pause", "2");
            assertEquals(1, r.status());
            assertEquals("vmctl: pause vm command failed: Operation not permitted\n", r.err());

            r = asUser(vmd.socket, "console", "theirs");
            assertEquals(1, r.status());
            assertEquals("vmctl: console: Operation not permitted\n", r.err());

            r = asUser(vmd.socket, "reload");
            assertEquals(1, r.status());
            assertEquals("vmctl: command failed: Operation not permitted\n", r.err());

            r = asUser(vmd.socket, "start", "adhoc", "-b", dir.resolve("bzImage").toString());
            assertEquals("vmctl: start vm command failed: Operation not permitted\n", r.err());

            // its own VM: permitted, so the answer is about the VM's state, not permission
            r = asUser(vmd.socket, "stop", "mine");
            assertEquals(1, r.status());
            assertEquals("stopping vm mine: cannot stop vm that is not running\n", r.err());
            r = asUser(vmd.socket, "console", "mine");
            assertEquals("vmctl: console not found\n", r.err());
            r = asUser(vmd.socket, "pause", "mine");
            assertEquals("vmctl: pause vm command failed: Invalid argument\n", r.err());
            assertTrue(vmd.process.isAlive());
        }
    }

    @Test
    void aUserOutsideTheSocketGroupCannotConnect() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("bzImage"), "k");
        try (VmdProcess vmd = VmdProcess.start(dir, "vm \"web\" {\n  boot \"bzImage\"\n  disable\n}\n")) {
            Vmctl.Result r = asUser(vmd.socket, "status");
            assertEquals(1, r.status());
            assertEquals("vmctl: connect: " + vmd.socket + ": Permission denied\n", r.err());
        }
    }
}
