package org.jvmd.vmd;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.ClosedChannelException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.sys.Fd;
import org.jvmd.sys.ipc.ControlSocket;
import org.jvmd.sys.ipc.Received;
import org.jvmd.vmd.config.Caller;

/**
 * The control socket: accepts vmctl connections, one (platform) thread each; every request is a
 * length-delimited {@link Request} answered by one {@link Response}. A client that sends
 * garbage or goes away is dropped; vmd carries on.
 *
 * <p>A client cannot make vmd hold memory or threads it does not use (issue 11):
 * <ul>
 * <li>a request's body is allocated as its bytes arrive ({@link org.jvmd.proto.Frames#read}),
 *     so a client that announces 1 MiB and stalls holds what it sent;</li>
 * <li>a client waiting to send, or sending, has {@link #READ_TIMEOUT_MS} for its whole next
 *     request, counted from when vmd starts reading it (after accept, or after vmd's last
 *     answer): vmctl sends its request at once, so an idle or trickling client is cut off;</li>
 * <li>at most {@link #MAX_CLIENTS} connections are open at once. At the cap, newcomers wait
 *     in the socket's backlog until a client leaves or until the one that has waited longest
 *     for its request has waited {@link #EVICT_AFTER_MS}; then a newcomer takes its place. A
 *     client whose request vmd is answering (start, stop -w and wait may take minutes) is
 *     never cut off; only if all {@link #MAX_CLIENTS} are being answered, and none ends within
 *     {@link #EVICT_AFTER_MS}, is a newcomer turned away, with EBUSY.</li>
 * </ul>
 * So stalled clients cost vmd at most {@link #MAX_CLIENTS} threads and partial requests, and
 * every other client is still answered.
 */
