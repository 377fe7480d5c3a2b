package org.jvmd.vmd;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.FromVmm;
import org.jvmd.proto.LogLevel;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.PauseVm;
import org.jvmd.proto.StartVm;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.StatsRequest;
import org.jvmd.proto.StopVm;
import org.jvmd.proto.Termination;
import org.jvmd.proto.ToVmm;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.proto.UnpauseVm;
import org.jvmd.proto.VmConfig;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Role;
import org.jvmd.sys.proc.Sched;
import org.jvmd.sys.proc.Spawner;
import org.jvmd.virtio.net.TunFlags;
import org.jvmd.vmd.config.Config;
import org.jvmd.vmd.config.InterfaceSpec;
import org.jvmd.vmd.config.VmSpec;

/**
 * Starts a VM as a vmm-proc child (docs/architecture.md, "A vmctl start's path"): vmd opens and locks
 * the disk images ({@link DiskImages}), creates the taps and opens /dev/kvm, the kernel and
 * the initrd, spawns {@code org.jvmd.vmm.VmmMain} with its
 * channel on fd 3 (or takes one spawned ahead from its warm pool, {@link WarmPool}: the same
 * command line, waiting for its StartVm), sends StartVm with those fds, waits for Ready, then reads VmStarted,
 * TunCapabilities, VmTerminated; channel EOF (the process died) also ends the VM.
 */
public final class VmmProcSpawner implements VmLauncher {
    private static final System.Logger LOG = System.getLogger("vmd");
    /** vmm-proc's main class ({@link Role#VMM}). */
    public static final String VMM_MAIN = Role.VMM.mainClass();

    /**
     * How long a graceful stop waits for the guest before vmm-proc forces it (vmd's vmmci
     * shutdown timeout), unless vmd's --stop-timeout says; vmd itself kills the process
     * {@link #STOP_GRACE_MS} after that.
     */
    static final long DEFAULT_STOP_TIMEOUT_MS = 30_000;
    /** How long past the stop timeout vmd waits for vmm-proc to end before it kills it. */
    static final long STOP_GRACE_MS = 5_000;

    private final Supplier<Config> config;
    private final long readyTimeoutMillis;
    private final long stopTimeoutMillis;
    private final String user;
    private final String chroot;
    private final Path logDir;
    /** vmm-procs spawned ahead, waiting for their StartVm ({@code vmd --warm-pool}). */
    private final WarmPool<Pooled> pool;
    private final VmConsoles consoles = new VmConsoles();

    /**
     * The KVM device vmd opens for each VM: /dev/kvm. Tests on a host without KVM name another
     * character device (-Djvmd.kvmDevice=/dev/null), so that a start reaches vmm-proc and fails
     * there, as a start with a broken KVM would.
     */
    static final String KVM_DEVICE = System.getProperty("jvmd.kvmDevice", "/dev/kvm");

    /** The title of a vmm-proc in the warm pool, in errors about it until it is given a VM. */
    static final String POOL_TITLE = "vm (warm pool)";

    /**
     * @param config the current configuration (switches, local prefix)
     * @param readyTimeoutMillis how long vmm-proc may take to answer Ready
     * @param stopTimeoutMillis how long a graceful stop waits for the guest before vmm-proc forces it off
     * @param user the unprivileged user for vmm-proc ("" = its default, _vmd)
     * @param chroot the empty directory vmm-proc chroots to ("" = its default)
     * @param logDir where console logs go (FD_LOG), or null for none
     */
    public VmmProcSpawner(Supplier<Config> config, long readyTimeoutMillis, long stopTimeoutMillis, String user,
                          String chroot, Path logDir) {
        this(config, readyTimeoutMillis, stopTimeoutMillis, user, chroot, logDir, 0);
    }

    /**
     * As above, keeping {@code warmPool} vmm-procs spawned ahead once {@link #startPool} was
     * called (0: none; every start spawns its own).
     */
    public VmmProcSpawner(Supplier<Config> config, long readyTimeoutMillis, long stopTimeoutMillis, String user,
                          String chroot, Path logDir, int warmPool) {
        this.pool = new WarmPool<>("vmm-proc", warmPool, () -> new Pooled(spawner(POOL_TITLE).idle().spawn()),
                System::nanoTime);
        this.config = config;
        this.readyTimeoutMillis = readyTimeoutMillis;
        this.stopTimeoutMillis = stopTimeoutMillis;
        this.user = user;
        this.chroot = chroot;
        this.logDir = logDir;
    }

