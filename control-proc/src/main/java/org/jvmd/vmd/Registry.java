package org.jvmd.vmd;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.Termination;
import org.jvmd.sys.Fd;
import org.jvmd.vmd.config.Caller;
import org.jvmd.vmd.config.Config;
import org.jvmd.vmd.config.DiskSpec;
import org.jvmd.vmd.config.Globals;
import org.jvmd.vmd.config.Ipv4Prefix;
import org.jvmd.vmd.config.LladdrAllocator;
import org.jvmd.vmd.config.LladdrGenerator;
import org.jvmd.vmd.config.MacAddress;
import org.jvmd.vmd.config.SwitchSpec;
import org.jvmd.vmd.config.VmInstances;
import org.jvmd.vmd.config.VmSpec;

/**
 * vmd's VM registry and state machine: ids, start and stop, pause, wait, restart on guest
 * reboot (rate limited), reload. Processes are behind {@link VmLauncher}; every state change
 * happens under this object's lock, process calls outside it.
 */
public final class Registry {
    /** vmd's restart rate limit: at most this many starts ... */
    public static final int RESTART_LIMIT = 3;
    /** ... within this window. */
    public static final long RESTART_WINDOW_NANOS = TimeUnit.SECONDS.toNanos(6);

    private static final System.Logger LOG = System.getLogger("vmd");

    private final VmLauncher launcher;
    private final Executor executor;
    private final LongSupplier nanoTime;
    private final LladdrGenerator lladdrs;
    private final Map<Integer, VmdVm> vms = new LinkedHashMap<>();
    private int nextId = 1;
    private Config config;

    /** Which VM a request names: an id, or a name when id is 0. */
    public record VmRef(int id, String name) {
        public static VmRef of(int id) {
            return new VmRef(id, "");
        }

        public static VmRef of(String name) {
            return new VmRef(0, name);
        }

        @Override
        public String toString() {
            return id != 0 ? Integer.toString(id) : name;
        }
    }

    /** What {@code vmctl status} shows of a VM. */
    public record VmInfo(int id, int pid, int vcpus, long maxMemory, long curMemory, String tty, int ownerUid,
            int ownerGid, VmState state, String name, List<String> disks) {
        public VmInfo {
            disks = List.copyOf(disks);
        }
    }

    /**
     * What vmctl start asks besides the VM. A kernel or initrd a caller names comes with the
     * descriptor it passed ({@code kernelFd}, {@code initrdFd}; {@link DiskSpec#passed} for
     * disks), checked by {@link Control}; the registry keeps its own duplicates for the VM's
     * life ({@link VmSpec#dupPassed}) and closes them when the VM is forgotten or its files
     * replaced. The paths are shown only.
     */
    public record StartOptions(Optional<String> template, Optional<java.nio.file.Path> kernel, long memoryBytes,
            int interfaceCount, List<String> switches, List<DiskSpec> disks, Optional<java.nio.file.Path> initrd,
            Optional<Fd> kernelFd, Optional<Fd> initrdFd) {
        public StartOptions {
            switches = List.copyOf(switches);
            disks = List.copyOf(disks);
            java.util.Objects.requireNonNull(initrd, "initrd");
            java.util.Objects.requireNonNull(kernelFd, "kernelFd");
            java.util.Objects.requireNonNull(initrdFd, "initrdFd");
        }

        public StartOptions(Optional<String> template, Optional<java.nio.file.Path> kernel, long memoryBytes,
                int interfaceCount, List<String> switches, List<DiskSpec> disks, Optional<java.nio.file.Path> initrd) {
            this(template, kernel, memoryBytes, interfaceCount, switches, disks, initrd, Optional.empty(), Optional.empty());
        }

        /** These options with the descriptors the caller passed for its kernel and initrd. */
        public StartOptions withBootFds(Optional<Fd> k, Optional<Fd> i) {
            return new StartOptions(template, kernel, memoryBytes, interfaceCount, switches, disks, initrd, k, i);
        }

        /** Options without an initrd. */
        public StartOptions(Optional<String> template, Optional<java.nio.file.Path> kernel, long memoryBytes,
                int interfaceCount, List<String> switches, List<DiskSpec> disks) {
            this(template, kernel, memoryBytes, interfaceCount, switches, disks, Optional.empty());
        }

        /** These options with {@code initrd} (StartRequest.initrd). */
        public StartOptions withInitrd(Optional<java.nio.file.Path> i) {
            return new StartOptions(template, kernel, memoryBytes, interfaceCount, switches, disks, i, kernelFd, initrdFd);
        }

        public static StartOptions none() {
            return new StartOptions(Optional.empty(), Optional.empty(), 0, -1, List.of(), List.of());
        }

        boolean overrides() {
            return kernel.isPresent() || initrd.isPresent() || memoryBytes != 0 || interfaceCount > 0 || !switches.isEmpty()
                    || !disks.isEmpty();
        }
    }

