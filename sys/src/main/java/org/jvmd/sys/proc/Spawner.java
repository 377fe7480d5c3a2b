package org.jvmd.sys.proc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Channel;

/**
 * Starts a child JVM (the same java binary) running {@code mainClass}, with its end of a
 * new {@link Channel} at descriptor {@link #CHANNEL_FD} (vmd's {@code -X fd}). The child
 * gets nothing else from the parent but stdin/stdout/stderr: every other descriptor is
 * closed in the child before exec.
 *
 * <pre>{@code
 * try (Child c = Spawner.java("vionet", "org.jvmd.vionet.VionetMain").args("x").spawn()) {
 *     c.channel().send(init, memfd, tap);          // hands the fds over
 *     FromVionet ready = c.awaitReady(FromVionet.parser(), 5000);
 * }
 * }</pre>
 */
public final class Spawner {
    /** Where a child finds its channel to the parent. */
    public static final int CHANNEL_FD = 3;

    /**
     * glibc keeps what the JVM's threads free (the compilers' arenas above all) in its
     * per-thread malloc arenas instead of giving it back; the JVM's own trimmer
     * (JDK-8293114) calls malloc_trim(3) every interval. Measured on the host (issue 17,
     * vionet-proc under bin/guest-sim after 8 s of iperf3 each way and 4 s of
     * request/response, PSS from smaps_rollup): 82-87 MiB without, 68 MiB with 5 s, 65-66 with
     * 1 s, where the arenas held 22 MiB (3 MiB after); a pool's idle vmm-proc and its spare
     * vionet-proc 56.5 / 54.2 -> 50.6 / 47.3 MiB. A trim takes 0.3 ms when nothing changed,
     * 1-7 ms after a burst of compiles: 5 s rather than 1, since under kvm-lab's emulation
     * each is tens of times longer and a host runs two or three of these JVMs a VM.
     * MALLOC_ARENA_MAX=1 on top of it gained nothing. It goes on trimming after the privilege
     * drop (madvise, which the seccomp profiles allow; SpawnTest).
     */
    public static final String TRIM_NATIVE_HEAP = "-XX:TrimNativeHeapInterval=5000";

    /**
     * JVM options for children: native access for sys, a small serial heap, no perf-data
     * file (it could not be removed after a chroot), and the native heap trimmed every 5 s
     * ({@link #TRIM_NATIVE_HEAP}). Tests may add -XX:TieredStopAtLevel=1 for a quicker start;
     * device processes keep C2 for their data path.
     */
    public static final List<String> DEFAULT_JVM_OPTIONS = List.of(
            "--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow",
            "-XX:+UseSerialGC",
            "-XX:-UsePerfData",
            "-Xshare:auto",
            "-Xss512k",
            TRIM_NATIVE_HEAP);

    /**
     * System property naming the directory of AOT caches (JDK 25, JEP 483/514), built by
     * {@code scripts/aot-cache} for one class path. A child whose main class has a cache
     * there ({@link #aotCacheFile}) starts with {@code -XX:AOTCache=} (classes already
     * parsed, verified and linked: a much shorter start, above all under emulation); every
     * child gets the property too, so that its own children find theirs. A cache the JVM
     * rejects (built for other jars, another JDK or other options) costs nothing but a log
     * line on the child's stderr: the child then starts as without one.
     */
    public static final String AOT_CACHE_DIR_PROPERTY = "jvmd.aotCacheDir";

    private final String title;
    private final String mainClass;
    private String classpath = System.getProperty("java.class.path");
    private final List<String> jvmOptions = new ArrayList<>(DEFAULT_JVM_OPTIONS);
    private final List<String> args = new ArrayList<>();
    private Path output;
    private Map<String, String> env = System.getenv();
    private String aotCacheDir = System.getProperty(AOT_CACHE_DIR_PROPERTY);
    private boolean idle;

    private Spawner(String title, String mainClass) {
        this.title = title;
        this.mainClass = mainClass;
    }

    /** A child JVM called {@code title} (used in every error about it) running {@code mainClass}. */
    public static Spawner java(String title, String mainClass) {
        return new Spawner(title, mainClass);
    }

    /**
     * A child of {@code role} called {@code title}: the role's main class and JVM options
     * ({@link Role}), the one way every spawner of a role starts it.
     */
    public static Spawner role(Role role, String title) {
        return new Spawner(title, role.mainClass()).jvmOptions(role.jvmOptions().toArray(String[]::new));
    }

    /** Classpath of the child; default: this JVM's. */
    public Spawner classpath(String cp) {
        this.classpath = cp;
        return this;
    }

