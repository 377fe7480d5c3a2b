package org.jvmd.vmd;

import java.io.IOException;
import java.util.List;
import java.lang.System.Logger.Level;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.function.IntFunction;
import org.jvmd.proto.ControlCall;
import org.jvmd.proto.ControlInit;
import org.jvmd.proto.ControlReply;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.FromControl;
import org.jvmd.proto.LogLevel;
import org.jvmd.proto.Response;
import org.jvmd.proto.ToControl;
import org.jvmd.sys.Fd;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.ControlSocket;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Role;
import org.jvmd.sys.proc.Spawner;
import org.jvmd.sys.proc.WaitStatus;
import org.jvmd.vmd.config.Caller;

/**
 * The parent's side of vmd's control process ({@link ControlMain}): it spawns the process
 * through its role's row, hands it the listening control socket, and answers the requests it
 * forwards ({@link ControlCall}) with {@link Control}, each on a worker thread of its own (a
 * start or a {@code stop -w} may take minutes; a status beside it is answered at once). At
 * most {@link #MAX_CALLS} calls are answered at once: the control process admits at most
 * {@link ControlServer#MAX_CLIENTS} clients, so only a misbehaving one asks for more, and it is
 * told EBUSY.
 *
 * <p>If the control process dies (a crash, SIGKILL), the parent notices its channel's end,
 * reaps it and starts a new one on the same listening socket: clients connected to the dead
 * one see their connection end, new ones are answered by the next, and the VMs run on
 * untouched (OpenBSD's vmd exits when one of its processes dies and takes its VMs with it;
 * jvmd's control process holds no state a VM needs, so vmd restarts it instead). Restarts
 * back off from {@link #FIRST_RESTART_DELAY_MS} to {@link #MAX_RESTART_DELAY_MS} while it
 * keeps dying within a minute of its start.
 */