    public Registry(VmLauncher launcher, Executor executor, LongSupplier nanoTime, LladdrGenerator lladdrs) {
        this.launcher = launcher;
        this.executor = executor;
        this.nanoTime = nanoTime;
        this.lladdrs = lladdrs;
    }

    // ---- configuration ----

    /**
     * Takes a (new) configuration: registers its VMs, updates stopped ones, forgets stopped VMs
     * that are gone; running VMs keep running. Returns the enabled VMs that are stopped, in
     * order, for the caller to start (staggered).
     */
    public synchronized List<Integer> load(Config c) {
        this.config = c;
        Map<String, VmdVm> byName = new HashMap<>();
        for (VmdVm vm : vms.values()) {
            byName.put(vm.name(), vm);
        }
        List<String> names = new ArrayList<>();
        for (VmSpec spec : c.vms()) {
            names.add(spec.name());
            VmdVm vm = byName.get(spec.name());
            if (vm == null) {
                vm = new VmdVm(nextId++, spec, true);
                vms.put(vm.id, vm);
            } else {
                vm.configured = true;
                if (vm.state == VmState.STOPPED) {
                    replaceSpec(vm, spec);
                }
            }
        }
        for (Iterator<VmdVm> it = vms.values().iterator(); it.hasNext();) {
            VmdVm vm = it.next();
            if (vm.configured && !names.contains(vm.name())) {
                vm.configured = false;
                if (vm.state == VmState.STOPPED) {
                    it.remove();
                    forget(vm);
                }
            }
        }
        List<Integer> toStart = new ArrayList<>();
        for (VmSpec spec : c.vms()) {
            VmdVm vm = byName.containsKey(spec.name()) ? byName.get(spec.name()) : find(VmRef.of(spec.name()));
            if (vm != null && spec.enabled() && vm.state == VmState.STOPPED) {
                toStart.add(vm.id);
            }
        }
        return toStart;
    }

    /** What {@link #add} added: the enabled VMs to start, in order, and the new switches. */
    public record Added(List<Integer> toStart, List<SwitchSpec> switches) {
        public Added {
            toStart = List.copyOf(toStart);
            switches = List.copyOf(switches);
        }
    }

