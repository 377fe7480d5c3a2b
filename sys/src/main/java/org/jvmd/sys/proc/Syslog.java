package org.jvmd.sys.proc;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import jnr.unixsocket.UnixDatagramChannel;
import jnr.unixsocket.UnixSocketAddress;

/**
 * A syslog(3) client: RFC 3164 style datagrams to the local log socket ({@code /dev/log},
 * which journald also serves), facility daemon.
 */
public final class Syslog implements AutoCloseable {
    /** Facility LOG_DAEMON (syslog.h: 3 << 3). */
    public static final int LOG_DAEMON = 3 << 3;
    public static final int LOG_ERR = 3;
    public static final int LOG_WARNING = 4;
    public static final int LOG_NOTICE = 5;
    public static final int LOG_INFO = 6;
    public static final int LOG_DEBUG = 7;

    private final UnixDatagramChannel channel;
    private final UnixSocketAddress target;
    private final String ident;

    private Syslog(UnixDatagramChannel channel, UnixSocketAddress target, String ident) {
        this.channel = channel;
        this.target = target;
        this.ident = ident;
    }

    /** Opens a client for the socket at {@code path}, or returns null when there is none. */
    public static Syslog open(Path path, String ident) throws IOException {
        if (!Files.exists(path)) {
            return null;
        }
        UnixDatagramChannel ch = UnixDatagramChannel.open();
        return new Syslog(ch, new UnixSocketAddress(path.toFile()), ident);
    }

    /** Sends one message at {@code severity} (LOG_ERR..LOG_DEBUG); a failed send is dropped. */
    public synchronized void log(int severity, String message) {
        String line = "<" + (LOG_DAEMON | severity) + ">" + ident + "[" + ProcessHandle.current().pid() + "]: "
                + message;
        try {
            channel.send(ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)), target);
        } catch (IOException e) {
            // syslog(3) drops what the log socket does not take
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
