package org.jvmd.vmd;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.ResetRequest;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.ControlSocket;
import org.jvmd.sys.proc.Role;
import org.jvmd.sys.proc.SdNotify;
import org.jvmd.sys.proc.Shed;
import org.jvmd.sys.proc.Users;
import org.jvmd.vmd.config.Caller;
import org.jvmd.vmd.config.Config;
import org.jvmd.vmd.config.ConfigEnvironment;
import org.jvmd.vmd.config.ConfigParser;
import org.jvmd.vmd.config.EtcAccounts;
import org.jvmd.vmd.config.ParseResult;
import org.jvmd.vmd.config.StaggeredStart;
import org.jvmd.vmd.config.SwitchSpec;
import sun.misc.Signal;

/**
 * vmd: {@code vmd [-dnv] [-D macro=value] [-f file] [-s socket]}. Reads vm.conf, binds the
 * control socket and hands it to its unprivileged control process ({@link ControlProcess}),
 * whose forwarded requests it answers as root; starts the enabled VMs (staggered), reloads on
 * SIGHUP and stops every VM, its taps and its socket on SIGTERM.
 */
public final class Vmd implements Control.Daemon {
    public static final Path DEFAULT_CONFIG = Path.of("/etc/vm.conf");
    public static final Path DEFAULT_SOCKET = Path.of("/run/vmd.sock");
    /** How long SIGTERM waits for guests to power off before killing them, unless --shutdown-timeout says. */
    static final long DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
    /** How long a VM process may take to answer Ready (a JVM start on a busy host); --ready-timeout. */
    static final long DEFAULT_READY_TIMEOUT_MS = 60_000;

    /**
     * How many vmm-procs vmd keeps spawned ahead unless --warm-pool says (issue 17's warm pool;
     * the measurement behind it is in docs/architecture.md, "A vmctl start's path"): none. A
     * member waits as root, unconfined (it drops once it has its VM), and by default every
     * child of vmd but the ones serving a VM's start is confined; an operator who wants the
     * shorter start asks for it.
     */
    static final int DEFAULT_WARM_POOL = 0;
    /** The most --warm-pool takes: each member is an idle JVM. */
    static final int MAX_WARM_POOL = 64;

    private static final System.Logger LOG = System.getLogger("vmd");
    static final String USAGE = "usage: vmd [-dnv] [-D macro=value] [-f file] [-s socket]";

    /**
     * The parsed command line: vmd's flags, and jvmd's operator settings (--user, --chroot:
     * "" for the role's default; --console-log-dir: null for none; the timeouts in ms).
     */
    record Options(boolean foreground, boolean noAction, int verbose, Map<String, String> defines, Path config,
            Path socket, String user, String chroot, Path consoleLogDir, long shutdownTimeoutMs, long stopTimeoutMs,
            long readyTimeoutMs, int warmPool) {
    }