    /**
     * vmctl load (vmd.c's vmd_reload with a file, parse.y's vm_register): adds the VMs and
     * switches of {@code c} to the running configuration. A VM whose name is known already
     * (configured, loaded, an instance or an ad-hoc VM; running or not) and a switch whose
     * name is known are skipped: what runs keeps its settings. Nothing is forgotten, and the
     * file's global settings are not applied (vmd sends them to its children only on reload).
     */
    public synchronized Added add(Config c) {
        Config current = config != null ? config : new Config(c.globals(), List.of(), List.of());
        List<SwitchSpec> switches = new ArrayList<>(current.switches());
        List<SwitchSpec> newSwitches = new ArrayList<>();
        for (SwitchSpec s : c.switches()) {
            if (current.switchNamed(s.name()).isPresent()) {
                LOG.log(Level.DEBUG, () -> "load: switch " + s.name() + " skipped (already exists)");
            } else {
                switches.add(s);
                newSwitches.add(s);
            }
        }
        List<VmSpec> specs = new ArrayList<>(current.vms());
        List<Integer> toStart = new ArrayList<>();
        for (VmSpec spec : c.vms()) {
            VmdVm known = find(VmRef.of(spec.name()));
            if (known != null) {
                LOG.log(Level.DEBUG, () -> "load: vm " + spec.name() + " skipped ("
                        + (known.state.hasProcess() ? "running" : "already exists") + ")");
                continue;
            }
            VmdVm vm = new VmdVm(nextId++, spec, true);
            vms.put(vm.id, vm);
            specs.add(spec);
            if (spec.enabled()) {
                toStart.add(vm.id);
            }
        }
        config = new Config(current.globals(), switches, specs);
        return new Added(toStart, newSwitches);
    }

    /**
     * vmctl reset (vmd's config_purge): forgets the VMs ({@code vms}) and/or the switches
     * ({@code switches}) of the running configuration, and sets the local prefix back to its
     * default. No file is read. A VM that still has a process is no longer configured: it is
     * forgotten when it ends (the caller stops it). Ids are not reused.
     */
    public synchronized void purge(boolean purgeVms, boolean purgeSwitches) {
        if (purgeVms) {
            for (Iterator<VmdVm> it = vms.values().iterator(); it.hasNext();) {
                VmdVm vm = it.next();
                vm.configured = false;
                if (vm.state == VmState.STOPPED || vm.state == VmState.WAITING) {
                    it.remove();
                    forget(vm);
                }
            }
        }
        if (config != null) {
            Globals g = config.globals();
            config = new Config(new Globals(Ipv4Prefix.DEFAULT_LOCAL, g.localInet6(), g.localPrefix6(),
                    g.socketOwner(), g.staggeredStart()),
                    purgeSwitches ? List.of() : config.switches(), purgeVms ? List.of() : config.vms());
        }
    }

    public synchronized Config config() {
        return config;
    }

    // ---- queries ----

    /**
     * vmctl log verbose|brief to every VM process (and, through it, its device processes); a
     * VM started later takes vmd's level with its configuration.
     */
    public void setVerbose(boolean verbose) {
        List<VmProcess> running = new ArrayList<>();
        synchronized (this) {
            for (VmdVm vm : vms.values()) {
                if (vm.process != null) {
                    running.add(vm.process);
                }
            }
        }
        for (VmProcess p : running) {
            try {
                p.setVerbose(verbose);
            } catch (IOException e) {
                LOG.log(Level.DEBUG, "log level of pid " + p.pid() + ": " + e.getMessage());
            }
        }
    }

    public synchronized List<VmInfo> status() {
        List<VmInfo> out = new ArrayList<>();
        for (VmdVm vm : vms.values()) {
            out.add(info(vm));
        }
        return out;
    }

    public synchronized Optional<VmInfo> info(VmRef ref) {
        VmdVm vm = find(ref);
        return vm == null ? Optional.empty() : Optional.of(info(vm));
    }

    /** The VM as {@code caller} may see it for its console: only its owner (or root) may. */
    public synchronized VmInfo owned(VmRef ref, Caller caller) throws VmdException {
        return info(require(ref, caller));
    }

    /** The tty is the VM's from its first process's start until it stops, reboots included. */
    private static VmInfo info(VmdVm vm) {
        VmSpec s = vm.spec;
        boolean proc = vm.state.hasProcess();
        return new VmInfo(vm.id, proc ? vm.pid : 0, s.vcpus(), s.memoryBytes(), proc ? curMemory(vm) : 0,
                vm.tty, s.owner().uid(), s.owner().gid(), vm.state, s.name(),
                diskNames(s));
    }

    /** vmd's CURMEM: the guest memory in use as the VM process reports it (0 until its first report). */
    private static long curMemory(VmdVm vm) {
        VmProcess p = vm.process;
        return p == null ? 0 : Math.max(0, p.residentBytes());
    }