    /** VM {@code id} is stopped (not rebooting): its console pty closes. */
    @Override
    public void released(int id) {
        consoles.release(id);
    }

    /** Starts keeping the warm pool full (a platform thread; nothing when its size is 0). */
    public void startPool() {
        pool.start();
    }

    /** Ends the warm pool's vmm-procs (vmd stops); a launch afterwards spawns its own. */
    public void closePool() {
        pool.close();
    }

    /**
     * A vmm-proc from the warm pool becomes VM {@code name}'s: renamed for it, and its threads
     * and its spare vionet-proc's given the ordinary scheduling policy, it is from here on what
     * a new one would be. Both are spawned alike ({@link #spawner}; the pool's at
     * {@link Sched#SCHED_IDLE}, so that a member starting beside a booting guest takes only CPU
     * time no guest wants) and wait for their StartVm alike: nothing tells them apart. A member
     * still starting when it is taken (a host too busy to let it finish) finishes at the
     * ordinary policy, as a fresh one would start.
     */
    private static Child assign(Pooled p, String name) throws SysException {
        int changed = Sched.normal(p.pid());
        p.child().retitle("vm/" + name);
        LOG.log(Level.DEBUG, "vm " + name + ": vmm-proc " + p.pid() + " from the warm pool (" + changed + " idle threads made ordinary)");
        return p.child();
    }

    /**
     * A vmm-proc in the warm pool. Alive while its process runs and its channel is quiet (it
     * sends nothing before StartVm: anything readable there is its end of file, or garbage).
     */
    record Pooled(Child child) implements WarmPool.Member {
        @Override
        public int pid() {
            return child.pid();
        }

        @Override
        public boolean alive() {
            try {
                return child.waitFor(0) == null && LibC.poll(child.channel().fd(), LibC.POLLIN, 0) == 0;
            } catch (SysException e) {
                return false;
            }
        }

        /** Its channel closes first: it exits on its own (status 0); killed if it has not after a second. */
        @Override
        public void close() {
            child.channel().close();
            try {
                child.waitFor(1_000);
                child.kill();
            } catch (SysException e) {
                LOG.log(Level.WARNING, "warm pool: vmm-proc " + child.pid() + ": " + e.getMessage());
            }
        }
    }

    @Override
    public VmProcess launch(int id, VmSpec spec, Listener listener) throws IOException {
        Config cfg = config.get();
        // First the boot files, then the images: a refused file leaves nothing behind.
        List<Fd> boot = openBootFiles(spec);
        DiskImages images;
        try {
            images = DiskImages.open(spec.disks());
        } catch (IOException | RuntimeException e) {
            Fd.closeAll(boot);
            throw e;
        }
        VmTaps taps;
        try {
            taps = VmTaps.create(id, spec.interfaces(), cfg);
        } catch (IOException | RuntimeException e) {
            Fd.closeAll(boot);
            images.close();
            throw e;
        }
        List<Fd> fds = new ArrayList<>();
        Child child = null;
        String tty;
        try {
            // the VM's console: opened here, kept across its reboots (released when it stops)
            VmConsoles.Attach console = consoles.attach(id, spec.owner().uid(),
                    spec.owner().hasGroup() ? spec.owner().gid() : 0);
            tty = console.path();
            ToVmm.Builder msg = ToVmm.newBuilder().setStart(StartVm.newBuilder()
                    .setConfig(vmConfig(id, spec, taps).toBuilder().addAllDisks(images.configs(spec.name()))));
            fds.add(console.master());
            msg.addFds(slot(FdRole.FD_CONSOLE, 0));
            fds.addAll(boot);
            boot.clear();
            msg.addFds(slot(FdRole.FD_KERNEL, 0));
            if (spec.initrd().isPresent()) {
                msg.addFds(slot(FdRole.FD_INITRD, 0));
            }
            fds.add(LibC.open(KVM_DEVICE, LibC.O_RDWR | LibC.O_CLOEXEC));
            msg.addFds(slot(FdRole.FD_KVM, 0));
            List<Fd> tapFds = taps.dupFds();
            for (int i = 0; i < tapFds.size(); i++) {
                fds.add(tapFds.get(i));
                msg.addFds(slot(FdRole.FD_TAP, i));
            }
            List<FdSlot> diskSlots = new ArrayList<>();
            images.dupInto(fds, diskSlots);
            msg.addAllFds(diskSlots);
            if (logDir != null) {
                Files.createDirectories(logDir);
                fds.add(LibC.open(logDir.resolve(spec.name() + ".log").toString(),
                        LibC.O_WRONLY | LibC.O_CREAT | LibC.O_APPEND | LibC.O_CLOEXEC, 0640));
                msg.addFds(slot(FdRole.FD_LOG, 0));
            }
            Pooled pooled = pool.take();
            boolean fromPool = pooled != null;
            child = fromPool ? assign(pooled, spec.name()) : spawner(spec.name()).spawn();
            try {
                child.channel().send(msg.build(), fds);
                fds.clear();
                child.awaitReady(FromVmm.parser(), readyTimeoutMillis);
            } finally {
                if (fromPool) {
                    pool.settled(); // its replacement starts now, not beside this start
                }
            }
        } catch (IOException | RuntimeException e) {
            Fd.closeAll(boot);
            Fd.closeAll(fds);
            if (child != null) {
                child.close();
            }
            taps.close();
            images.close();
            throw e;
        }
        VmmProcess p = new VmmProcess(spec, child, tty, taps, images, listener, stopTimeoutMillis, STOP_GRACE_MS);
        // Platform threads throughout: the channel's reads block in native poll (FFM), which
        // pins a virtual thread's carrier; as many running VMs as CPUs would starve vmd.
        Thread.ofPlatform().name("vm/" + spec.name()).daemon(true).start(p::readLoop);
        return p;
    }