    /** Adds JVM options after {@link #DEFAULT_JVM_OPTIONS} (a later option wins, e.g. -Xmx). */
    public Spawner jvmOptions(String... opts) {
        jvmOptions.addAll(List.of(opts));
        return this;
    }

    /** Replaces the JVM options entirely. */
    public Spawner onlyJvmOptions(List<String> opts) {
        jvmOptions.clear();
        jvmOptions.addAll(opts);
        return this;
    }

    public Spawner args(String... a) {
        args.addAll(List.of(a));
        return this;
    }

    public Spawner args(List<String> a) {
        args.addAll(a);
        return this;
    }

    /** The AOT cache directory for this child (default: {@value #AOT_CACHE_DIR_PROPERTY}); null for none. */
    public Spawner aotCacheDir(Path dir) {
        this.aotCacheDir = dir == null ? null : dir.toString();
        return this;
    }

    /** The AOT cache of a JVM running {@code mainClass}: {@code dir/<mainClass>.aot}. */
    public static Path aotCacheFile(Path dir, String mainClass) {
        return dir.resolve(mainClass + ".aot");
    }

    /**
     * The child runs at {@link Sched#SCHED_IDLE}, with every thread and child it makes, until
     * {@link Sched#normal} is applied to it: work done ahead (vmd's warm pool) that should take
     * only CPU time nothing else wants.
     */
    public Spawner idle() {
        this.idle = true;
        return this;
    }

    /** Sends the child's stdout and stderr to {@code file} (appended); default: inherit this process's. */
    public Spawner output(Path file) {
        this.output = file;
        return this;
    }

    public Spawner environment(Map<String, String> e) {
        this.env = Map.copyOf(e);
        return this;
    }

    /** The command line the child runs. */
    public List<String> command() {
        List<String> argv = new ArrayList<>();
        argv.add(javaBinary());
        Path cache = aotCache();
        if (cache != null) {
            // A cache the JVM cannot use is reported on stdout by default (a console for
            // vmm-proc's development entry): send those lines to stderr. First, so that an
            // -Xlog option of the caller's still applies.
            argv.add("-Xlog:aot*=off");
            argv.add("-Xlog:aot*=warning:stderr");
            argv.add("-XX:AOTCache=" + cache);
            // -Xshare:* cannot be combined with an AOT cache (the JVM refuses to start).
            jvmOptions.stream().filter(o -> !o.startsWith("-Xshare:")).forEach(argv::add);
        } else {
            argv.addAll(jvmOptions);
        }
        if (aotCacheDir != null && !aotCacheDir.isEmpty()) {
            argv.add("-D" + AOT_CACHE_DIR_PROPERTY + "=" + aotCacheDir);
        }
        argv.add("-cp");
        argv.add(classpath);
        argv.add(mainClass);
        argv.addAll(args);
        return argv;
    }

    /** The AOT cache this child starts with, or null (no cache directory, or no cache for its main class there). */
    public Path aotCache() {
        if (aotCacheDir == null || aotCacheDir.isEmpty()) {
            return null;
        }
        Path cache = aotCacheFile(Path.of(aotCacheDir), mainClass);
        return Files.isRegularFile(cache) ? cache : null;
    }

    private static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Starts the child. Its channel is open at once; wait for its Ready with {@link Child#awaitReady}. */
    public Child spawn() throws IOException {
        Fd[] pair = Channel.socketpair();
        Fd parentEnd = pair[0];
        Fd childEnd = pair[1];
        Fd out = null;
        try {
            if (childEnd.num() == CHANNEL_FD) {
                // dup2(3, 3) would keep close-on-exec set: move it out of the way first.
                Fd moved = childEnd.dup();
                childEnd.close();
                childEnd = moved;
            }
            List<int[]> dups = new ArrayList<>();
            dups.add(new int[] {childEnd.num(), CHANNEL_FD});
            if (output != null) {
                out = LibC.open(output.toString(), LibC.O_WRONLY | LibC.O_CREAT | LibC.O_APPEND | LibC.O_CLOEXEC, 0640);
                dups.add(new int[] {out.num(), 1});
                dups.add(new int[] {out.num(), 2});
            }
            List<String> envp = new ArrayList<>();
            env.forEach((k, v) -> envp.add(k + "=" + v));
            int pid = PosixSpawn.spawn(javaBinary(), command(), envp, dups.toArray(new int[0][]), CHANNEL_FD + 1, idle);
            return new Child(title, pid, new Channel(parentEnd));
        } catch (IOException | RuntimeException e) {
            parentEnd.close();
            throw e;
        } finally {
            // The child has its copies; the parent keeps only its end, so that the child's
            // death shows as end of file.
            childEnd.close();
            if (out != null) {
                out.close();
            }
        }
    }
}