public final class ControlServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmd");

    /**
     * Open connections at most. An operator's vmctl holds one per command for as long as the
     * command runs; 64 covers a few scripts looping over {@code vmctl status} beside dozens of
     * {@code vmctl wait} at once, while 64 platform threads (each ~100 KiB of touched stack)
     * and partial requests stay a few MiB of vmd's memory.
     */
    public static final int MAX_CLIENTS = Integer.getInteger("jvmd.controlMaxClients", 64);
    /**
     * How long a client has for a whole request (-Djvmd.controlReadTimeoutMs): vmctl writes
     * its few hundred bytes, encoded before it connects, right after connect. 30 s is slack
     * for a machine so loaded that a JVM's first socket write takes seconds (seen at 10 s
     * in the emulated lab under load), and still short for a client that holds a
     * connection without using it; the client cap bounds how many can do that at once.
     */
    public static final long READ_TIMEOUT_MS = Long.getLong("jvmd.controlReadTimeoutMs", 30_000);

    /** The two bounds; tests shrink them, vmd uses {@link #DEFAULT_LIMITS}. */
    public record Limits(int maxClients, long readTimeoutMs) {
    }

    public static final Limits DEFAULT_LIMITS = new Limits(MAX_CLIENTS, READ_TIMEOUT_MS);

    /**
     * At the cap, a client waiting for its request keeps its place this long before a newcomer
     * may take it: vmctl writes its request right after connect, so only a stalled or very
     * slow client waits that long, and a burst of real clients is queued, not cut off.
     */
    static final long EVICT_AFTER_MS = 2000;

    /** One client: its connection and, while vmd waits for its request, when that wait began. */
    private static final class Client {
        final ControlSocket.Connection conn;
        /**
         * System.nanoTime() at which vmd began reading the client's next request; -1 while vmd
         * answers it, or before the client's thread first runs (a busy machine's scheduling
         * delay is not the client's).
         */
        volatile long waitingSince = -1;

        Client(ControlSocket.Connection conn) {
            this.conn = conn;
        }
    }

    /**
     * Answers one request of the client whose credentials are {@code peer} (may block: start,
     * stop -w, wait). In vmd's control process it is {@link ControlGate}, which refuses what
     * the caller may not ask and hands the rest to the parent; in tests, {@link Control} itself.
     */
    @FunctionalInterface
    public interface Handler {
        /** {@code fds}: the descriptors that came with the request, in order; the handler owns and closes them. */
        Response handle(Request req, ControlSocket.PeerCredentials peer, List<Fd> fds);
    }

    private final ControlSocket socket;
    private final Handler handler;
    private final Limits limits;
    private final Set<Client> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private Thread acceptor;
    private Thread reaper;

    /**
     * @param callers makes the caller of a peer uid (with its group lookups)
     */
    public ControlServer(ControlSocket socket, Control control, IntFunction<Caller> callers) {
        this(socket, control, callers, DEFAULT_LIMITS);
    }

    /** A server that answers in this process: {@code control}, for the caller {@code callers} makes of a peer's uid. */
    public ControlServer(ControlSocket socket, Control control, IntFunction<Caller> callers, Limits limits) {
        this(socket, (req, peer, fds) -> control.handle(req, callers.apply(peer.uid()), fds), limits);
    }

    public ControlServer(ControlSocket socket, Handler handler, Limits limits) {
        this.socket = socket;
        this.handler = handler;
        this.limits = limits;
    }

    public void start() {
        acceptor = Thread.ofPlatform().name("vmd-control").daemon(true).start(this::acceptLoop);
        reaper = Thread.ofPlatform().name("vmd-control-timeouts").daemon(true).start(this::reapLoop);
    }

    /** Open connections now (for tests and logs). */
    public int clients() {
        return open.size();
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
                LOG.log(Level.WARNING, "control: accept: " + e.getMessage());
                continue;
            }
            admit(c);
        }
    }

    /**
     * Takes a new connection in, making room at the cap (see the class comment). Until there
     * is room, the acceptor waits here and further clients wait in the socket's backlog.
     */
    private void admit(ControlSocket.Connection c) {
        long evictAfter = TimeUnit.MILLISECONDS.toNanos(Math.min(EVICT_AFTER_MS, limits.readTimeoutMs()));
        long arrived = System.nanoTime();
        synchronized (open) {
            while (open.size() >= limits.maxClients() && !closed) {
                Client idle = longestWaiting();
                long now = System.nanoTime();
                long wait;
                if (idle == null) {
                    // every client is being answered: one may end soon; if none does, EBUSY
                    if (now - arrived >= evictAfter) {
                        turnAway(c);
                        return;
                    }
                    wait = evictAfter - (now - arrived);
                } else if (now - idle.waitingSince >= evictAfter) {
                    LOG.log(Level.DEBUG, "control: at " + limits.maxClients() + " clients: dropping the one idle longest");
                    drop(idle);
                    continue;
                } else {
                    wait = evictAfter - (now - idle.waitingSince);
                }
                try {
                    open.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(wait)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    turnAway(c);
                    return;
                }
            }
            Client client = new Client(c);
            open.add(client);
            // A platform thread: the client's reads block in native code (jnr), which would pin
            // a virtual thread's carrier; a few idle clients would then starve vmd.
            Thread.ofPlatform().name("vmd-client").daemon(true).start(() -> serve(client));
        }
    }

    private void turnAway(ControlSocket.Connection c) {
        LOG.log(Level.WARNING, "control: " + limits.maxClients() + " clients are being answered; turning one away");
        try (c) {
            c.write(Control.error(VmdException.EBUSY, "too many clients"));
        } catch (IOException | RuntimeException e) {
            // it is turned away either way
        }
    }

    /** The client that has waited longest for its request, or null if every one is being answered. */
    private Client longestWaiting() {
        Client oldest = null;
        for (Client c : open) {
            long since = c.waitingSince;
            if (since != -1 && (oldest == null || since - oldest.waitingSince < 0)) {
                oldest = c;
            }
        }
        return oldest;
    }

    /** Ends a client's connection from outside its thread, which then sees its end and leaves. */
    private void drop(Client c) {
        if (open.remove(c)) {
            synchronized (open) {
                open.notifyAll();
            }
            try {
                c.conn.shutdown();
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.DEBUG, () -> "control: shutdown: " + e);
            }
        }
    }

    /** Cuts off clients whose request did not arrive whole within READ_TIMEOUT_MS. */
    private void reapLoop() {
        long timeout = limits.readTimeoutMs();
        long period = Math.max(10, Math.min(1000, timeout / 4));
        while (!closed) {
            try {
                Thread.sleep(period);
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            for (Client c : open) {
                long since = c.waitingSince;
                if (since != -1 && now - since > timeout * 1_000_000L) {
                    LOG.log(Level.DEBUG, "control: client sent no whole request in " + timeout + " ms; dropping it");
                    drop(c);
                }
            }
        }
    }

    private void serve(Client client) {
        ControlSocket.Connection c = client.conn;
        try (c) {
            ControlSocket.PeerCredentials peer = c.peer();
            client.waitingSince = System.nanoTime();
            while (!closed) {
                Received<Request> got;
                try {
                    got = c.receive(Request.parser()); // with the descriptors it carried (SCM_RIGHTS)
                } catch (FrameException | com.google.protobuf.InvalidProtocolBufferException e) {
                    LOG.log(Level.DEBUG, () -> "control: dropping client: " + e.getMessage());
                    return;
                }
                if (got == null || !open.contains(client)) {
                    if (got != null) {
                        got.close();
                    }
                    return; // gone, or cut off (timeout, room for another) while its request arrived
                }
                client.waitingSince = -1;
                Response resp = handler.handle(got.message(), peer, got.takeAll());
                c.write(resp);
                client.waitingSince = System.nanoTime();
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "control: client: " + e);
        } finally {
            open.remove(client);
            synchronized (open) {
                open.notifyAll(); // room for a client the acceptor holds back
            }
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        socket.close();
        for (Client c : open) {
            drop(c);
        }
        if (reaper != null) {
            reaper.interrupt();
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
