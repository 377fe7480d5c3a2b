package org.jvmd.sys.proc;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import jnr.unixsocket.UnixDatagramChannel;
import jnr.unixsocket.UnixSocketAddress;

/**
 * sd_notify(3) without libsystemd: one datagram of newline-separated {@code VAR=value}
 * assignments to the unix datagram socket named by {@code $NOTIFY_SOCKET}, which the service
 * manager sets for a {@code Type=notify} unit. A name starting with '@' is in the abstract
 * namespace (sd_notify(3): "@" stands for the leading NUL byte). Without the variable
 * (not started by systemd) every call does nothing; a failed send is reported to the
 * caller, who decides whether it matters (systemd then times the start out, loudly).
 *
 * <p>The assignments vmd sends (sd_notify(3)): {@code READY=1} once the control socket
 * listens, {@code RELOADING=1} then {@code READY=1} around a reload, {@code STOPPING=1} when
 * it begins to stop, {@code STATUS=...} a line for {@code systemctl status}, and
 * {@code MAINPID=} is never needed: the launcher execs the JVM, so systemd's main PID is vmd.
 */
public final class SdNotify {
    /** The environment variable systemd sets (sd_notify(3)). */
    public static final String ENV = "NOTIFY_SOCKET";

    private final String socket;

    private SdNotify(String socket) {
        this.socket = socket;
    }

    /** A notifier for this process's {@code $NOTIFY_SOCKET}; a no-op one when it is unset or empty. */
    public static SdNotify fromEnvironment() {
        return of(System.getenv(ENV));
    }

    /** A notifier for {@code socket} (a path, or '@' and an abstract name); null or "" is a no-op one. */
    public static SdNotify of(String socket) {
        return new SdNotify(socket == null || socket.isEmpty() ? null : socket);
    }

    /** Whether a service manager is listening (the variable was set). */
    public boolean enabled() {
        return socket != null;
    }

    /**
     * Sends {@code state} ({@code "READY=1"}, {@code "STOPPING=1\nSTATUS=stopping"}, ...) as one
     * datagram. Returns false when there is nobody to tell.
     */
    public boolean send(String state) throws IOException {
        if (socket == null) {
            return false;
        }
        if (state.isEmpty() || state.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("sd_notify state must be non-empty text without NUL");
        }
        String address = socket.charAt(0) == '@' ? "\0" + socket.substring(1) : socket;
        if (address.charAt(0) != '/' && address.charAt(0) != '\0') {
            throw new IOException(ENV + "=" + socket + ": not an absolute path or an abstract ('@') name");
        }
        try (UnixDatagramChannel ch = UnixDatagramChannel.open()) {
            byte[] b = state.getBytes(StandardCharsets.UTF_8);
            int n = ch.send(ByteBuffer.wrap(b), new UnixSocketAddress(address));
            if (n != b.length) {
                throw new IOException("sd_notify: sent " + n + " of " + b.length + " bytes to " + socket);
            }
        }
        return true;
    }

    /**
     * The service manager's side: a unix datagram socket at a path that receives what
     * {@link #send} sends (for tests that stand in for systemd, outside this module too).
     */
    public static final class Receiver implements AutoCloseable {
        private final UnixDatagramChannel channel;
        private final Path path;

        private Receiver(UnixDatagramChannel channel, Path path) {
            this.channel = channel;
            this.path = path;
        }

        /** Binds a new socket at {@code path}. */
        public static Receiver bind(Path path) throws IOException {
            UnixDatagramChannel ch = UnixDatagramChannel.open();
            try {
                ch.bind(new UnixSocketAddress(path.toFile()));
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
            return new Receiver(ch, path);
        }

        public Path path() {
            return path;
        }

        /** Waits for the next datagram and returns its text (at most 4096 bytes of it). */
        public String receive() throws IOException {
            ByteBuffer b = ByteBuffer.allocate(4096);
            channel.receive(b);
            b.flip();
            return StandardCharsets.UTF_8.decode(b).toString();
        }

        /** Closes the socket (a thread blocked in {@link #receive()} gets an IOException) and removes it. */
        @Override
        public void close() throws IOException {
            try {
                channel.close();
            } finally {
                Files.deleteIfExists(path);
            }
        }
    }

    @Override
    public String toString() {
        return socket == null ? "SdNotify[none]" : "SdNotify[" + socket + "]";
    }
}
