package org.jvmd.vmctl;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StatusRequest;
import org.jvmd.sys.ipc.ControlSocket;
import org.jvmd.testkit.LabFaults;

/**
 * A real vmd process (org.jvmd.vmd.Vmd -d) in a temporary directory with its own socket,
 * optionally inside a network namespace (then it creates its taps there), and the helpers
 * the end-to-end tests share: vmctl in this JVM or as its own process, waits, fd counts.
 */
final class VmdProcess implements AutoCloseable {
    static final List<String> JVM = List.of("--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow", "-Xshare:auto", "-XX:TieredStopAtLevel=1");

    /** Timeouts stretch under kvm-lab's emulation. */
    static final long SLOW = System.getenv("KVM_LAB") != null ? 4 : 1;

    /** vmd's timeouts for real guests under kvm-lab: shutdown, a guest's graceful stop, vmm-proc's Ready. */
    static final List<String> LAB_TIMEOUTS = List.of("-Djvmd.shutdownTimeoutMs=" + 10_000 * SLOW,
            "-Djvmd.stopTimeoutMs=" + 120_000, "-Djvmd.vmmReadyTimeoutMs=" + 300_000 * SLOW);

    final Path dir;
    final Path conf;
    final Path socket;
    final Path log;
    final Process process;
    /** The network namespace vmd runs in, or null. */
    final String netns;

    private VmdProcess(Path dir, Path conf, Path socket, Path log, Process process, String netns) {
        this.dir = dir;
        this.conf = conf;
        this.socket = socket;
        this.log = log;
        this.process = process;
        this.netns = netns;
    }