    private static List<String> diskNames(VmSpec s) {
        return s.disks().stream().map(DiskSpec::toString).toList();
    }

    private VmdVm find(VmRef ref) {
        if (ref.id() != 0) {
            return vms.get(ref.id());
        }
        for (VmdVm vm : vms.values()) {
            if (vm.name().equals(ref.name())) {
                return vm;
            }
        }
        return null;
    }

    private VmdVm require(VmRef ref, Caller caller) throws VmdException {
        VmdVm vm = find(ref);
        if (vm == null) {
            throw new VmdException(VmdException.ENOENT, "vm not found");
        }
        if (!caller.permits(vm.spec.owner())) {
            throw new VmdException(VmdException.EPERM, "permission denied");
        }
        return vm;
    }

    // ---- start ----

    /**
     * vmctl start: starts a configured VM, an instance of a template ({@code -t}) or, for
     * root, an ad-hoc VM ({@code -b}). The future completes when the VM runs.
     */
    public synchronized CompletableFuture<VmInfo> start(VmRef ref, StartOptions opts, Caller caller)
            throws VmdException {
        VmdVm vm = find(ref);
        if (vm == null) {
            vm = create(ref, opts, caller);
        } else {
            if (!caller.permits(vm.spec.owner())) {
                throw new VmdException(VmdException.EPERM, "permission denied");
            }
            if (opts.template().isPresent()) {
                throw new VmdException(VmdException.EEXIST, "vm \"" + vm.name() + "\" already exists");
            }
            if (opts.overrides()) {
                if (!caller.isRoot()) {
                    throw new VmdException(VmdException.EPERM, "permission denied");
                }
                if (vm.state == VmState.STOPPED) {
                    replaceSpec(vm, own(override(vm.spec, opts)));
                }
            }
        }
        if (vm.state != VmState.STOPPED && vm.state != VmState.WAITING) {
            throw new VmdException(VmdException.EALREADY, "vm already running");
        }
        return launch(vm).thenApply(v -> {
            synchronized (this) {
                return info(v);
            }
        });
    }

    /** Starts a VM queued by staggered start, if it is still waiting. */
    public synchronized void startQueued(int id) {
        VmdVm vm = vms.get(id);
        if (vm != null && (vm.state == VmState.WAITING || vm.state == VmState.STOPPED)) {
            launch(vm).exceptionally(e -> null);
        }
    }

    /** Marks configured VMs as waiting for staggered start. */
    public synchronized void markWaiting(List<Integer> ids) {
        for (int id : ids) {
            VmdVm vm = vms.get(id);
            if (vm != null && vm.state == VmState.STOPPED) {
                vm.state = VmState.WAITING;
            }
        }
    }