    private final Options options;
    private final ConfigEnvironment env;
    private final Registry registry;
    private final VmmProcSpawner vmms;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "vmd-timer");
        t.setDaemon(true);
        return t;
    });
    private final CountDownLatch done = new CountDownLatch(1);
    private final Path configFile;
    /** systemd's $NOTIFY_SOCKET (Type=notify in etc/vmd.service); a no-op outside systemd. */
    private final SdNotify notify = SdNotify.fromEnvironment();
    private ControlSocket socket;
    private ControlProcess control;

    Vmd(Options options, ConfigEnvironment env) {
        this.options = options;
        this.env = env;
        this.configFile = options.config();
        this.vmms = new VmmProcSpawner(this::currentConfig, options.readyTimeoutMs(), options.stopTimeoutMs(),
                options.user(), options.chroot(), options.consoleLogDir(), options.warmPool());
        this.registry = new Registry(vmms,
                Executors.newCachedThreadPool(Thread.ofPlatform().name("vmd-worker-", 0).daemon(true).factory()),
                System::nanoTime, env.lladdrs());
    }

    private Config currentConfig() {
        return registry.config();
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs vmd; returns its exit status. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, out, err, null, null);
    }

    /** The user every VM process drops to by default ({@code _vmd}; --user names another). */
    static String vmmUser() {
        return Role.VMM.user("");
    }

    /**
     * Why VM processes could not drop to {@code user}, or null when they can: it must exist
     * and not be root. Checked at start, so that a missing user is one clear line, not a
     * failed start of every VM.
     */
    static String unusableUser(String user) {
        Users.Ids ids;
        try {
            ids = Users.lookup(user);
        } catch (IOException e) {
            return "user " + user + " does not exist: run etc/install or scripts/setup";
        }
        if (ids.uid() == 0 || ids.gid() == 0) {
            return "user " + user + " is root: VM processes must drop to an unprivileged user";
        }
        return null;
    }

    /**
     * Why VM processes could not chroot to {@code chroot} ("" for the role's default, created
     * here when absent), or null when they can: it must be an empty directory.
     */
    static String unusableChroot(String chroot) {
        try {
            Shed.checkEmptyDirectory(Role.VMM.chroot(chroot));
            return null;
        } catch (IOException e) {
            return e.getMessage() + ": every VM process chroots there";
        }
    }

    /** {@link #run(String[], PrintStream, PrintStream)} whose VM processes drop to {@code user}. */
    static int run(String[] args, PrintStream out, PrintStream err, String user) {
        return run(args, out, err, user, null);
    }

    /**
     * {@link #run(String[], PrintStream, PrintStream)} whose VM processes drop to {@code user}
     * in {@code chroot} (each null: as the command line says).
     */
    static int run(String[] args, PrintStream out, PrintStream err, String user, String chroot) {
        Options o;
        try {
            o = parse(args, out);
        } catch (VmdArgs.UsageError e) {
            if (!e.getMessage().isEmpty()) {
                err.println("vmd: " + e.getMessage());
            }
            err.println(USAGE);
            return 1;
        }
        if (o == null) {
            return 0;
        }
        if (user == null) {
            user = Role.VMM.user(o.user());
        }
        if (chroot == null) {
            chroot = o.chroot();
        }
        ConfigEnvironment env = ConfigEnvironment.system().withDefines(o.defines());
        ParseResult parsed = parseConfig(env, o.config());
        if (o.noAction()) {
            err.print(parsed.noActionOutput());
            err.flush();
            return parsed.exitCode();
        }
        if (!parsed.ok()) {
            err.print(parsed.noActionOutput());
            return 1;
        }
        String unusable = unusableUser(user);
        if (unusable == null) {
            unusable = unusableChroot(chroot);
        }
        if (unusable != null) {
            err.println("vmd: " + unusable);
            return 1;
        }
        Logging.init(o.foreground(), o.verbose() > 0, Path.of("/dev/log"));
        Vmd vmd = new Vmd(o, env);
        try {
            vmd.serve(parsed.config().orElseThrow());
        } catch (IOException e) {
            LOG.log(Level.ERROR, e.getMessage());
            err.println("vmd: " + e.getMessage());
            return 1;
        }
        return 0;
    }

    /** Parses vmd's command line ({@link VmdArgs}); null after --help. */
    static Options parse(String[] args, PrintStream out) throws VmdArgs.UsageError {
        VmdArgs a = VmdArgs.parse(args, out);
        if (a == null) {
            return null;
        }
        long shutdownMs = a.shutdownTimeoutSeconds != null ? a.shutdownTimeoutSeconds * 1000
                : Long.getLong("jvmd.shutdownTimeoutMs", DEFAULT_SHUTDOWN_TIMEOUT_MS);
        long stopMs = a.stopTimeoutSeconds != null ? a.stopTimeoutSeconds * 1000
                : Long.getLong("jvmd.stopTimeoutMs", VmmProcSpawner.DEFAULT_STOP_TIMEOUT_MS);
        long readyMs = a.readyTimeoutSeconds != null ? a.readyTimeoutSeconds * 1000
                : Long.getLong("jvmd.vmmReadyTimeoutMs", DEFAULT_READY_TIMEOUT_MS);
        return new Options(a.foreground, a.noAction, a.verbose.length, a.defineMap(), a.config, a.socket, a.user,
                a.chroot, a.consoleLogDir, shutdownMs, stopMs, readyMs,
                a.warmPool != null ? a.warmPool : DEFAULT_WARM_POOL);
    }

    /** A missing vm.conf is an empty one, as for vmd. */
    static ParseResult parseConfig(ConfigEnvironment env, Path file) {
        ConfigParser p = new ConfigParser(env);
        if (!Files.exists(file)) {
            return p.parse(file.toString(), "", Path.of("/"));
        }
        return p.parseFile(file);
    }

    private void serve(Config config) throws IOException {
        // signals first: a client that sees the socket may signal vmd at once. A vmd started
        // with one of them ignored (under nohup, in a script's background) would inherit that,
        // and the JVM would not handle it: they get their default disposition first.
        for (int sig : new int[] {LibC.SIGHUP, LibC.SIGTERM, LibC.SIGINT}) {
            if (LibC.signalDefault(sig)) {
                LOG.log(Level.DEBUG, "signal " + sig + " was ignored when vmd started; vmd handles it");
            }
        }
        Signal.handle(new Signal("HUP"), s -> Thread.ofPlatform().daemon(true).start(() -> {
            LOG.log(Level.INFO, "SIGHUP: reloading " + configFile);
            // systemctl reload waits from RELOADING=1 to the next READY=1 (sd_notify(3))
            notify("RELOADING=1\nSTATUS=reloading " + configFile);
            try {
                reload();
            } catch (VmdException e) {
                LOG.log(Level.WARNING, "reload failed: " + e.getMessage());
            }
            notify("READY=1\nSTATUS=" + status());
        }));
        Signal.handle(new Signal("TERM"), s -> done.countDown());
        Signal.handle(new Signal("INT"), s -> done.countDown());
        int gid = config.globals().socketOwner().hasGroup() ? config.globals().socketOwner().gid() : -1;
        ControlSocket sock = ControlSocket.bind(options.socket(), 0660, gid);
        if (config.globals().socketOwner().uid() != 0) {
            Files.setAttribute(options.socket(), "unix:uid", config.globals().socketOwner().uid());
        }
        socket = sock;
        EtcAccounts accounts = EtcAccounts.system();
        control = new ControlProcess(sock, new Control(registry, this), uid -> new Caller(uid, accounts),
                new ControlProcess.Settings(options.user(), options.chroot(), options.readyTimeoutMs(),
                        !options.foreground(), ControlServer.DEFAULT_LIMITS), Logging.verbose());
        applySwitches(config);
        List<Integer> toStart = registry.load(config);
        try {
            control.start();
        } catch (IOException | RuntimeException e) {
            sock.close();
            throw new IOException("control process: " + e.getMessage(), e);
        }
        LOG.log(Level.INFO, "startup: " + config.vms().size() + " vms, socket " + options.socket() + ", warm pool "
                + options.warmPool());
        notify("READY=1\nSTATUS=" + status());
        // The warm pool's first vmm-procs start now, beside the enabled VMs' (the first of
        // which may take one still starting: it is further along than a new one).
        vmms.startPool();
        staggeredStart(toStart, config.globals().staggeredStart());
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        shutdown();
    }

    private void shutdown() {
        LOG.log(Level.INFO, "terminating");
        notify("STOPPING=1\nSTATUS=stopping every VM");
        vmms.closePool(); // first: no start takes one from here on, and none is left behind
        control.close();
        try {
            socket.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "closing the control socket: " + e.getMessage());
        }
        registry.stopAll(options.shutdownTimeoutMs());
        timer.shutdownNow();
    }

    /** Tells systemd (when it started vmd) {@code state}; a failed send is logged, never fatal. */
    private void notify(String state) {
        try {
            notify.send(state);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "sd_notify " + notify + ": " + e.getMessage());
        }
    }

    private String status() {
        return registry.config().vms().size() + " vms configured, control socket " + options.socket();
    }

    /** vmd's start_vm_batch: {@code parallelism} VMs at a time, {@code delay} seconds apart. */
    private void staggeredStart(List<Integer> ids, StaggeredStart s) {
        registry.markWaiting(ids);
        int batch = Math.max(1, s.parallelism());
        for (int i = 0; i < ids.size(); i += batch) {
            List<Integer> part = new ArrayList<>(ids.subList(i, Math.min(ids.size(), i + batch)));
            long delay = (long) (i / batch) * s.delaySeconds();
            Runnable go = () -> part.forEach(registry::startQueued);
            if (delay == 0) {
                go.run();
            } else {
                timer.schedule(go, delay, TimeUnit.SECONDS);
            }
        }
    }

    /** Creates the bridges of enabled switches and brings them up or down as configured. */
    private static void applySwitches(Config config) {
        applySwitches(config.switches());
    }

    private static void applySwitches(List<SwitchSpec> switches) {
        for (SwitchSpec sw : switches) {
            if (!sw.enabled()) {
                continue;
            }
            try {
                if (!org.jvmd.sys.net.NetIf.exists(sw.ifname())) {
                    org.jvmd.sys.net.NetIf.addBridge(sw.ifname());
                }
                org.jvmd.sys.net.NetIf.setUp(sw.ifname(), sw.up());
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "switch " + sw.name() + ": " + e.getMessage());
            }
        }
    }

    /** A parsed file, or the first of its errors as EINVAL (each one is logged). */
    private Config parsed(Path file) throws VmdException {
        ParseResult r = parseConfig(env, file);
        if (!r.ok()) {
            r.errors().forEach(e -> LOG.log(Level.WARNING, e.toString()));
            throw new VmdException(VmdException.EINVAL, r.errors().get(0).toString());
        }
        return r.config().orElseThrow();
    }

    /**
     * vmctl reload and SIGHUP: re-reads the configuration file. Stopped VMs are taken from it
     * again (or forgotten), running ones keep running, its globals apply.
     */
    @Override
    public synchronized void reload() throws VmdException {
        Config c = parsed(configFile);
        applySwitches(c);
        List<Integer> toStart = registry.load(c);
        LOG.log(Level.INFO, "config reloaded: " + c.vms().size() + " vms");
        staggeredStart(toStart, c.globals().staggeredStart());
    }

    /**
     * vmctl load: adds the file's VMs and switches to the running configuration (vmd's
     * vmd_reload with a file: VMs known by name are skipped; the configuration file stays the
     * one later reloads read). A missing file adds nothing, as for vmd.
     */
    @Override
    public synchronized void load(Path file) throws VmdException {
        if (!Files.exists(file)) {
            LOG.log(Level.WARNING, "load: " + file + ": No such file or directory; nothing added");
        }
        Config c = parsed(file);
        Registry.Added added = registry.add(c);
        applySwitches(added.switches());
        LOG.log(Level.INFO, "config loaded from " + file + ": " + added.toStart().size() + " vms to start");
        staggeredStart(added.toStart(), registry.config().globals().staggeredStart());
    }

    /**
     * vmctl reset (vmd's config_purge): forgets the VMs (each is stopped, gracefully then by
     * force after --shutdown-timeout), the switches (their bridges stay), or both.
     * The configuration file is not read; {@code vmctl reload} reads it again.
     */
    @Override
    public void reset(ResetRequest.What what) throws VmdException {
        boolean vms = what == ResetRequest.What.VMS || what == ResetRequest.What.ALL;
        boolean switches = what == ResetRequest.What.SWITCHES || what == ResetRequest.What.ALL;
        synchronized (this) {
            registry.purge(vms, switches);
        }
        if (vms) {
            registry.stopAll(options.shutdownTimeoutMs());
        }
        LOG.log(Level.INFO, "reset " + what.name().toLowerCase(java.util.Locale.ROOT));
    }

    @Override
    public void setVerbose(boolean verbose) {
        Logging.setVerbose(verbose);
        control.setVerbose(verbose);
        registry.setVerbose(verbose);
    }
}
