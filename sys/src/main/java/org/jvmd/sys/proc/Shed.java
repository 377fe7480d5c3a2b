package org.jvmd.sys.proc;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.jvmd.sys.Epoll;
import org.jvmd.sys.Errno;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.Ioctls;
import org.jvmd.sys.LibC;
import org.jvmd.sys.Native;
import org.jvmd.sys.NativeBuffer;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.log.Logs;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.net.Tap;

/**
 * "Acquire, then shed": the last step of a child's start-up. Having received its
 * descriptors and mapped what it needs, the child loads every class it will ever need
 * (a JVM reads class files lazily, and after the drop it can open nothing), then
 * <ol>
 *   <li>chroot into an empty directory and chdir("/"),</li>
 *   <li>setgroups/setresgid/setresuid to an unprivileged user (default {@code _vmd}),</li>
 *   <li>PR_SET_NO_NEW_PRIVS and a seccomp filter on every thread (TSYNC).</li>
 * </ol>
 *
 * <pre>{@code
 * Shed.to("_vmd").chroot(Path.of("/var/empty"))
 *     .preloadPackages("org.jvmd.")
 *     .warmup(() -> Frames.encode(readyMessage))
 *     .seccomp(Seccomp.device(true))
 *     .drop();
 * }</pre>
 */
public final class Shed {
    public static final String DEFAULT_USER = Role.DEFAULT_USER;

    /** The classes of this module that run after a drop. */
    private static final List<Class<?>> SYS_CLASSES = List.of(Native.class, LibC.class, Errno.class,
            SysException.class, Fd.class, Channel.class, Received.class, PeerClosedException.class,
            EventFd.class, Epoll.class, IoVec.class, NativeBuffer.class, MappedGuestMemory.class,
            WaitStatus.class, Seccomp.class, Ioctls.class, Tap.class, org.jvmd.proto.FrameException.class,
            org.jvmd.proto.Frames.class, org.jvmd.virtio.GuestFault.class, org.jvmd.virtio.GuestFault.Reason.class);