    private VmdVm create(VmRef ref, StartOptions opts, Caller caller) throws VmdException {
        if (ref.id() != 0 || ref.name().isEmpty()) {
            throw new VmdException(VmdException.ENOENT, "vm not found");
        }
        Optional<String> bad = org.jvmd.vmd.config.Names.vmNameError(ref.name());
        if (bad.isPresent()) {
            throw new VmdException(VmdException.EINVAL, bad.get());
        }
        VmSpec spec;
        if (opts.template().isPresent()) {
            VmdVm parent = find(VmRef.of(opts.template().get()));
            if (parent == null) {
                throw new VmdException(VmdException.EINVAL, org.jvmd.proto.ErrorCode.TEMPLATE_INVALID, "invalid template");
            }
            var req = org.jvmd.vmd.config.InstanceRequest.named(ref.name());
            if (opts.memoryBytes() != 0) {
                req = req.withMemory(opts.memoryBytes());
            }
            if (opts.kernel().isPresent()) {
                req = req.withKernel(opts.kernel().get());
            }
            if (opts.initrd().isPresent()) {
                req = req.withInitrd(opts.initrd().get());
            }
            if (opts.interfaceCount() > 0) {   // -i adds interfaces: -i 0 adds none, as no -i
                req = req.withInterfaceCount(opts.interfaceCount());
            }
            if (!opts.disks().isEmpty()) {
                req = req.withDisks(opts.disks());
            }
            if (!opts.switches().isEmpty()) {
                List<org.jvmd.vmd.config.InterfaceRequest> ifs = new ArrayList<>();
                for (String sw : opts.switches()) {
                    ifs.add(sw.equals(".") ? localInterface() : org.jvmd.vmd.config.InterfaceRequest.onSwitch(sw));
                }
                req = req.withInterfaces(ifs);
            }
            var outcome = VmInstances.create(parent.spec, req, caller, switches(), allocator());
            if (outcome instanceof VmInstances.Refused r) {
                throw new VmdException(VmdException.EPERM, r.message());
            }
            spec = ((VmInstances.Created) outcome).vm().withBootFds(opts.kernelFd(), opts.initrdFd());
        } else if (opts.kernel().isPresent()) {
            if (!caller.isRoot()) {
                throw new VmdException(VmdException.EPERM, "permission denied");
            }
            spec = override(new VmSpec(ref.name(), Optional.empty(), 512L << 20, 1, opts.kernel().get(),
                    Optional.empty(), "", List.of(), List.of(), org.jvmd.vmd.config.Owner.ROOT, true,
                    org.jvmd.vmd.config.InstancePolicy.NONE, Optional.empty()), opts);
        } else {
            throw new VmdException(VmdException.ENOENT, "vm not found");
        }
        VmdVm vm = new VmdVm(nextId++, own(spec), false);
        vms.put(vm.id, vm);
        return vm;
    }

    private Map<String, SwitchSpec> switches() {
        Map<String, SwitchSpec> m = new HashMap<>();
        if (config != null) {
            for (SwitchSpec s : config.switches()) {
                m.put(s.name(), s);
            }
        }
        return m;
    }

    private LladdrAllocator allocator() {
        List<MacAddress> used = new ArrayList<>();
        for (VmdVm vm : vms.values()) {
            vm.spec.interfaces().forEach(i -> used.add(i.lladdr()));
        }
        return new LladdrAllocator(lladdrs, used);
    }

    /** Root's vmctl start options applied to a VM (-b, -m, -i, -n, -d). */
    private VmSpec override(VmSpec s, StartOptions o) throws VmdException {
        var ifs = new ArrayList<>(s.interfaces());
        int count = Math.max(o.interfaceCount(), o.switches().size());
        LladdrAllocator alloc = allocator();
        Map<String, SwitchSpec> sws = switches();
        while (ifs.size() < count) {
            int i = ifs.size();
            var req = i < o.switches().size() && !o.switches().get(i).equals(".")
                    ? org.jvmd.vmd.config.InterfaceRequest.onSwitch(o.switches().get(i))
                    : org.jvmd.vmd.config.InterfaceRequest.defaults();
            if (i < o.switches().size() && o.switches().get(i).equals(".")) {
                req = localInterface();
            }
            try {
                ifs.add(req.resolve(alloc.allocate(i), req.switchName().map(sws::get).orElse(null)));
            } catch (org.jvmd.vmd.config.LladdrAllocator.Exhausted e) {
                throw new VmdException(28 /* ENOSPC */, e.getMessage());
            }
        }
        return new VmSpec(s.name(), s.parent(), o.memoryBytes() != 0 ? o.memoryBytes() : s.memoryBytes(), s.vcpus(),
                o.kernel().orElse(s.kernel()), o.initrd().or(s::initrd), s.cmdline(), ifs,
                o.disks().isEmpty() ? s.disks() : o.disks(), s.owner(), s.enabled(),
                s.allowInstance(), s.source(),
                // a file named now comes with its descriptor; one kept from before keeps its own
                o.kernel().isPresent() ? o.kernelFd() : s.kernelFd(),
                o.initrd().isPresent() ? o.initrdFd() : s.initrdFd());
    }