    /** This JVM's class path without test classes and test frameworks: what the daemons need. */
    static String runtimeClasspath() {
        List<String> keep = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!e.contains("test-classes") && !e.contains("junit") && !e.contains("jqwik")
                    && !e.contains("opentest4j") && !e.contains("apiguardian")) {
                keep.add(e);
            }
        }
        return String.join(File.pathSeparator, keep);
    }

    /**
     * vmm-proc's class path: the runtime one without vmd's, vmctl's and (in the lab) the it
     * module's code (vmm-proc preloads every org.jvmd class it can see before it drops
     * privileges).
     */
    static String vmmClasspath() {
        List<String> keep = new ArrayList<>();
        for (String e : runtimeClasspath().split(File.pathSeparator)) {
            if (!e.contains("control-proc") && !e.contains("vmctl") && !e.contains("picocli")
                    && !e.endsWith(File.separator + "it" + File.separator + "target" + File.separator + "classes")) {
                keep.add(e);
            }
        }
        return String.join(File.pathSeparator, keep);
    }

    static List<String> java(String mainClass, List<String> args) {
        return java(System.getProperty("java.class.path"), List.of(), mainClass, args);
    }

    static List<String> java(String classpath, List<String> props, String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(JVM);
        cmd.addAll(props);
        cmd.add("-cp");
        cmd.add(classpath);
        cmd.add(mainClass);
        cmd.addAll(args);
        return cmd;
    }

    /** Starts vmd with {@code config} as vm.conf and waits until its socket answers. */
    static VmdProcess start(Path dir, String config, String... extra) throws IOException {
        return start(dir, config, null, List.of(), extra);
    }

    /**
     * Starts vmd inside network namespace {@code netns} (null: this one) with the runtime
     * class path and system properties {@code props} ("-Dname=value"); vmm-proc runs from
     * {@link #vmmClasspath()}.
     */
    static VmdProcess start(Path dir, String config, String netns, List<String> props, String... extra)
            throws IOException {
        return start(dir, config, netns, props, List.of(), extra);
    }

    /** As {@link #start(Path, String, String, List, String...)}, vmd's command run by {@code wrapper} (e.g. sh -c ... exec). */
    static VmdProcess start(Path dir, String config, String netns, List<String> props, List<String> wrapper,
            String... extra) throws IOException {
        Path conf = dir.resolve("vm.conf");
        Files.writeString(conf, config);
        Path sock = dir.resolve("vmd.sock");
        Path log = dir.resolve("vmd.log");
        List<String> args = new ArrayList<>(List.of("-d", "-v", "-f", conf.toString(), "-s", sock.toString()));
        if (!List.of(extra).contains("--warm-pool")) {
            // Without vmd's warm pool unless a test asks for one: the tests count vmd's VM
            // processes, and a pool's waiting vmm-procs (spawned, replaced at any time) are not
            // VMs. VmdWarmPoolTest and VmdLabTest run with one.
            args.addAll(List.of("--warm-pool", "0"));
        }
        args.addAll(List.of(extra));
        List<String> cmd = new ArrayList<>(wrapper);
        if (netns != null) {
            cmd.addAll(List.of("ip", "netns", "exec", netns)); // execs: vmd keeps the pid
            List<String> all = new ArrayList<>(props);
            all.add("-Djvmd.vmmClasspath=" + vmmClasspath());
            cmd.addAll(java(runtimeClasspath(), all, "org.jvmd.vmd.Vmd", args));
        } else {
            cmd.addAll(props.isEmpty() ? java("org.jvmd.vmd.Vmd", args)
                    : java(System.getProperty("java.class.path"), props, "org.jvmd.vmd.Vmd", args));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        VmdProcess v = new VmdProcess(dir, conf, sock, log, p, netns);
        v.awaitUntil(() -> {
            if (!p.isAlive()) {
                throw new AssertionError("vmd exited: " + v.logText());
            }
            // answered: vmd's control process is up (the socket is bound before it starts)
            try (ControlSocket.Connection c = ControlSocket.connect(sock)) {
                java.util.concurrent.CompletableFuture<Boolean> answered =
                        java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                            try {
                                c.write(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
                                Response r = c.read(Response.parser());
                                return r != null && r.hasStatus();
                            } catch (IOException e) {
                                return false;
                            }
                        });
                try {
                    return answered.get(10 * SLOW, TimeUnit.SECONDS);
                } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
                    c.shutdown(); // no answer yet: ask again, until the deadline below
                    return false;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            } catch (IOException e) {
                return false;
            }
        }, 150_000 * SLOW, "vmd's socket"); // vmd answers once its control process is up: a JVM start, minutes in kvm-lab
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

    /** The open descriptors of vmd: its parent's and its control process's, which holds the clients' connections. */
    long fdCount() throws IOException {
        long n = 0;
        for (long p : daemonPids()) {
            try (var s = Files.list(Path.of("/proc", Long.toString(p), "fd"))) {
                n += s.count();
            }
        }
        return n;
    }

    /** vmd's parent and, when it runs, its control process. */
    List<Long> daemonPids() {
        List<Long> pids = new ArrayList<>(List.of(pid()));
        controlProcess().ifPresent(h -> pids.add(h.pid()));
        return pids;
    }

    /** vmd's control process (its child running ControlMain). */
    java.util.Optional<ProcessHandle> controlProcess() {
        return process.toHandle().children().filter(VmdProcess::isControl).findFirst();
    }

    private static boolean isControl(ProcessHandle h) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(h.pid()), "cmdline")).contains("org.jvmd.vmd.ControlMain");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * vmd's children running vmm-proc (the VM processes and, with {@code --warm-pool}, the
     * waiting ones), by /proc/PID/cmdline.
     */
    List<Long> vmmChildren() {
        return process.toHandle().children().map(ProcessHandle::pid)
                .filter(p -> cmdline(p).contains("org.jvmd.vmm.VmmMain")).toList();
    }

    static String cmdline(long pid) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(pid), "cmdline"));
        } catch (IOException e) {
            return "";
        }
    }

    /** vmd's children but its control process: the VM processes. */
    List<ProcessHandle> vmProcesses() {
        return process.toHandle().children().filter(h -> !isControl(h)).toList();
    }

    void signal(String sig) throws IOException, InterruptedException {
        int st = new ProcessBuilder("kill", "-" + sig, Long.toString(pid())).inheritIO().start().waitFor();
        if (st != 0) {
            throw new IOException("kill -" + sig + " failed");
        }
    }

    /** Waits until vmd holds no more open files than {@code before} (a count from {@link #fdCount}). */
    void awaitFdsBack(long before, long millis) {
        awaitUntil(() -> {
            try {
                return fdCount() <= before;
            } catch (IOException e) {
                return false;
            }
        }, millis, "vmd's fds back to " + before, this::fdList);
    }

    /** What each of vmd's descriptors is (for a failure message). */
    String fdList() {
        StringBuilder b = new StringBuilder();
        for (long p : daemonPids()) {
            b.append("process ").append(p).append(":\n").append(fdList(p));
        }
        return b.toString();
    }

    private String fdList(long pid) {
        StringBuilder b = new StringBuilder();
        try (var s = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : s.sorted(java.util.Comparator.comparingInt(f -> Integer.parseInt(f.getFileName().toString())))
                    .toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    b.append(fd.getFileName()).append(" -> ").append(target).append(socketKind(target)).append('\n');
                } catch (IOException e) {
                    b.append(fd.getFileName()).append(" (gone)\n");
                }
            }
        } catch (IOException e) {
            b.append("(no fd list: ").append(e).append(")\n");
        }
        return b.toString();
    }

    /** Which of /proc/PID/net/{unix,netlink,tcp,udp,raw,packet} has the socket's inode (and the unix path). */
    private String socketKind(String target) {
        if (!target.startsWith("socket:[")) {
            return "";
        }
        String inode = target.substring(8, target.length() - 1);
        StringBuilder b = new StringBuilder();
        for (String table : List.of("unix", "netlink", "tcp", "tcp6", "udp", "udp6", "raw", "packet")) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "net", table))) {
                    if (List.of(line.strip().split(" +")).contains(inode)) {
                        b.append(" [").append(table).append(": ").append(line.strip()).append(']');
                    }
                }
            } catch (IOException | RuntimeException e) {
                // a table this kernel does not have
            }
        }
        return b.toString();
    }

    /**
     * For a fixture whose guests are stock distro kernels (the lab's): a VM that vmd saw reset by
     * a triple fault is said on stdout, one loud line each ({@link LabFaults}).
     */
    void sayStockGuestTripleFaults() {
        LabFaults.sayStockGuestTripleFaults(logText().lines().filter(l -> l.contains("terminated (TERM_REBOOT")));
    }

    void awaitUntil(BooleanSupplier cond, long millis, String what) {
        awaitUntil(cond, millis, what, () -> "");
    }

    void awaitUntil(BooleanSupplier cond, long millis, String what, java.util.function.Supplier<String> more) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting for " + what + "; vmd log:\n" + logText() + more.get());
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
        return VmctlRun.inJvm(all);
    }

    /** vmctl as its own process (the runtime class path), as root. */
    Vmctl.Result vmctlProcess(String... args) throws IOException, InterruptedException {
        return vmctlProcess(List.of(), args);
    }

    /** vmctl as its own process, its command line prefixed by {@code prefix} (e.g. setpriv). */
    Vmctl.Result vmctlProcess(List<String> prefix, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(prefix);
        List<String> all = new ArrayList<>(List.of("-s", socket.toString()));
        all.addAll(List.of(args));
        cmd.addAll(java(runtimeClasspath(), List.of("-Duser.home=/tmp"), "org.jvmd.vmctl.Vmctl", all));
        Path out = Files.createTempFile(dir, "vmctl", ".out");
        Path err = Files.createTempFile(dir, "vmctl", ".err");
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(120 * SLOW, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("vmctl " + String.join(" ", args) + " did not finish; vmd log:\n" + logText());
            }
            // The JVM's own notices, not vmctl's: warnings, and the lab's JAVA_TOOL_OPTIONS
            // (scripts/lab-test) announced by every JVM there.
            String errText = Files.readString(err).lines()
                    .filter(l -> !l.startsWith("WARNING:") && !l.startsWith("Picked up JAVA_TOOL_OPTIONS:"))
                    .reduce("", (a, l) -> a + l + "\n");
            return new Vmctl.Result(p.exitValue(), Files.readString(out), errText);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Child processes of vmd but its control process (its vmm-procs). */
    long childCount() {
        return vmProcesses().size();
    }

    /** Whether network interface {@code name} exists in vmd's namespace. */
    boolean linkExists(String name) {
        List<String> cmd = new ArrayList<>(netns != null ? List.of("ip", "-n", netns) : List.of("ip"));
        cmd.addAll(List.of("link", "show", "dev", name));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            return p.waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
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