    /**
     * The kernel and, if any, the initrd: duplicates of the descriptors the caller who named
     * them passed ({@link VmSpec#kernelFd}; checked when vmd took the request, {@link
     * CallerAccess#checkPassed}), or, for vm.conf's files, opened by vmd (regular files). A
     * caller's path is never opened. A refusal names the file: {@code kernel /boot/x: No such
     * file or directory}.
     */
    static List<Fd> openBootFiles(VmSpec spec) throws IOException {
        List<Fd> out = new ArrayList<>();
        try {
            out.add(bootFile("kernel " + spec.kernel(), spec.kernel(), spec.kernelFd()));
            if (spec.initrd().isPresent()) {
                out.add(bootFile("initrd " + spec.initrd().get(), spec.initrd().get(), spec.initrdFd()));
            }
            return out;
        } catch (IOException | RuntimeException e) {
            Fd.closeAll(out);
            throw e;
        }
    }

    private static Fd bootFile(String what, Path path, java.util.Optional<Fd> passed) throws IOException {
        return passed.isPresent() ? passed.get().dup() : CallerAccess.openConfigured(what, path, LibC.O_RDONLY);
    }

    /** How VM {@code name}'s vmm-proc is started: the role's row ({@link Role#VMM}), class path -Djvmd.vmmClasspath or vmd's. */
    static Spawner spawner(String name) {
        Spawner sp = Spawner.role(Role.VMM, "vm/" + name);
        String cp = System.getProperty("jvmd.vmmClasspath", "");
        if (!cp.isEmpty()) {
            sp.classpath(cp);
        }
        return sp;
    }

    private static FdSlot slot(FdRole role, int index) {
        return FdSlot.newBuilder().setRole(role).setIndex(index).build();
    }

    VmConfig vmConfig(int id, VmSpec spec, VmTaps taps) {
        VmConfig.Builder b = VmConfig.newBuilder()
                .setId(id)
                .setName(spec.name())
                .setMemoryBytes(spec.memoryBytes())
                .setVcpus(spec.vcpus())
                .setCmdline(spec.cmdline())
                .setUser(user)
                .setChroot(chroot)
                .setConsoleUid(spec.owner().uid())
                .setConsoleGid(spec.owner().hasGroup() ? spec.owner().gid() : 0)
                // each device process's Ready comes before vmm-proc's, which vmd waits for
                .setDeviceReadyTimeoutMs((int) Math.min(Integer.MAX_VALUE, readyTimeoutMillis * 4 / 5))
                .setVerbose(Logging.verbose());
        for (int i = 0; i < taps.nics().size(); i++) {
            VmTaps.Nic n = taps.nics().get(i);
            InterfaceSpec s = n.spec();
            NicConfig.Builder nb = NicConfig.newBuilder()
                    .setIndex(i)
                    .setMac(ByteString.copyFrom(s.lladdr().octets()))
                    .setMtu(s.mtu().orElse(0))
                    .setFeatures(s.virtioFeatures())
                    .setLockedLladdr(s.locked())
                    .setTapFiltered(n.filtered())
                    .setLocal(s.local())
                    .setTapName(n.tap().name());
            if (s.local()) {
                nb.setLocalGatewayAddr(ByteString.copyFrom(n.gateway()))
                        .setLocalGuestAddr(ByteString.copyFrom(n.guest()))
                        .setLocalPrefixLen(31);
            }
            b.addNics(nb);
        }
        return b.build();
    }