    /** vmctl's "." switch (start -L): a local interface. */
    private static org.jvmd.vmd.config.InterfaceRequest localInterface() {
        return new org.jvmd.vmd.config.InterfaceRequest(Optional.empty(), true, Optional.empty(), Optional.empty(),
                false, true, Optional.empty(), org.jvmd.vmd.config.Offload.ON, java.util.OptionalInt.empty());
    }

    /**
     * {@code s} with the registry's own duplicates of the descriptors a caller passed: the
     * request's copies are its handler's to close ({@link Control#handle}).
     */
    private static VmSpec own(VmSpec s) throws VmdException {
        try {
            return s.dupPassed();
        } catch (org.jvmd.sys.SysException e) {
            throw new VmdException(VmdException.EIO, "cannot keep the passed files: " + e.getMessage());
        }
    }

    /** Under the lock: the VM takes {@code s} (owning its passed descriptors); the old spec's are closed. */
    private static void replaceSpec(VmdVm vm, VmSpec s) {
        VmSpec old = vm.spec;
        vm.spec = s;
        if (old != s) {
            Fd.closeAll(old.passedFds());
        }
    }

    /** Under the lock: a VM the registry no longer holds closes the descriptors it kept. */
    private static void forget(VmdVm vm) {
        Fd.closeAll(vm.spec.passedFds());
    }

    /** Under the lock: STARTING, then launch on the executor. */
    private CompletableFuture<VmdVm> launch(VmdVm vm) {
        long now = nanoTime.getAsLong();
        vm.starts.addLast(now);
        while (vm.starts.size() > RESTART_LIMIT) {
            vm.starts.removeFirst();
        }
        vm.state = VmState.STARTING;
        vm.stopRequested = false;
        int gen = ++vm.generation;
        CompletableFuture<VmdVm> result = new CompletableFuture<>();
        vm.startResult = result;
        VmSpec spec = vm.spec;
        LOG.log(Level.DEBUG, () -> "vm " + spec.name() + ": starting");
        executor.execute(() -> doLaunch(vm, gen, spec));
        return result;
    }

