package org.jvmd.vmd;

import com.google.protobuf.MessageLite;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import org.jvmd.proto.ControlInit;
import org.jvmd.proto.Error;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.Frames;
import org.jvmd.proto.FromControl;
import org.jvmd.proto.Ready;
import org.jvmd.proto.ToControl;
import org.jvmd.sys.device.DeviceMain;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.ControlSocket;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.log.Logs;
import org.jvmd.sys.proc.Role;
import org.jvmd.sys.proc.Shed;

/**
 * vmd's control process (OpenBSD vmd's "control", {@link Role#CONTROL}): the one process that
 * talks to vmctl clients, and it owns no root capability. The parent binds the control socket
 * (as root, with its mode and group) and hands the listening descriptor over in
 * {@link ControlInit}; this process loads what it needs, drops like every jvmd child
 * ({@link DeviceMain}: the unprivileged user, an empty chroot, no_new_privs, the
 * {@code control} seccomp profile: accept, but no open, socket, connect or exec), answers
 * Ready, then serves the socket ({@link ControlServer}): it reads each client's credentials
 * (SO_PEERCRED) and requests, refuses what the caller may not ask ({@link ControlGate}) and
 * asks the parent for the rest ({@link ParentLink}). It ends when the parent closes its
 * channel.
 */
public final class ControlMain implements DeviceMain.Device<ControlMain.Setup> {
    private static final System.Logger LOG = System.getLogger("vmd");
    private static final DeviceMain<Setup> PROCESS = new DeviceMain<>("control", Role.CONTROL, new ControlMain());

    private ControlMain() {}

    public static void main(String[] args) {
        // A thread of the control process that dies (its acceptor, a client's) would leave a
        // process that answers nobody: it ends instead, and vmd starts a new one.
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            LOG.log(Level.ERROR, "thread " + t.getName() + " died: " + e + "; exiting", e);
            Runtime.getRuntime().halt(1);
        });
        PROCESS.main(args);
    }

    /** What init gave: the drop's user and chroot, the socket and the parent's channel. */
    record Setup(String user, String chroot, ControlInit init, ControlSocket socket, ParentLink parent)
            implements DeviceMain.Setup {}

    @Override
    public Setup acquire(Channel ch) throws IOException {
        try (Received<ToControl> r = ch.receive(ToControl.parser(), DeviceMain.INIT_TIMEOUT_MS)) {
            ToControl m = r.message();
            if (!m.hasInit()) {
                throw new IOException("first message is " + m.getMsgCase() + ", not init");
            }
            ControlInit init = m.getInit();
            // syslog's socket is connected here, before the drop takes socket and connect away
            Logging.init(!init.getSyslog(), init.getVerbose(), Path.of("/dev/log"));
            Logs.title(init.getTitle());
            ControlSocket socket = ControlSocket.adopt(DeviceMain.take(r, FdRole.FD_CONTROL_SOCKET, 0, true),
                    Path.of(init.getSocketPath()));
            return new Setup(init.getUser(), init.getChroot(), init, socket, new ParentLink(ch));
        }
    }

    /**
     * The control process's own classes and those it runs on, and one round trip of a
     * client connection (jnr's native stubs for accept and SO_PEERCRED are made at first
     * use, from files the chroot hides), and one log line (its time stamp's zone rules).
     */
    @Override
    public Shed shedding(Shed shed, Setup s) {
        // all of sys, as every role (the drop itself runs sys code after its chroot), and all of
        // vmd's package: a class not loaded before the chroot cannot be loaded after it when the
        // class path is a directory (tests), and ControlServer's nested classes load per client
        return shed.preloadPackages("org.jvmd.proto.", "org.jvmd.sys.", "org.jvmd.vmd.")
                .warmup(() -> {
                    try {
                        ControlSocket.warmUp();
                        Frames.encode(ready(s));
                        Frames.encode(Control.error(VmdException.EIO, "warm-up"));
                    } catch (IOException e) {
                        throw new IllegalStateException("warm-up: " + e.getMessage(), e);
                    }
                });
    }

    @Override
    public FromControl ready(Setup s) {
        return FromControl.newBuilder().setReady(Ready.newBuilder().setProcess(Role.CONTROL.process())
                .setPid((int) ProcessHandle.current().pid())).build();
    }

    @Override
    public String describe(Setup s) {
        return "control socket " + s.init().getSocketPath();
    }

    @Override
    public MessageLite error(Error e) {
        return FromControl.newBuilder().setError(e).build();
    }

    @Override
    public int serve(Setup s) throws IOException {
        ControlInit init = s.init();
        ControlServer.Limits limits = new ControlServer.Limits(
                init.getMaxClients() > 0 ? init.getMaxClients() : ControlServer.DEFAULT_LIMITS.maxClients(),
                init.getReadTimeoutMs() > 0 ? init.getReadTimeoutMs() : ControlServer.DEFAULT_LIMITS.readTimeoutMs());
        ControlServer server = new ControlServer(s.socket(), new ControlGate(s.parent()), limits);
        server.start();
        LOG.log(Level.INFO, "serving " + init.getSocketPath());
        // the parent gone, the process ends, and every client connection with it
        return s.parent().run(Logging::setVerbose);
    }
}
