package org.jvmd.sys.ipc;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import jnr.unixsocket.Credentials;
import jnr.unixsocket.UnixServerSocketChannel;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;
import jnr.unixsocket.UnixSocketOptions;
import org.jvmd.proto.Frames;
import org.jvmd.sys.Errno;
import org.jvmd.sys.LibC;
import org.jvmd.sys.Native;
import org.jvmd.sys.SysException;

/**
 * vmd's control socket (vmctl's way in): a unix stream socket at a path with a given mode
 * (and optionally group), whose every connection carries the peer's credentials
 * (SO_PEERCRED) so that vmd decides per request what the caller may do. Frames on it are
 * {@link Frames} length-delimited protobuf messages, one after another.
 */
public final class ControlSocket implements AutoCloseable {
    private volatile boolean closing;
    /** Who is on the other end of a connection, as the kernel saw it at connect(2). */
    public record PeerCredentials(int uid, int gid, int pid) {}

    private final UnixServerSocketChannel server;
    private final Path path;

    private ControlSocket(UnixServerSocketChannel server, Path path) {
        this.server = server;
        this.path = path;
    }

    /**
     * Listens at {@code path} with permissions {@code mode} (e.g. 0660) and, if {@code gid}
     * is not -1, that group. A stale socket left by a dead daemon is replaced; a live one
     * (something accepts connections) is an error, as is a path that is not a socket.
     */
    public static ControlSocket bind(Path path, int mode, int gid) throws IOException {
        if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            PosixFileAttributes a = Files.readAttributes(path, PosixFileAttributes.class,
                    java.nio.file.LinkOption.NOFOLLOW_LINKS);
            if (!a.isOther()) {
                throw new IOException("control socket " + path + ": exists and is not a socket");
            }
            boolean live;
            try {
                connect(path).close();
                live = true;
            } catch (IOException refused) {
                live = false;
            }
            if (live) {
                throw new IOException("control socket " + path + ": in use by another daemon");
            }
            Files.delete(path);
        }
        UnixServerSocketChannel s = UnixServerSocketChannel.open();
        // Bound under a temporary name and renamed once its mode and group are set, so that no
        // client ever connects to it with the default (umask) permissions.
        Path tmp = path.resolveSibling("." + path.getFileName() + "." + ProcessHandle.current().pid());
        try {
            Files.deleteIfExists(tmp);
            s.socket().bind(new UnixSocketAddress(tmp.toFile()));
            if (Native.posix().chmod(tmp.toString(), mode) != 0) {
                throw new IOException("chmod(" + tmp + "): " + Errno.describe(Native.posix().errno()));
            }
            if (gid != -1 && Native.posix().chown(tmp.toString(), -1, gid) != 0) {
                throw new IOException("chown(" + tmp + "): " + Errno.describe(Native.posix().errno()));
            }
            Files.move(tmp, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            s.close();
            Files.deleteIfExists(tmp);
            throw e;
        }
        return new ControlSocket(s, path);
    }

    public Path path() {
        return path;
    }

    /** Waits for the next connection. After {@link #close()} this fails with ClosedChannelException. */
    public Connection accept() throws IOException {
        UnixSocketChannel c;
        try {
            c = server.accept();
        } catch (IOException | RuntimeException e) {
            if (closing || !server.isOpen()) {
                // woken by close(): jnr reports it variously (NotYetBoundException, EINVAL)
                throw new ClosedChannelException();
            }
            throw e;
        }
        if (c == null || closing || !server.isOpen()) {
            if (c != null) {
                c.close();
            }
            throw new ClosedChannelException();
        }
        return new Connection(c, c);
    }

    /**
     * Connects to a control socket (vmctl's side). The JDK's own unix-domain channel: a
     * client needs no peer credentials, and so vmctl starts without loading jnr's native
     * stubs and the classes it generates at run time (most of its start-up).
     */
    public static Connection connect(Path path) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(path));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        return new Connection(ch, null);
    }

    /** Stops listening (waking a thread blocked in {@link #accept()}) and removes the socket file. */
    @Override
    public void close() throws IOException {
        // Set before the shutdown wakes accept(): it must see a close, not jnr's error for
        // the shut socket (NotYetBoundException or EINVAL), even before server.close() ran.
        closing = true;
        try {
            if (server.isOpen()) {
                try {
                    LibC.shutdown(server.getFD(), LibC.SHUT_RDWR);
                } catch (SysException e) {
                    // not connected / already shut: closing is what matters
                }
            }
            server.close();
        } finally {
            Files.deleteIfExists(path);
        }
    }

    /** One connection: framed protobuf messages both ways, and the peer's credentials. */
    public static final class Connection implements AutoCloseable {
        private final ByteChannel ch;
        /** The accepted side's channel, which knows the peer's credentials; null on a client. */
        private final UnixSocketChannel accepted;
        private final InputStream in;
        private final OutputStream out;

        Connection(ByteChannel ch, UnixSocketChannel accepted) {
            this.ch = ch;
            this.accepted = accepted;
            // Not Channels.newInputStream: those streams share the channel's blocking lock,
            // so a reader blocked in read would stall a writer.
            this.in = new InputStream() {
                @Override
                public int read() throws IOException {
                    byte[] b = new byte[1];
                    int n = read(b, 0, 1);
                    return n < 0 ? -1 : b[0] & 0xff;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (len == 0) {
                        return 0;
                    }
                    int n = ch.read(ByteBuffer.wrap(b, off, len));
                    return n == 0 ? -1 : n;
                }
            };
            this.out = new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                }
            };
        }

        /** SO_PEERCRED of the connection. */
        public PeerCredentials peer() throws IOException {
            if (accepted == null) {
                throw new IllegalStateException("peer credentials are known on the accepting side only");
            }
            Credentials c = accepted.getOption(UnixSocketOptions.SO_PEERCRED);
            return new PeerCredentials(c.getUid(), c.getGid(), c.getPid());
        }

        /** The next message, or null if the peer closed the connection between messages. */
        public <M> M read(Parser<M> parser) throws IOException {
            return Frames.read(in, parser);
        }

        public void write(MessageLite m) throws IOException {
            synchronized (out) {
                Frames.write(out, m);
            }
        }

        public InputStream in() {
            return in;
        }

        public OutputStream out() {
            return out;
        }

        /**
         * Shuts the connection down both ways without closing it: a thread blocked reading it
         * (in native code, which a close from another thread does not wake) sees its end.
         * Its owner still closes it.
         */
        public void shutdown() throws IOException {
            if (accepted != null) {
                if (accepted.isOpen()) {
                    try {
                        LibC.shutdown(accepted.getFD(), LibC.SHUT_RDWR);
                    } catch (SysException e) {
                        // ENOTCONN: the peer is gone already
                    }
                }
            } else if (ch instanceof SocketChannel s && s.isOpen()) {
                s.shutdownInput();
                s.shutdownOutput();
            }
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }
}