    private void doLaunch(VmdVm vm, int gen, VmSpec spec) {
        VmProcess p;
        try {
            p = launcher.launch(vm.id, spec, new Events(vm, gen));
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "vm " + spec.name() + ": start failed: " + e.getMessage());
            synchronized (this) {
                if (gen == vm.generation) {
                    // a refused disk image or boot file names itself to vmctl (errno 0: the message is printed)
                    int errno = e instanceof DiskImages.DiskImageException || e instanceof CallerAccess.Refused
                            ? 0 : VmdException.EIO;
                    ended(vm, new VmdException(errno, String.valueOf(e.getMessage())));
                }
            }
            return;
        }
        boolean stopNow;
        synchronized (this) {
            if (gen != vm.generation || vm.state == VmState.STOPPED) {
                stopNow = true;
                if (vm.state == VmState.STOPPED) {
                    launcher.released(vm.id); // the console this launch opened after the stop
                }
            } else {
                vm.process = p;
                vm.pid = p.pid();
                stopNow = false;
                if (vm.stopRequested) {
                    vm.state = VmState.STOPPING;
                    executor.execute(() -> quietly(() -> p.stop(true), p));
                }
            }
        }
        if (stopNow) {
            p.kill();
        }
    }

    /** The process's events for one launch; stale ones (an earlier launch) are ignored. */
    private final class Events implements VmLauncher.Listener {
        private final VmdVm vm;
        private final int gen;

        Events(VmdVm vm, int gen) {
            this.vm = vm;
            this.gen = gen;
        }

        @Override
        public void started(int pid, String tty) {
            synchronized (Registry.this) {
                if (gen != vm.generation) {
                    return;
                }
                vm.pid = pid;
                vm.tty = tty;
                if (vm.state == VmState.STARTING) {
                    vm.state = VmState.RUNNING;
                }
                LOG.log(Level.DEBUG, () -> "vm " + vm.name() + ": running, pid " + pid + ", tty " + tty);
                vm.startResult.complete(vm);
            }
        }

        @Override
        public void terminated(Termination how, String reason) {
            synchronized (Registry.this) {
                if (gen != vm.generation) {
                    return;
                }
                LOG.log(Level.DEBUG, () -> "vm " + vm.name() + ": terminated (" + how + (reason.isEmpty() ? "" : ": " + reason)
                        + ")");
                boolean reboot = how == Termination.TERM_REBOOT && !vm.stopRequested;
                if (reboot && restartAllowed(vm)) {
                    vm.process = null;
                    vm.pid = 0;
                    // vm.tty stays: the next process gets the same console (VmLauncher.released)
                    launch(vm).exceptionally(e -> null);
                    return;
                }
                if (reboot) {
                    LOG.log(Level.WARNING, "vm " + vm.name() + ": restarted too quickly, not restarting");
                }
                ended(vm, new VmdException(VmdException.EIO,
                        reason.isEmpty() ? "vm terminated before it ran" : reason));
            }
        }
    }

    private boolean restartAllowed(VmdVm vm) {
        if (vm.starts.size() < RESTART_LIMIT) {
            return true;
        }
        return nanoTime.getAsLong() - vm.starts.peekFirst() >= RESTART_WINDOW_NANOS;
    }

    /** Under the lock: the VM is stopped; wake everyone waiting on it. */
    private void ended(VmdVm vm, VmdException startFailure) {
        vm.state = VmState.STOPPED;
        vm.process = null;
        vm.pid = 0;
        vm.tty = "";
        launcher.released(vm.id);
        if (vm.startResult != null && !vm.startResult.isDone()) {
            vm.startResult.completeExceptionally(startFailure);
        }
        for (CompletableFuture<VmdVm> f : vm.stopWaiters) {
            f.complete(vm);
        }
        vm.stopWaiters.clear();
        if (!vm.configured) {
            vms.remove(vm.id);
            forget(vm);
        }
    }

    // ---- stop, wait, pause ----

    /** vmctl stop: the future completes when the VM has terminated. */
    public CompletableFuture<VmInfo> stop(VmRef ref, boolean force, Caller caller) throws VmdException {
        VmProcess p;
        CompletableFuture<VmdVm> done = new CompletableFuture<>();
        int id;
        synchronized (this) {
            VmdVm vm = require(ref, caller);
            id = vm.id;
            if (vm.state == VmState.WAITING) {
                vm.state = VmState.STOPPED;
                return CompletableFuture.completedFuture(info(vm));
            }
            if (vm.state == VmState.STOPPED || (vm.state == VmState.STOPPING && !force)) {
                throw new VmdException(VmdException.EINVAL, "cannot stop vm that is not running");
            }
            vm.stopRequested = true;
            vm.stopWaiters.add(done);
            p = vm.process;
            if (p != null) {
                vm.state = VmState.STOPPING;
            }
        }
        final int vmId = id;
        if (p != null) {
            LOG.log(Level.DEBUG, () -> "vm " + ref + ": stop" + (force ? " (forced)" : ""));
            executor.execute(() -> quietly(() -> p.stop(force), p));
        }
        return done.thenApply(v -> stoppedInfo(vmId, v));
    }

    private static VmInfo stoppedInfo(int id, VmdVm v) {
        return new VmInfo(id, 0, v.spec.vcpus(), v.spec.memoryBytes(), 0, "", v.spec.owner().uid(),
                v.spec.owner().gid(), VmState.STOPPED, v.name(), diskNames(v.spec));
    }

    /** vmctl wait: completes when the VM terminates. */
    public synchronized CompletableFuture<VmInfo> waitFor(VmRef ref, Caller caller) throws VmdException {
        VmdVm vm = require(ref, caller);
        if (vm.state == VmState.STOPPED || vm.state == VmState.WAITING) {
            throw new VmdException(VmdException.EINVAL, "cannot stop vm that is not running");
        }
        CompletableFuture<VmdVm> f = new CompletableFuture<>();
        vm.stopWaiters.add(f);
        int id = vm.id;
        return f.thenApply(v -> stoppedInfo(id, v));
    }

    public VmInfo pause(VmRef ref, Caller caller) throws VmdException {
        return pauseOrUnpause(ref, caller, true);
    }

    public VmInfo unpause(VmRef ref, Caller caller) throws VmdException {
        return pauseOrUnpause(ref, caller, false);
    }

    private VmInfo pauseOrUnpause(VmRef ref, Caller caller, boolean pause) throws VmdException {
        VmProcess p;
        VmdVm vm;
        synchronized (this) {
            vm = require(ref, caller);
            VmState need = pause ? VmState.RUNNING : VmState.PAUSED;
            if (vm.state != need || vm.process == null) {
                throw new VmdException(VmdException.EINVAL, pause ? "vm is not running" : "vm is not paused");
            }
            p = vm.process;
        }
        try {
            if (pause) {
                p.pause();
            } else {
                p.unpause();
            }
        } catch (IOException e) {
            throw new VmdException(VmdException.EIO, String.valueOf(e.getMessage()));
        }
        synchronized (this) {
            if (vm.process == p && vm.state == (pause ? VmState.RUNNING : VmState.PAUSED)) {
                vm.state = pause ? VmState.PAUSED : VmState.RUNNING;
            }
            return info(vm);
        }
    }

    /** vmctl stats: per-NIC counters of a running VM. */
    public StatsReply stats(VmRef ref, Caller caller) throws VmdException {
        VmProcess p;
        synchronized (this) {
            VmdVm vm = require(ref, caller);
            p = vm.process;
            if (p == null) {
                throw new VmdException(VmdException.EINVAL, "vm is not running");
            }
        }
        try {
            return p.stats();
        } catch (IOException e) {
            throw new VmdException(VmdException.EIO, String.valueOf(e.getMessage()));
        }
    }

    /**
     * Stops every VM: asks each guest to power off, waits up to {@code timeoutMillis}, then
     * kills what is left (vmd's shutdown and {@code reset vms}).
     */
    public void stopAll(long timeoutMillis) {
        List<CompletableFuture<VmInfo>> pending = new ArrayList<>();
        List<Integer> ids;
        synchronized (this) {
            ids = new ArrayList<>(vms.keySet());
        }
        for (int id : ids) {
            try {
                synchronized (this) {
                    VmdVm vm = vms.get(id);
                    if (vm == null) {
                        continue;
                    }
                    if (vm.state == VmState.STOPPED || vm.state == VmState.WAITING) {
                        vm.state = VmState.STOPPED;
                        continue;
                    }
                }
                pending.add(stop(VmRef.of(id), false, Caller.root()));
            } catch (VmdException e) {
                // already stopping or stopped
                synchronized (this) {
                    VmdVm vm = vms.get(id);
                    if (vm != null && vm.state == VmState.STOPPING) {
                        CompletableFuture<VmdVm> f = new CompletableFuture<>();
                        vm.stopWaiters.add(f);
                        pending.add(f.thenApply(v -> null));
                    }
                }
            }
        }
        try {
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new))
                    .get(timeoutMillis, TimeUnit.MILLISECONDS);
            return;
        } catch (Exception e) {
            LOG.log(Level.WARNING, "vms did not stop within " + timeoutMillis + " ms; killing them");
        }
        List<VmProcess> left = new ArrayList<>();
        synchronized (this) {
            for (VmdVm vm : vms.values()) {
                if (vm.process != null) {
                    left.add(vm.process);
                }
            }
        }
        for (VmProcess p : left) {
            p.kill();
        }
        try {
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(Level.WARNING, "vms still not reported stopped after kill", e);
        }
    }

    private interface IoAction {
        void run() throws IOException;
    }

    private static void quietly(IoAction a, VmProcess p) {
        try {
            a.run();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "vm process " + p.pid() + ": " + e.getMessage() + "; killing it");
            p.kill();
        }
    }
}
