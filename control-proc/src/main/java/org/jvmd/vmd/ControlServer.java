package org.jvmd.vmd;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;
import java.util.logging.Logger;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.sys.ControlSocket;
import org.jvmd.vmd.config.Caller;

/**
 * The control socket: accepts vmctl connections, one (platform) thread each; every request is a
 * length-delimited {@link Request} answered by one {@link Response}. A client that sends
 * garbage or goes away is dropped; vmd carries on.
 */
public final class ControlServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("vmd");

    private final ControlSocket socket;
    private final Control control;
    private final IntFunction<Caller> callers;
    private final Set<ControlSocket.Connection> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private Thread acceptor;

    /**
     * @param callers makes the caller of a peer uid (with its group lookups)
     */
    public ControlServer(ControlSocket socket, Control control, IntFunction<Caller> callers) {
        this.socket = socket;
        this.control = control;
        this.callers = callers;
    }

    public void start() {
        acceptor = Thread.ofPlatform().name("vmd-control").daemon(true).start(this::acceptLoop);
    }

    private void acceptLoop() {
        while (!closed) {
            ControlSocket.Connection c;
            try {
                c = socket.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                LOG.warning("control: accept: " + e.getMessage());
                continue;
            }
            open.add(c);
            // A platform thread: the client's reads block in native code (jnr), which would pin
            // a virtual thread's carrier; a few idle clients would then starve vmd.
            Thread.ofPlatform().name("vmd-client").daemon(true).start(() -> serve(c));
        }
    }

    private void serve(ControlSocket.Connection c) {
        try (c) {
            Caller caller = callers.apply(c.peer().uid());
            while (!closed) {
                Request req;
                try {
                    req = c.read(Request.parser());
                } catch (FrameException | com.google.protobuf.InvalidProtocolBufferException e) {
                    LOG.fine(() -> "control: dropping client: " + e.getMessage());
                    return;
                }
                if (req == null) {
                    return;
                }
                Response resp = control.handle(req, caller);
                c.write(resp);
            }
        } catch (IOException | RuntimeException e) {
            LOG.fine(() -> "control: client: " + e);
        } finally {
            open.remove(c);
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        socket.close();
        for (ControlSocket.Connection c : open) {
            try {
                c.close();
            } catch (IOException e) {
                // going away anyway
            }
        }
        if (acceptor != null) {
            try {
                acceptor.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
