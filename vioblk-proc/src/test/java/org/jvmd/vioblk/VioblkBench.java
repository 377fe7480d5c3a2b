package org.jvmd.vioblk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FromVioblk;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.ToVioblk;
import org.jvmd.proto.VioblkInit;
import org.jvmd.proto.VioblkReady;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Spawner;

/**
 * The process tests' bench: a temporary directory with the empty root vioblk-proc is told to
 * chroot into, the child's log, and vioblk-proc started as vmd's parent and vmm-proc's
 * transport start it: guest memory in a memfd, the disk's layers as FD_DISK layer 0..n (the
 * top read-write unless the disk is read-only, its bases read-only), the kick eventfd and the
 * call eventfds of vector 0 (the queue) and 1 (configuration). {@link #close} ends every
 * process it started, frees their guests and removes the directory.
 */
final class VioblkBench implements AutoCloseable {
    static final int MEM = 32 << 20;
    static final String TITLE = "vm/test/vioblk0";

    final Path dir;
    final Path empty;
    final Path log;
    private final List<Disk> started = new ArrayList<>();

    /** A bench in a new directory "jvmd-{name}...", logging to target/{name}-{nanos}.log. */
    VioblkBench(String name) throws IOException {
        dir = Files.createTempDirectory("jvmd-" + name);
        empty = Files.createDirectory(dir.resolve("empty"));
        log = Path.of("target", name + "-" + System.nanoTime() + ".log");
        Files.createDirectories(log.getParent());
    }

    /** A started vioblk-proc with its guest side; close() ends the process and frees the guest. */
    static final class Disk implements AutoCloseable {
        final Child child;
        final MappedGuestMemory mem;
        final EventFd kick;
        final EventFd call;
        VioblkReady ready;
        private final List<AutoCloseable> owned;
        private boolean closed;

        private Disk(Child child, MappedGuestMemory mem, EventFd kick, EventFd call, List<AutoCloseable> owned) {
            this.child = child;
            this.mem = mem;
            this.kick = kick;
            this.call = call;
            this.owned = owned;
        }

        @Override
        public void close() throws Exception {
            if (closed) {
                return;
            }
            closed = true;
            child.close();
            for (int i = owned.size() - 1; i >= 0; i--) {
                owned.get(i).close();
            }
        }
    }

    /**
     * Starts vioblk-proc on {@code layers} (top first) with {@code disk} as its DiskConfig (index
     * and path are set here), extra JVM options {@code jvm}; returns once it answered Ready.
     */
    /**
     * Init only once the process, finding none queued, warmed up ahead and waits for it (as
     * vmm-proc's devices, started before it builds the VM, do; DeviceMain).
     */
    boolean ahead;

    Disk start(List<Path> layers, DiskConfig.Builder disk, List<String> jvm) throws Exception {
        return start(layers, disk, jvm, "_vmd", empty.toString());
    }

    /** As {@link #start(List, DiskConfig.Builder, List)}, {@code user} and {@code chroot} as vmm-proc sends them (empty: the role's defaults). */
    Disk start(List<Path> layers, DiskConfig.Builder disk, List<String> jvm, String user, String chroot)
            throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<AutoCloseable> owned = new ArrayList<>();
        Fd memfd = Memfd.create("guest", MEM);
        owned.add(memfd);
        MappedGuestMemory mem = MappedGuestMemory.map(memfd, MEM);
        owned.add(mem);
        EventFd kick = EventFd.create(false);
        EventFd config = EventFd.create(true);
        EventFd call = EventFd.create(true);
        owned.addAll(List.of(kick, config, call));
        List<String> options = new ArrayList<>(jvm);
        if (ahead) {
            options.add("-Djvmd.debug=true"); // its "warmed up ahead of init" line
        }
        Child c = Spawner.role(org.jvmd.sys.proc.Role.VIOBLK, TITLE).classpath(cp).jvmOptions(options.toArray(String[]::new))
                .output(log).spawn();
        Disk d = new Disk(c, mem, kick, call, owned);
        started.add(d);
        if (ahead) {
            long end = System.nanoTime() + 60_000_000_000L;
            while (!log().contains("warmed up ahead of init in ")) {
                if (System.nanoTime() > end) {
                    d.close();
                    throw new AssertionError("no warm-up ahead of init in 60 s: " + log());
                }
                Thread.sleep(50);
            }
        }
        List<Fd> fds = new ArrayList<>(List.of(memfd.dup()));
        ToVioblk.Builder m = ToVioblk.newBuilder().setInit(VioblkInit.newBuilder()
                        .setDisk(disk.setIndex(0).setPath(layers.get(0).toString()))
                        .setTitle(TITLE).setUser(user).setChroot(chroot)
                        .addRegions(MemoryRegion.newBuilder().setGuestPhys(0).setSize(MEM)))
                .addFds(slot(FdRole.FD_MEMFD, 0, 0));
        try {
            for (int l = 0; l < layers.size(); l++) {
                int mode = l == 0 && !disk.getReadOnly() ? LibC.O_RDWR : LibC.O_RDONLY;
                fds.add(LibC.open(layers.get(l).toString(), mode | LibC.O_CLOEXEC));
                m.addFds(slot(FdRole.FD_DISK, 0, l));
            }
            m.addFds(slot(FdRole.FD_KICK, 0, 0)).addFds(slot(FdRole.FD_CALL, 0, 0)).addFds(slot(FdRole.FD_CALL, 1, 0));
            fds.addAll(List.of(kick.fd().dup(), config.fd().dup(), call.fd().dup()));
            c.channel().send(m.build(), fds.toArray(Fd[]::new));
            d.ready = c.awaitReady(FromVioblk.parser(), 60_000).getReady();
            return d;
        } catch (Exception e) {
            d.close();
            throw e;
        }
    }

    private static FdSlot slot(FdRole role, int index, int layer) {
        return FdSlot.newBuilder().setRole(role).setIndex(index).setLayer(layer).build();
    }

    /** The child's log so far. */
    String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "(no log)";
    }

    @Override
    public void close() throws Exception {
        for (int i = started.size() - 1; i >= 0; i--) {
            started.get(i).close();
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
