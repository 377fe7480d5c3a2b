package org.jvmd.vmd;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.jvmd.proto.ControlCall;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.FromControl;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.ToControl;
import org.jvmd.sys.Fd;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.ControlSocket;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;

/**
 * The control process's side of its channel to vmd's parent: each client request goes up as
 * a {@link ControlCall} numbered by this process, and the client's thread waits for the
 * {@code ControlReply} of that number, which {@link #run} (the channel's one reader) hands
 * it. Many calls may be in flight at once (a {@code vmctl wait} beside {@code vmctl status}).
 * When the parent goes away every waiting client is answered with an error and
 * {@link #run} returns: the control process ends with its parent.
 */
final class ParentLink {
    private static final System.Logger LOG = System.getLogger("vmd");

    private final Channel channel;
    private final AtomicLong ids = new AtomicLong();
    private final Map<Long, CompletableFuture<Response>> waiting = new ConcurrentHashMap<>();
    private volatile boolean gone;

    ParentLink(Channel channel) {
        this.channel = channel;
    }

    /** Asks the parent to answer {@code req} of the client {@code peer}; blocks until it does. */
    Response call(Request req, ControlSocket.PeerCredentials peer, List<Fd> fds) {
        long id = ids.incrementAndGet();
        CompletableFuture<Response> answer = new CompletableFuture<>();
        waiting.put(id, answer);
        try {
            if (gone) {
                Fd.closeAll(fds);
                return goneError();
            }
            FromControl.Builder m = FromControl.newBuilder().setCall(ControlCall.newBuilder().setId(id)
                    .setUid(peer.uid()).setGid(peer.gid()).setPid(peer.pid()).setRequest(req));
            for (int i = 0; i < fds.size(); i++) {
                m.addFds(FdSlot.newBuilder().setRole(FdRole.FD_CALLER).setIndex(i));
            }
            // the descriptors go with the call, and this process's copies are closed (Channel.send)
            channel.send(m.build(), fds);
            return answer.get();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot reach vmd: " + e.getMessage());
            return goneError();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Control.error(4, "interrupted call");
        } catch (ExecutionException e) {
            return goneError();
        } finally {
            waiting.remove(id);
        }
    }

    private static Response goneError() {
        return Control.error(VmdException.EIO, "vmd is going away");
    }

    /**
     * Reads the parent's messages until it closes the channel: replies to their waiting
     * clients, log levels to this process's log. Returns the exit status (0: the parent ended
     * it).
     */
    int run(java.util.function.Consumer<Boolean> setVerbose) {
        try {
            while (true) {
                try (Received<ToControl> r = channel.receive(ToControl.parser())) {
                    ToControl m = r.message();
                    switch (m.getMsgCase()) {
                        case REPLY -> {
                            CompletableFuture<Response> f = waiting.get(m.getReply().getId());
                            if (f != null) {
                                f.complete(m.getReply().getResponse());
                            } else {
                                LOG.log(Level.DEBUG, "reply to call " + m.getReply().getId() + ", whose client is gone");
                            }
                        }
                        case LOG -> setVerbose.accept(m.getLog().getVerbose());
                        case INIT, MSG_NOT_SET -> LOG.log(Level.WARNING, "unexpected message from vmd: " + m.getMsgCase());
                    }
                } catch (FrameException e) {
                    LOG.log(Level.WARNING, "bad frame from vmd: " + e.getMessage());
                }
            }
        } catch (PeerClosedException e) {
            return 0;
        } catch (IOException e) {
            LOG.log(Level.WARNING, "channel to vmd: " + e.getMessage());
            return 1;
        } finally {
            gone = true;
            waiting.values().forEach(f -> f.completeExceptionally(new PeerClosedException("vmd is gone")));
        }
    }
}
