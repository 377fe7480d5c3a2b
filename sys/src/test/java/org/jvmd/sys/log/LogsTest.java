package org.jvmd.sys.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jnr.unixsocket.UnixDatagramChannel;
import jnr.unixsocket.UnixSocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.sys.proc.Syslog;

/** The backend behind System.getLogger: its registration, the level switch, the sinks. */
class LogsTest {
    private final List<String> lines = new ArrayList<>();
    private final Logs.Sink recording = (level, title, body) -> lines.add(title + ": " + body);
    private String title;
    private boolean verbose;
    private Logs.Sink sink;

    @BeforeEach
    void record() {
        title = Logs.title();
        verbose = Logs.verbose();
        sink = Logs.sink();
        Logs.sink(recording);
        Logs.title("vm/test");
        Logs.verbose(false);
    }

    @AfterEach
    void restore() {
        Logs.sink(sink);
        Logs.title(title);
        Logs.verbose(verbose);
    }

    @Test
    void systemGetLoggerIsTheOneBackend() {
        assertInstanceOf(JvmdLoggerFinder.class, System.LoggerFinder.getLoggerFinder());
        System.getLogger("org.jvmd.anything").log(Level.WARNING, "queue {0} stopped", 1);
        assertEquals(List.of("vm/test: warning: queue 1 stopped"), lines);
    }

    @Test
    void theLevelSwitchTurnsDebugLinesAndStackTracesOnAndOff() {
        System.Logger log = System.getLogger("x");
        Exception e = new RuntimeException("boom");
        assertFalse(log.isLoggable(Level.DEBUG));
        log.log(Level.DEBUG, "paused");
        log.log(Level.DEBUG, () -> {
            throw new AssertionError("a debug supplier ran while brief");
        });
        log.log(Level.ERROR, "failed", e);
        Logs.verbose(true);
        assertTrue(log.isLoggable(Level.DEBUG));
        log.log(Level.DEBUG, "paused");
        log.log(Level.ERROR, "failed", e);
        log.log(Level.TRACE, "never");
        Logs.verbose(false);
        log.log(Level.DEBUG, "unpaused");
        log.log(Level.INFO, "shutdown");
        assertEquals("vm/test: error: failed: java.lang.RuntimeException: boom", lines.get(0));
        assertEquals("vm/test: debug: paused", lines.get(1));
        assertTrue(lines.get(2).startsWith("vm/test: error: failed: java.lang.RuntimeException: boom\n\tat "), lines.get(2));
        assertEquals("vm/test: info: shutdown", lines.get(3));
        assertEquals(4, lines.size(), lines.toString());
    }

    @Test
    void theJdksOwnDebugLinesStayOut() {
        Logs.verbose(true);
        System.Logger jdk = System.LoggerFinder.getLoggerFinder().getLogger("java.lang.Runtime", Object.class.getModule());
        assertFalse(jdk.isLoggable(Level.DEBUG));
        jdk.log(Level.DEBUG, "Runtime.exit() called with status: 0");
        jdk.log(Level.WARNING, "a JDK warning");
        assertEquals(List.of("vm/test: warning: a JDK warning"), lines);
    }

    @Test
    void theTitleNamesTheProcessInEveryLine() {
        System.Logger log = System.getLogger("y");
        Logs.title("vm/web/vionet0");
        log.log(Level.INFO, "channel closed by parent (EOF), exiting");
        Logs.title("");   // ignored: a parent that names nothing keeps the process's name
        log.log(Level.INFO, "again");
        assertEquals(List.of("vm/web/vionet0: info: channel closed by parent (EOF), exiting",
                "vm/web/vionet0: info: again"), lines);
    }

    @Test
    void stderrGetsOneLinePerRecord() {
        PrintStream err = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setErr(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            Logs.sink(Logs.STDERR);
            Logs.preload();   // and preload writes nothing while brief
            System.getLogger("z").log(Level.WARNING, "kick failed");
        } finally {
            System.setErr(err);
        }
        assertEquals("vm/test: warning: kick failed\n", out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void syslogGetsTheLevelAsSeverityAndTheTitleAsIdent(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("log");
        try (UnixDatagramChannel server = UnixDatagramChannel.open()) {
            server.bind(new UnixSocketAddress(sock.toFile()));
            try (Syslog s = Syslog.open(sock, "vmd")) {
                Logs.sink(Logs.syslog(s));
                System.getLogger("vmd").log(Level.WARNING, "vm web: restarted too quickly, not restarting");
            }
            ByteBuffer b = ByteBuffer.allocate(512);
            server.receive(b);
            b.flip();
            assertEquals("<28>vmd[" + ProcessHandle.current().pid() + "]: warning: vm web: restarted too quickly, not restarting",
                    StandardCharsets.UTF_8.decode(b).toString());
        }
    }
}
