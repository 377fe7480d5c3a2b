package org.jvmd.vmctl;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.jvmd.sys.ControlSocket;

/** A real vmd process (org.jvmd.vmd.Vmd -d) in a temporary directory with its own socket. */
final class VmdProcess implements AutoCloseable {
    static final List<String> JVM = List.of("--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow", "-Xshare:auto", "-XX:TieredStopAtLevel=1");

    final Path dir;
    final Path conf;
    final Path socket;
    final Path log;
    final Process process;

    private VmdProcess(Path dir, Path conf, Path socket, Path log, Process process) {
        this.dir = dir;
        this.conf = conf;
        this.socket = socket;
        this.log = log;
        this.process = process;
    }

    static List<String> java(String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(JVM);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(args);
        return cmd;
    }

    /** Starts vmd with {@code config} as vm.conf and waits until its socket answers. */
    static VmdProcess start(Path dir, String config, String... extra) throws IOException {
        Path conf = dir.resolve("vm.conf");
        Files.writeString(conf, config);
        Path sock = dir.resolve("vmd.sock");
        Path log = dir.resolve("vmd.log");
        List<String> args = new ArrayList<>(List.of("-d", "-v", "-f", conf.toString(), "-s", sock.toString()));
        args.addAll(List.of(extra));
        Process p = new ProcessBuilder(java("org.jvmd.vmd.Vmd", args)).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        VmdProcess v = new VmdProcess(dir, conf, sock, log, p);
        v.awaitUntil(() -> {
            if (!p.isAlive()) {
                throw new AssertionError("vmd exited: " + v.logText());
            }
            try (ControlSocket.Connection c = ControlSocket.connect(sock)) {
                return true;
            } catch (IOException e) {
                return false;
            }
        }, 30_000, "vmd's socket");
        return v;
    }

    long pid() {
        return process.pid();
    }

    String logText() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    long fdCount() throws IOException {
        try (var s = Files.list(Path.of("/proc", Long.toString(pid()), "fd"))) {
            return s.count();
        }
    }

    void signal(String sig) throws IOException, InterruptedException {
        int st = new ProcessBuilder("kill", "-" + sig, Long.toString(pid())).inheritIO().start().waitFor();
        if (st != 0) {
            throw new IOException("kill -" + sig + " failed");
        }
    }

    void awaitUntil(BooleanSupplier cond, long millis, String what) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting for " + what + "; vmd log:\n" + logText());
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /** vmctl in this JVM against this vmd. */
    Vmctl.Result vmctl(String... args) {
        return runVmctl(socket, args);
    }

    static Vmctl.Result runVmctl(Path socket, String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "-s";
        all[1] = socket.toString();
        System.arraycopy(args, 0, all, 2, args.length);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int st = new Vmctl(new ByteArrayInputStream(new byte[0]), new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8)).run(all);
        return new Vmctl.Result(st, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    /** SIGTERM and wait for the exit status. */
    int terminate() throws IOException, InterruptedException {
        signal("TERM");
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("vmd did not exit on SIGTERM; log:\n" + logText());
        }
        return process.exitValue();
    }

    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }
}
