package org.jvmd.sys.device;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.SocketTimeoutException;
import java.util.function.Function;
import org.jvmd.proto.FrameException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;

/**
 * A device process's end of its channel to vmm-proc, as its loop uses it: one control
 * message at a time (a bad frame answered with an error, not fatal), replies whose failure
 * is remembered instead of thrown (the parent is gone: the loop exits), and the answer to a
 * message the role does not serve.
 *
 * @param <I> the messages the parent sends ({@code ToVionet})
 */
public final class DeviceChannel<I> {
    private static final System.Logger LOG = System.getLogger(DeviceChannel.class.getName());

    private final Channel channel;
    private final Parser<I> parser;
    private final Function<String, ? extends MessageLite> error;
    private boolean closed;
    private boolean gone;

    /** {@code error} builds the role's Error reply carrying a message. */
    public DeviceChannel(Channel channel, Parser<I> parser, Function<String, ? extends MessageLite> error) {
        this.channel = channel;
        this.parser = parser;
        this.error = error;
    }

    public Channel channel() {
        return channel;
    }

    /**
     * The next control message, or null when there is none to serve: nothing waiting, a bad
     * frame (answered), or end of file ({@link #closed} then true).
     */
    public I receive() throws IOException {
        try (Received<I> r = channel.receive(parser, 0)) {
            return r.message();
        } catch (SocketTimeoutException e) {
            return null;
        } catch (PeerClosedException e) {
            LOG.log(Level.INFO, "channel closed by parent (EOF), exiting");
            closed = true;
            return null;
        } catch (FrameException e) {
            LOG.log(Level.WARNING, "bad frame on the channel: " + e.getMessage());
            send(error.apply("bad frame: " + e.getMessage()));
            return null;
        }
    }

    /** True once the parent closed its end (end of file on receive). */
    public boolean closed() {
        return closed;
    }

    /** True once a reply found the parent gone. */
    public boolean gone() {
        return gone;
    }

    /** Sends {@code m}; a parent gone sets {@link #gone}, another failure is warned about. */
    public void send(MessageLite m) {
        try {
            channel.send(m);
        } catch (PeerClosedException e) {
            gone = true;
        } catch (IOException e) {
            LOG.log(Level.WARNING, "channel send failed: " + e.getMessage());
        }
    }

    /** Answers a message the role does not serve (the default of its dispatch switch). */
    public void unexpected(Object what) {
        LOG.log(Level.WARNING, "unexpected message " + what + " (answered with an error)");
        send(error.apply("unexpected message " + what));
    }
}