    private final String user;
    private Path chroot;
    private final List<String> classes = new ArrayList<>();
    private final List<String> packages = new ArrayList<>();
    /** The prefixes whose classes this process has loaded (a JVM does not unload them). */
    private static final java.util.Set<String> PRELOADED = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** The {@link #warmupOnce} keys this process has run. */
    private static final java.util.Set<String> WARMED_UP = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final List<Runnable> warmups = new ArrayList<>();
    private Seccomp.Builder filter = Seccomp.device(false);

    private Shed(String user) {
        this.user = user;
    }

    /** Drop to {@code user} (null or empty: {@link #DEFAULT_USER}). */
    public static Shed to(String user) {
        return new Shed(user == null || user.isEmpty() ? DEFAULT_USER : user);
    }

    /** The empty directory to chroot into (required). */
    public Shed chroot(Path dir) {
        this.chroot = dir;
        return this;
    }

    /** Loads and initializes these classes before the drop. */
    public Shed preloadClasses(String... names) {
        classes.addAll(List.of(names));
        return this;
    }

    public Shed preloadClasses(Class<?>... cs) {
        for (Class<?> c : cs) {
            classes.add(c.getName());
        }
        return this;
    }

    /** Loads (without initializing) every class on the classpath whose name starts with one of these prefixes. */
    public Shed preloadPackages(String... prefixes) {
        packages.addAll(List.of(prefixes));
        return this;
    }

    /** Runs {@code r} before the drop, to exercise the code paths (and classes) used after it. */
    public Shed warmup(Runnable r) {
        warmups.add(r);
        return this;
    }

    /**
     * As {@link #warmup}, but once a process for each {@code key}: a process that warmed up
     * ahead of its job (a device process started before its init) does not run it again at
     * its drop. It counts as run once it returned.
     */
    public Shed warmupOnce(String key, Runnable r) {
        warmups.add(() -> {
            if (!WARMED_UP.contains(key)) {
                r.run();
                WARMED_UP.add(key);
            }
        });
        return this;
    }

    /** The seccomp filter to install (default: {@link Seccomp#device(boolean) device(false)}). */
    public Shed seccomp(Seccomp.Builder b) {
        this.filter = b;
        return this;
    }

    /**
     * Loads and runs everything {@link #drop} would before dropping (classes, warm-ups,
     * handles), and drops nothing: for an AOT training run (scripts/aot-cache), which must
     * record the start-up and then write its cache at exit, as a dropped process cannot.
     */
    public void preloadOnly() throws IOException {
        preload();
    }

    /** Performs the drop. On failure the process must not continue: it is half-dropped. */
    public void drop() throws IOException {
        if (chroot == null) {
            throw new IllegalStateException("Shed: no chroot directory");
        }
        Users.Ids ids = Users.lookup(user);
        if (ids.uid() == 0 || ids.gid() == 0) {
            throw new IOException("refusing to drop to " + user + ": it is root");
        }
        checkEmptyDirectory(chroot);
        preload();
        Seccomp.Program program = filter.build();

        LibC.chroot(chroot.toString());
        LibC.chdir("/");
        LibC.setgroups(new int[] {ids.gid()});
        LibC.setresgid(ids.gid(), ids.gid(), ids.gid());
        LibC.setresuid(ids.uid(), ids.uid(), ids.uid());
        try {
            LibC.setresuid(0, 0, 0);
            throw new IllegalStateException("privilege drop did not stick: setresuid(0) succeeded");
        } catch (SysException expected) {
            // EPERM: root is gone for good
        }
        Seccomp.install(program);
    }

    /** Fails unless {@code dir} is an empty directory, naming what is in it ({@link #drop}'s check, for a parent to make early). */
    public static void checkEmptyDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("chroot " + dir + ": not a directory");
        }
        List<String> found = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                if (found.size() == 3) {
                    found.add("...");
                    break;
                }
                found.add(p.getFileName().toString());
            }
        }
        if (!found.isEmpty()) {
            throw new IOException("chroot " + dir + ": not empty (" + String.join(", ", found) + ")");
        }
    }

    private void preload() throws IOException {
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        if (loader == null) {
            loader = Shed.class.getClassLoader();
        }
        for (Class<?> c : SYS_CLASSES) {
            init(c.getName(), loader);
        }
        for (String name : classes) {
            init(name, loader);
        }
        // A prefix preloaded once (a process that warmed up ahead of its job: vmd's warm pool,
        // a device process started before its init) is not scanned again at the drop.
        List<String> todo = packages.stream().filter(p -> !PRELOADED.contains(p)).toList();
        if (!todo.isEmpty()) {
            for (String name : classNamesOnClasspath(todo)) {
                try {
                    Class.forName(name, false, loader);
                } catch (ClassNotFoundException | LinkageError e) {
                    // a class whose optional dependencies are absent: it cannot run anyway
                }
            }
            PRELOADED.addAll(todo);
        }
        // A warm-up drives a device core of its own (heap memory, no guest): its debug lines
        // would read as the real device's, so they are not written.
        boolean verbose = Logs.verbose();
        Logs.verbose(false);
        try {
            for (Runnable r : warmups) {
                r.run();
            }
        } finally {
            Logs.verbose(verbose);
        }
        Native.preload();
        Errno.describe(Errno.EPERM);
        Ioctls.name(0);
        Logs.preload();   // the log backend reads no file after this (no zone, locale or class path)
    }

    private static void init(String name, ClassLoader loader) throws IOException {
        try {
            Class.forName(name, true, loader);
        } catch (ClassNotFoundException e) {
            throw new IOException("preload: no class " + name, e);
        }
    }

    /**
     * Every class on {@code java.class.path} under the prefixes: directories, jars, and the
     * jars a jar's manifest {@code Class-Path} names (a runnable jar with its lib/).
     */
    static List<String> classNamesOnClasspath(List<String> prefixes) throws IOException {
        List<String> out = new ArrayList<>();
        java.util.Set<Path> seen = new java.util.HashSet<>();
        java.util.ArrayDeque<Path> todo = new java.util.ArrayDeque<>();
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            if (!entry.isEmpty()) {
                todo.add(Path.of(entry).toAbsolutePath().normalize());
            }
        }
        while (!todo.isEmpty()) {
            Path p = todo.poll();
            if (!seen.add(p)) {
                continue;
            }
            if (Files.isDirectory(p)) {
                try (Stream<Path> walk = Files.walk(p)) {
                    walk.filter(f -> f.toString().endsWith(".class"))
                            .forEach(f -> addIfWanted(out, p.relativize(f).toString(), prefixes));
                } catch (UncheckedIOException e) {
                    throw e.getCause();
                }
            } else if (Files.isRegularFile(p) && p.toString().endsWith(".jar")) {
                try (JarFile jar = new JarFile(p.toFile())) {
                    for (Enumeration<JarEntry> en = jar.entries(); en.hasMoreElements(); ) {
                        JarEntry e = en.nextElement();
                        if (e.getName().endsWith(".class") && !e.getName().startsWith("META-INF/")) {
                            addIfWanted(out, e.getName(), prefixes);
                        }
                    }
                    java.util.jar.Manifest mf = jar.getManifest();
                    String cp = mf == null ? null : mf.getMainAttributes().getValue("Class-Path");
                    if (cp != null) {
                        for (String rel : cp.trim().split("\\s+")) {
                            if (!rel.isEmpty() && !rel.contains(":")) {
                                todo.add(p.getParent().resolve(rel).normalize());
                            }
                        }
                    }
                }
            }
        }
        return out;
    }

    private static void addIfWanted(List<String> out, String path, List<String> prefixes) {
        String name = path.substring(0, path.length() - ".class".length()).replace('/', '.').replace('\\', '.');
        if (name.endsWith("module-info") || name.endsWith("package-info")) {
            return;
        }
        for (String pre : prefixes) {
            if (name.startsWith(pre)) {
                out.add(name);
                return;
            }
        }
    }
}