    /** One vmm-proc, seen from vmd. */
    static final class VmmProcess implements VmProcess {
        private final VmSpec spec;
        private final Child child;
        /** The console's slave, as vmd opened it ({@link VmConsoles}). */
        private final String tty;
        private final VmTaps taps;
        private final DiskImages images;
        private final Listener listener;
        private final Object sendLock = new Object();
        private volatile CompletableFuture<FromVmm> pending;
        private volatile Termination how = Termination.TERM_UNSPECIFIED;
        private volatile String reason = "";
        /** The guest memory in use as vmm-proc last reported it (MemoryUsage), -1 before that. */
        private volatile long residentBytes = -1;
        private final long stopTimeoutMillis;
        private final long stopGraceMillis;
        private final CountDownLatch ended = new CountDownLatch(1);

        VmmProcess(VmSpec spec, Child child, String tty, VmTaps taps, DiskImages images, Listener listener,
                long stopTimeoutMillis, long stopGraceMillis) {
            this.spec = spec;
            this.child = child;
            this.tty = tty;
            this.taps = taps;
            this.images = images;
            this.listener = listener;
            this.stopTimeoutMillis = stopTimeoutMillis;
            this.stopGraceMillis = stopGraceMillis;
        }

        @Override
        public int pid() {
            return child.pid();
        }

        private void send(ToVmm m) throws IOException {
            synchronized (sendLock) {
                child.channel().send(m);
            }
        }

        /** Sends a request and waits for the answer of {@code kind} (one outstanding request). */
        private synchronized FromVmm call(ToVmm m, FromVmm.MsgCase kind) throws IOException {
            CompletableFuture<FromVmm> f = new CompletableFuture<>();
            pending = f;
            send(m);
            try {
                FromVmm r = f.get(10, TimeUnit.SECONDS);
                if (r.getMsgCase() == FromVmm.MsgCase.ERROR) {
                    throw new IOException(r.getError().getMessage());
                }
                if (r.getMsgCase() != kind) {
                    throw new IOException("vmm-proc answered " + r.getMsgCase() + " instead of " + kind);
                }
                return r;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            } catch (ExecutionException e) {
                throw new IOException(e.getCause().getMessage());
            } catch (TimeoutException e) {
                throw new IOException("vmm-proc did not answer " + kind);
            } finally {
                pending = null;
            }
        }

        @Override
        public void pause() throws IOException {
            call(ToVmm.newBuilder().setPause(PauseVm.getDefaultInstance()).build(), FromVmm.MsgCase.PAUSED);
        }

        @Override
        public void unpause() throws IOException {
            call(ToVmm.newBuilder().setUnpause(UnpauseVm.getDefaultInstance()).build(), FromVmm.MsgCase.UNPAUSED);
        }

        @Override
        public void setVerbose(boolean verbose) throws IOException {
            send(ToVmm.newBuilder().setLog(LogLevel.newBuilder().setVerbose(verbose)).build());
        }

        @Override
        public void stop(boolean force) throws IOException {
            if (force) {
                how = Termination.TERM_STOPPED;
                kill();
                return;
            }
            send(ToVmm.newBuilder().setStop(StopVm.newBuilder().setForce(false).setTimeoutMs((int) stopTimeoutMillis))
                    .build());
            // vmm-proc forces the stop after the timeout; should it not end (hung, stopped by a
            // signal), vmd ends it.
            Thread.ofPlatform().name("vm/" + spec.name() + "/stop").daemon(true).start(this::killIfStillRunning);
        }

