package org.jvmd.vmctl;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jvmd.testkit.Shell;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A non-root user created for a test ({@code useradd}, removed on close) and a copy of the
 * runtime class path it can read (the build's own may sit under root's home): vmctl runs as
 * this user in its own process, so vmd sees its uid through SO_PEERCRED.
 */
final class TestUser implements AutoCloseable {
    final String name;
    final int uid;
    final int gid;
    private final Path work;
    private final String classpath;

    private TestUser(String name, int uid, int gid, Path work, String classpath) {
        this.name = name;
        this.uid = uid;
        this.gid = gid;
        this.work = work;
        this.classpath = classpath;
    }

    /** {@link Shell#sh}, trimmed. */
    static String sh(String... cmd) throws IOException, InterruptedException {
        return Shell.sh(cmd).trim();
    }

    /** Creates user {@code prefix + pid} with its own group. */
    static TestUser create(String prefix) throws IOException, InterruptedException {
        String name = prefix + (ProcessHandle.current().pid() % 100000);
        sh("useradd", "-M", "-U", "-s", "/usr/sbin/nologin", name);
        Path work = Files.createTempDirectory("jvmd-user");
        try {
            int uid = Integer.parseInt(sh("id", "-u", name));
            int gid = Integer.parseInt(sh("id", "-g", name));
            List<String> entries = new ArrayList<>();
            int i = 0;
            for (String e : VmdProcess.runtimeClasspath().split(File.pathSeparator)) {
                Path src = Path.of(e);
                Path dst = work.resolve("cp").resolve(i++ + (Files.isDirectory(src) ? "" : ".jar"));
                copy(src, dst);
                entries.add(dst.toString());
            }
            // this module's test classes too, for a test's own client run as the user ({@link #java})
            for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
                if (e.endsWith("vmctl" + File.separator + "target" + File.separator + "test-classes")) {
                    Path dst = work.resolve("cp").resolve("test-classes");
                    copy(Path.of(e), dst);
                    entries.add(dst.toString());
                }
            }
            sh("chmod", "-R", "a+rX", work.toString());
            return new TestUser(name, uid, gid, work, String.join(File.pathSeparator, entries));
        } catch (IOException | RuntimeException e) {
            remove(name, work);
            throw e;
        }
    }

    private static void copy(Path src, Path dst) throws IOException {
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

    /** vmctl as this user, in its own process, against {@code socket}; stderr without JVM warnings. */
    Vmctl.Result vmctl(Path socket, String... args) throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(List.of("-s", socket.toString()));
        all.addAll(List.of(args));
        return java("org.jvmd.vmctl.Vmctl", all);
    }

    /** {@code mainClass} (vmctl's, or a test's own) as this user, in its own process. */
    Vmctl.Result java(String mainClass, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups"));
        cmd.addAll(VmdProcess.java(classpath, List.of("-Duser.home=/tmp"), mainClass, args));
        Path out = Files.createTempFile(work, "out", "");
        Path err = Files.createTempFile(work, "err", "");
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(mainClass + " " + String.join(" ", args) + " as " + name + " did not finish");
            }
            String errText = Files.readString(err).lines().filter(l -> !l.startsWith("WARNING:"))
                    .reduce("", (a, l) -> a + l + "\n");
            return new Vmctl.Result(p.exitValue(), Files.readString(out), errText);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        remove(name, work);
    }

    private static void remove(String name, Path work) throws IOException, InterruptedException {
        try {
            sh("userdel", name);
        } finally {
            try {
                sh("groupdel", name);
            } catch (IOException e) {
                // userdel removed the user's group already
            }
            sh("rm", "-rf", work.toString());
        }
    }
}
