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
import java.util.ArrayList;
import java.util.List;
import jnr.unixsocket.Credentials;
import jnr.unixsocket.UnixServerSocketChannel;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;
import jnr.unixsocket.UnixSocketOptions;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.Frames;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
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

    /** The socket vmd bound (null in a process that was handed the socket: {@link #adopt}). */
    private final UnixServerSocketChannel server;
    /** The listening socket handed to this process (vmd's control process), or null. */
    private final Fd adopted;
    private final Path path;

    private ControlSocket(UnixServerSocketChannel server, Fd adopted, Path path) {
        this.server = server;
        this.adopted = adopted;
        this.path = path;
    }

    /**
     * A listening socket another process bound at {@code path} and handed over (vmd's parent
     * binds it as root, its unprivileged control process accepts on it). {@link #close()}
     * stops listening here and leaves the socket file to its binder.
     */
    public static ControlSocket adopt(Fd listening, Path path) {
        return new ControlSocket(null, listening, path);
    }

    /** A new descriptor of the listening socket (close-on-exec), e.g. to hand it to a child. */
    public Fd dupListening() throws SysException {
        if (adopted != null) {
            return adopted.dup();
        }
        return Fd.adopt(LibC.fcntl(server.getFD(), LibC.F_DUPFD_CLOEXEC, 0, "fcntl(F_DUPFD_CLOEXEC)"));
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
        return new ControlSocket(s, null, path);
    }

    public Path path() {
        return path;
    }

    /** Waits for the next connection. After {@link #close()} this fails with ClosedChannelException. */
    public Connection accept() throws IOException {
        UnixSocketChannel c;
        try {
            c = adopted != null ? UnixSocketChannel.fromFD(LibC.accept4(adopted, LibC.SOCK_CLOEXEC).release())
                    : server.accept();
        } catch (IOException | RuntimeException e) {
            if (closing || !isOpen()) {
                // woken by close(): jnr reports it variously (NotYetBoundException, EINVAL)
                throw new ClosedChannelException();
            }
            throw e;
        }
        if (c == null || closing || !isOpen()) {
            if (c != null) {
                c.close();
            }
            throw new ClosedChannelException();
        }
        return new Connection(c, c, null);
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
        return new Connection(ch, null, null);
    }

    /**
     * One client round trip on a socketpair, through the code an accepting process runs per
     * client: jnr's channel over an accepted descriptor, a frame read with recvmsg carrying a
     * descriptor, SO_PEERCRED, an answer. jnr makes its native stubs at first use (from files
     * a chrooted process cannot open), so a process that accepts after its privilege drop
     * calls this before it.
     */
    public static void warmUp() throws IOException {
        Fd[] pair = LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        UnixSocketChannel a = UnixSocketChannel.fromFD(pair[0].release());
        try (Connection server = new Connection(a, a, null); Connection client = new Connection(null, null, pair[1])) {
            client.write(org.jvmd.proto.Ok.newBuilder().setMessage("warm-up").build(), List.of(pair[1].dup()));
            try (Received<org.jvmd.proto.Ok> r = server.receive(org.jvmd.proto.Ok.parser())) {
                if (r == null || r.takeAll().size() != 1) {
                    throw new IOException("warm-up: no frame with its descriptor");
                }
            }
            server.write(org.jvmd.proto.Ok.getDefaultInstance());
            client.read(org.jvmd.proto.Ok.parser());
            if (server.peer().pid() != ProcessHandle.current().pid()) {
                throw new IOException("warm-up: SO_PEERCRED names another process");
            }
        }
    }

    private boolean isOpen() {
        return adopted != null ? adopted.isOpen() : server.isOpen();
    }

    /** Stops listening (waking a thread blocked in {@link #accept()}) and removes the socket file. */
    @Override
    public void close() throws IOException {
        // Set before the shutdown wakes accept(): it must see a close, not jnr's error for
        // the shut socket (NotYetBoundException or EINVAL), even before server.close() ran.
        closing = true;
        if (adopted != null) {
            // No shutdown: the socket is its binder's too, and stays listening for the next
            // process it is handed to. This process's descriptor goes; a thread blocked in
            // accept here ends with the process.
            adopted.close();
            return;
        }
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

    /**
     * Connects to a control socket with a socket of jvmd's own (vmctl start's side) that can
     * pass descriptors ({@link Connection#write(MessageLite, List)}). Loads the native
     * layer: only a command that passes descriptors pays for it ({@link #connect} does not).
     */
    public static Connection connectPassing(Path path) throws IOException {
        Fd s = LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        try {
            LibC.connect(s, path);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        return new Connection(null, null, s);
    }

    /**
     * Most descriptors one request may carry: a kernel, an initrd and {@code 4} disks (vmd's
     * VM_MAX_DISKS_PER_VM) of up to 16 layers each (the qcow2 library's BackingChain.MAX_DEPTH,
     * the image included). One more and vmd drops the client.
     */
    public static final int MAX_FDS = 2 + 4 * 16;

    /**
     * One connection: framed protobuf messages both ways, the peer's credentials, and (on
     * vmd's side and on a {@link #connectPassing} client) descriptors beside the frames.
     */
    public static final class Connection implements AutoCloseable {
        /** The JDK's channel (a {@link #connect} client) or jnr's (accepted); null on a passing client. */
        private final ByteChannel ch;
        /** The accepted side's channel, which knows the peer's credentials; null on a client. */
        private final UnixSocketChannel accepted;
        /** A {@link #connectPassing} client's socket; null otherwise. */
        private final Fd own;
        /** sendmsg/recvmsg with SCM_RIGHTS: vmd's side and a passing client; null on a plain client. */
        private final StreamSocket msgs;
        private final InputStream in;
        private final OutputStream out;

        Connection(ByteChannel ch, UnixSocketChannel accepted, Fd own) {
            this.ch = ch;
            this.accepted = accepted;
            this.own = own;
            this.msgs = own != null ? new StreamSocket(own.num(), MAX_FDS)
                    : accepted != null ? new StreamSocket(accepted.getFD(), MAX_FDS) : null;
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
                    if (msgs != null) {
                        List<Fd> unwanted = new ArrayList<>();
                        try {
                            return msgs.read(b, off, len, unwanted);
                        } finally {
                            Fd.closeAll(unwanted); // a byte stream takes no descriptors
                        }
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
                    if (own != null) {
                        msgs.send(b, off, len);
                        return;
                    }
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

        /**
         * The next message, or null if the peer closed the connection between messages. Any
         * descriptor that came with it is closed ({@link #receive} keeps them).
         */
        public <M> M read(Parser<M> parser) throws IOException {
            if (msgs == null) {
                return Frames.read(in, parser);
            }
            try (Received<M> r = receive(parser)) {
                return r == null ? null : r.message();
            }
        }

        /**
         * The next message with the descriptors that came with it (SCM_RIGHTS on its bytes),
         * in the order they arrived, owned by the caller ({@link Received#takeAll}); null if
         * the peer closed the connection between messages. A frame with more than
         * {@link #MAX_FDS} descriptors, or a malformed one, is a {@link FrameException}
         * (its descriptors closed): drop the client, the stream is out of step.
         */
        public <M> Received<M> receive(Parser<M> parser) throws IOException {
            if (msgs == null) {
                throw new IllegalStateException("a plain client connection receives no descriptors");
            }
            return StreamFrames.read(msgs, parser, Frames.MAX_FRAME, MAX_FDS);
        }

        public void write(MessageLite m) throws IOException {
            synchronized (out) {
                Frames.write(out, m);
            }
        }

        /**
         * Sends {@code m} with {@code fds} riding on its first byte (a {@link #connectPassing}
         * client). The descriptors are handed over: closed here, sent or not.
         */
        public void write(MessageLite m, List<Fd> fds) throws IOException {
            try {
                if (own == null) {
                    throw new IllegalStateException("this connection cannot pass descriptors (use connectPassing)");
                }
                byte[] frame = Frames.encode(m);
                synchronized (out) {
                    msgs.send(frame, 0, frame.length, fds.toArray(new Fd[0]));
                }
            } finally {
                Fd.closeAll(fds);
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
            if (accepted != null || own != null) {
                if (accepted != null ? accepted.isOpen() : own.isOpen()) {
                    try {
                        LibC.shutdown(accepted != null ? accepted.getFD() : own.num(), LibC.SHUT_RDWR);
                    } catch (SysException | IllegalStateException e) {
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
            if (own != null) {
                own.close();
            } else {
                ch.close();
            }
        }
    }
}