        private void killIfStillRunning() {
            try {
                if (!ended.await(stopTimeoutMillis + stopGraceMillis, TimeUnit.MILLISECONDS)) {
                    LOG.log(Level.WARNING, "vm " + spec.name() + ": did not stop within " + stopTimeoutMillis + " ms; killing it");
                    how = Termination.TERM_STOPPED;
                    reason = "stopped by vmd: killed after the stop timeout";
                    kill();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void kill() {
            try {
                child.kill();
            } catch (SysException e) {
                LOG.log(Level.WARNING, "vm " + spec.name() + ": kill: " + e.getMessage());
            }
        }

        @Override
        public long residentBytes() {
            return residentBytes;
        }

        @Override
        public StatsReply stats() throws IOException {
            return call(ToVmm.newBuilder().setStats(StatsRequest.getDefaultInstance()).build(),
                    FromVmm.MsgCase.STATS).getStats();
        }

        /** Reads vmm-proc's messages until it ends, then releases everything and reports. */
        void readLoop() {
            try {
                while (true) {
                    FromVmm m;
                    try (Received<FromVmm> r = child.channel().receive(FromVmm.parser(), -1)) {
                        m = r.message();
                    } catch (FrameException e) {
                        LOG.log(Level.WARNING, "vm " + spec.name() + ": bad message from vmm-proc: " + e.getMessage());
                        continue;
                    }
                    dispatch(m);
                }
            } catch (PeerClosedException e) {
                // the process ended
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "vm " + spec.name() + ": channel: " + e.getMessage());
            } finally {
                finish();
            }
        }

        private void dispatch(FromVmm m) throws IOException {
            switch (m.getMsgCase()) {
                // the tty is the one vmd opened for the VM, never a path a VM process names
                case STARTED -> listener.started(m.getStarted().getPid() != 0 ? m.getStarted().getPid() : child.pid(),
                        tty);
                case TERMINATED -> {
                    how = m.getTerminated().getHow();
                    reason = m.getTerminated().getReason();
                }
                case MEMORY -> residentBytes = m.getMemory().getResidentBytes();
                case TUNCAP -> send(ToVmm.newBuilder().setTuncapReply(applyTunCapabilities(m.getTuncap())).build());
                case STATS, PAUSED, UNPAUSED, ERROR -> {
                    CompletableFuture<FromVmm> f = pending;
                    if (f != null) {
                        f.complete(m);
                    } else if (m.getMsgCase() == FromVmm.MsgCase.ERROR) {
                        LOG.log(Level.WARNING, "vm " + spec.name() + ": " + m.getError().getMessage());
                    }
                }
                default -> LOG.log(Level.WARNING, "vm " + spec.name() + ": unexpected message " + m.getMsgCase());
            }
        }

        /** TUNSCAP: vmd applies the guest's acked offloads to its copy of the tap. */
        TunCapabilitiesReply applyTunCapabilities(TunCapabilities c) {
            TunCapabilitiesReply.Builder r = TunCapabilitiesReply.newBuilder().setNic(c.getNic());
            if (c.getNic() >= taps.nics().size()) {
                return r.setOk(false).setError(org.jvmd.proto.Error.newBuilder()
                        .setMessage("no such nic " + c.getNic()).setErrno(22)).build();
            }
            if (!TunFlags.acceptedByLinux(c.getTunFlags())) {
                // vmm-proc relays what a guest-facing process asked; root applies only what a
                // guest's acked features can produce (unknown bits, or shapes Linux refuses)
                return r.setOk(false).setError(org.jvmd.proto.Error.newBuilder()
                        .setMessage("offload flags 0x" + Integer.toHexString(c.getTunFlags()) + " refused: not a"
                                + " TUNSETOFFLOAD word a guest's features give").setErrno(Errno.EINVAL)).build();
            }
            try {
                taps.nics().get(c.getNic()).tap().setOffload(c.getTunFlags());
                return r.setOk(true).setAppliedFlags(c.getTunFlags()).build();
            } catch (SysException e) {
                return r.setOk(false).setError(org.jvmd.proto.Error.newBuilder()
                        .setMessage(e.getMessage()).setErrno(e.errno())).build();
            }
        }

        private void finish() {
            ended.countDown();
            CompletableFuture<FromVmm> f = pending;
            if (f != null) {
                f.completeExceptionally(new IOException("vm process ended"));
            }
            try {
                child.close();
            } catch (SysException e) {
                LOG.log(Level.WARNING, "vm " + spec.name() + ": " + e.getMessage());
            }
            taps.close();
            images.close(); // vmm-proc and its vioblk-procs are gone: the image locks go with this
            Termination t = how == Termination.TERM_UNSPECIFIED ? Termination.TERM_ERROR : how;
            String why = how == Termination.TERM_UNSPECIFIED ? "vm process ended without VmTerminated" : reason;
            listener.terminated(t, why);
        }
    }
}
