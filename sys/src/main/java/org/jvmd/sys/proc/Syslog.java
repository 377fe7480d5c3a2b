package org.jvmd.sys.proc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/**
 * A syslog(3) client: RFC 3164 style datagrams to the local log socket ({@code /dev/log},
 * which journald also serves), facility daemon. As openlog(3) with LOG_NDELAY, the socket
 * is connected at {@link #open}: a process that opened it before a privilege drop (an empty
 * chroot, where the path no longer resolves) keeps logging with write(2) alone. When the
 * log daemon was restarted (ECONNREFUSED) the next message reconnects once by the path, and
 * is dropped when that fails, as syslog(3) drops what the log socket does not take.
 */
public final class Syslog implements AutoCloseable {
    /** Facility LOG_DAEMON (syslog.h: 3 << 3). */
    public static final int LOG_DAEMON = 3 << 3;
    public static final int LOG_ERR = 3;
    public static final int LOG_WARNING = 4;
    public static final int LOG_NOTICE = 5;
    public static final int LOG_INFO = 6;
    public static final int LOG_DEBUG = 7;
    /** The longest datagram sent; a longer message (a stack trace at debug) is cut. */
    static final int MAX_DATAGRAM = 8192;

    private final Path path;
    private final String ident;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer = arena.allocate(MAX_DATAGRAM);
    private Fd socket;

    private Syslog(Path path, String ident, Fd socket) {
        this.path = path;
        this.ident = ident;
        this.socket = socket;
    }

    /** Opens a client connected to the socket at {@code path}, or returns null when there is none. */
    public static Syslog open(Path path, String ident) throws IOException {
        if (!Files.exists(path)) {
            return null;
        }
        return new Syslog(path, ident, connect(path));
    }

    private static Fd connect(Path path) throws SysException {
        Fd fd = LibC.socket(LibC.AF_UNIX, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        try {
            LibC.connect(fd, path);
            return fd;
        } catch (SysException e) {
            fd.close();
            throw e;
        }
    }

    /** Sends one message at {@code severity} (LOG_ERR..LOG_DEBUG); a failed send is dropped. */
    public synchronized void log(int severity, String message) {
        String line = "<" + (LOG_DAEMON | severity) + ">" + ident + "[" + ProcessHandle.current().pid() + "]: "
                + message;
        byte[] b = line.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(b.length, MAX_DATAGRAM);
        MemorySegment.copy(b, 0, buffer, JAVA_BYTE, 0, n);
        if (socket == null || send(n)) {
            return;
        }
        try {
            Fd again = connect(path);   // the log daemon restarted: its socket is a new one
            socket.close();
            socket = again;
            send(n);
        } catch (SysException gone) {
            // dropped, as syslog(3) does
        }
    }

    private boolean send(int n) {
        try {
            LibC.write(socket.num(), buffer, n);
            return true;
        } catch (SysException e) {
            return false;
        }
    }

    @Override
    public synchronized void close() {
        if (socket != null) {
            socket.close();
            socket = null;
            arena.close();
        }
    }
}