final class ControlProcess implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmd");

    /** Calls answered at once, at most: every admitted client's, with room to spare. */
    static final int MAX_CALLS = 2 * ControlServer.MAX_CLIENTS;
    static final long FIRST_RESTART_DELAY_MS = 100;
    static final long MAX_RESTART_DELAY_MS = 10_000;
    /** A control process that ran this long before it died is restarted at once. */
    static final long STABLE_MS = 60_000;

    /** How the control process is started and configured. */
    record Settings(String user, String chroot, long readyTimeoutMs, boolean syslog, ControlServer.Limits limits) {}

    private final ControlSocket socket;
    private final Control control;
    private final IntFunction<Caller> callers;
    private final Settings settings;
    private final ExecutorService workers =
            Executors.newCachedThreadPool(Thread.ofPlatform().name("vmd-call-", 0).daemon(true).factory());
    private final Semaphore calls = new Semaphore(MAX_CALLS);
    private volatile boolean verbose;
    private volatile boolean closed;
    private volatile Child child;
    private Thread reader;
    private int restarts;

    ControlProcess(ControlSocket socket, Control control, IntFunction<Caller> callers, Settings settings,
            boolean verbose) {
        this.socket = socket;
        this.control = control;
        this.callers = callers;
        this.settings = settings;
        this.verbose = verbose;
    }

    /** Starts the control process and waits for its Ready; a failure is vmd's start-up error. */
    void start() throws IOException {
        child = spawn();
        reader = Thread.ofPlatform().name("vmd-control-link").daemon(true).start(this::supervise);
    }

    /** The control process's pid (for tests and logs); -1 between a death and its restart. */
    int pid() {
        Child c = child;
        return c == null || c.isReaped() ? -1 : c.pid();
    }

    /** How many times the control process was restarted. */
    synchronized int restarts() {
        return restarts;
    }

    private Child spawn() throws IOException {
        Child c = Spawner.role(Role.CONTROL, "control").spawn();
        try {
            ControlInit init = ControlInit.newBuilder().setTitle("control").setUser(settings.user())
                    .setChroot(settings.chroot()).setVerbose(verbose).setSyslog(settings.syslog())
                    .setMaxClients(settings.limits().maxClients()).setReadTimeoutMs(settings.limits().readTimeoutMs())
                    .setSocketPath(socket.path().toString()).build();
            c.channel().send(ToControl.newBuilder().setInit(init)
                    .addFds(FdSlot.newBuilder().setRole(FdRole.FD_CONTROL_SOCKET)).build(), socket.dupListening());
            c.awaitReady(FromControl.parser(), settings.readyTimeoutMs());
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
        LOG.log(Level.DEBUG, "control process " + c.pid() + " ready");
        return c;
    }

    /** Reads the control process's calls; when it dies, restarts it (see the class comment). */
    private void supervise() {
        long delay = FIRST_RESTART_DELAY_MS;
        while (!closed) {
            Child c = child;
            long started = System.nanoTime();
            serve(c);
            if (closed) {
                return;
            }
            WaitStatus s;
            try {
                s = c.waitFor(1000);
                if (s == null) {
                    s = c.kill();
                }
            } catch (IOException e) {
                s = null;
            }
            c.channel().close();
            if ((System.nanoTime() - started) / 1_000_000 >= STABLE_MS) {
                delay = FIRST_RESTART_DELAY_MS;
            }
            LOG.log(Level.WARNING, "control process " + c.pid() + " " + (s == null ? "is gone" : s.describe())
                    + "; restarting it in " + delay + " ms");
            while (!closed) {
                try {
                    Thread.sleep(delay);
                    delay = Math.min(MAX_RESTART_DELAY_MS, delay * 2);
                    child = spawn();
                    synchronized (this) {
                        restarts++;
                    }
                    LOG.log(Level.INFO, "control process restarted: pid " + child.pid());
                    break;
                } catch (InterruptedException e) {
                    return;
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "control process: " + e.getMessage() + "; trying again in " + delay + " ms");
                }
            }
        }
    }

    /** Answers {@code c}'s calls until its channel ends. */
    private void serve(Child c) {
        Channel ch = c.channel();
        while (!closed) {
            Received<FromControl> r;
            try {
                r = ch.receive(FromControl.parser());
            } catch (PeerClosedException e) {
                return;
            } catch (FrameException e) {
                LOG.log(Level.WARNING, "control process sent a bad frame: " + e.getMessage());
                continue;
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(Level.WARNING, "control process channel: " + e.getMessage());
                }
                return;
            }
            try (r) {
                FromControl m = r.message();
                if (!m.hasCall()) {
                    LOG.log(Level.WARNING, "control process sent " + m.getMsgCase() + ", not a call");
                    continue;
                }
                ControlCall call = m.getCall();
                if (!calls.tryAcquire()) {
                    reply(ch, call.getId(), Control.error(VmdException.EBUSY, "too many requests"));
                    continue; // the call's descriptors are closed with r
                }
                List<Fd> fds = r.takeAll(FdRole.FD_CALLER); // Control.handle owns them
                try {
                    workers.execute(() -> {
                        try {
                            reply(ch, call.getId(), control.handle(call.getRequest(), callers.apply(call.getUid()), fds));
                        } finally {
                            calls.release();
                        }
                    });
                } catch (RuntimeException e) {
                    calls.release();
                    Fd.closeAll(fds);
                    reply(ch, call.getId(), Control.error(VmdException.EBUSY, "vmd is going away"));
                }
            }
        }
    }

    private static void reply(Channel ch, long id, Response resp) {
        try {
            ch.send(ToControl.newBuilder().setReply(ControlReply.newBuilder().setId(id).setResponse(resp)).build());
        } catch (IOException | RuntimeException e) {
            // it died (its channel closed, or closing): its client is gone too
            LOG.log(Level.DEBUG, "control process: reply " + id + ": " + e.getMessage());
        }
    }

    /** vmd -v / vmctl log: the control process logs at the same level. */
    void setVerbose(boolean v) {
        verbose = v;
        Child c = child;
        if (c != null) {
            try {
                c.channel().send(ToControl.newBuilder().setLog(LogLevel.newBuilder().setVerbose(v)).build());
            } catch (IOException e) {
                LOG.log(Level.DEBUG, "control process: log level: " + e.getMessage());
            }
        }
    }

    /** Ends the control process (its channel closes, it exits; killed if it does not within a second). */
    @Override
    public void close() {
        closed = true;
        Child c = child;
        if (c != null) {
            c.channel().shutdown();
            try {
                if (c.waitFor(1000) == null) {
                    c.kill();
                }
            } catch (IOException e) {
                LOG.log(Level.DEBUG, "control process: " + e.getMessage());
            }
            c.channel().close();
        }
        if (reader != null) {
            reader.interrupt();
            try {
                reader.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        workers.shutdownNow();
    }
}
