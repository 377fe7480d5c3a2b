package org.jvmd.sys.log;

import java.io.PrintStream;
import java.lang.System.Logger.Level;
import org.jvmd.sys.proc.Syslog;

/**
 * The one logging facility of every jvmd process (vmd, vmm-proc, vionet-proc, vioblk-proc):
 * product code logs through {@link System#getLogger}, whose backend is
 * {@link JvmdLoggerFinder} (registered in this module's
 * {@code META-INF/services/java.lang.System$LoggerFinder}); this class holds what that
 * backend writes with.
 * <ul>
 *   <li>the process title, the first word of each line ({@code vmd}, {@code vm/web},
 *       {@code vm/web/vionet0}; {@code jvmd} until the process names itself);</li>
 *   <li>the level switch: info and above, plus debug when verbose ({@code vmd -v},
 *       {@code vmctl log verbose|brief}, {@code LogLevel} on a child's channel,
 *       {@code -Djvmd.debug=true}); trace is never written;</li>
 *   <li>the sink: stderr (a child's stderr goes where its parent's does, vmd in the
 *       foreground writes to its terminal or the journal), or syslog (vmd daemonized, as
 *       vmd's log.c).</li>
 * </ul>
 * {@link #preload} runs in every privilege drop ({@link org.jvmd.sys.proc.Shed}): after it
 * nothing the backend does reads a file.
 */
public final class Logs {
    /** Where lines go. */
    public interface Sink {
        /** Writes one record: {@code body} is {@code level: message}, as {@link LogLine#body}. */
        void write(Level level, String title, String body);

        /** Runs the write path once without writing a line (for {@link #preload}). */
        default void warm() {
        }
    }

    /** stderr, one line per record ({@link LogLine#line}), flushed. */
    public static final Sink STDERR = new Sink() {
        @Override
        public void write(Level level, String title, String body) {
            PrintStream err = System.err;
            synchronized (err) {
                err.println(title + ": " + body);
                err.flush();
            }
        }

        @Override
        public void warm() {
            System.err.print("");
            System.err.flush();
        }

        @Override
        public String toString() {
            return "stderr";
        }
    };

    private static volatile String title = "jvmd";
    private static volatile boolean verbose = Boolean.getBoolean("jvmd.debug");
    private static volatile Sink sink = STDERR;

    private Logs() {
    }

    /** Names this process in every line from now on; null or empty is ignored. */
    public static void title(String t) {
        if (t != null && !t.isEmpty()) {
            title = t;
        }
    }

    public static String title() {
        return title;
    }

    /** The level switch: debug lines (and stack traces) on or off. */
    public static void verbose(boolean on) {
        verbose = on;
    }

    public static boolean verbose() {
        return verbose;
    }

    /** Whether a record at {@code level} is written now. */
    public static boolean loggable(Level level) {
        return switch (level) {
            case DEBUG -> verbose;
            case INFO, WARNING, ERROR -> true;
            case ALL, TRACE, OFF -> false;
        };
    }

    /** Lines go to {@code s} from now on. */
    public static void sink(Sink s) {
        sink = s;
    }

    public static Sink sink() {
        return sink;
    }

    /**
     * syslog(3) through {@code syslog}: {@code <daemon.severity>ident[pid]: level: message}
     * ({@link Syslog}; its ident is the title), the level mapped to syslog's severities.
     */
    public static Sink syslog(Syslog syslog) {
        return new Sink() {
            @Override
            public void write(Level level, String title, String body) {
                syslog.log(severity(level), body);
            }

            @Override
            public String toString() {
                return "syslog";
            }
        };
    }

    /** syslog.h's severity for {@code level}. */
    public static int severity(Level level) {
        return switch (level) {
            case ERROR, OFF -> Syslog.LOG_ERR;
            case WARNING -> Syslog.LOG_WARNING;
            case INFO -> Syslog.LOG_INFO;
            case ALL, TRACE, DEBUG -> Syslog.LOG_DEBUG;
        };
    }

    /** Writes one record if its level is on (what every logger of {@link JvmdLoggerFinder} ends in). */
    static void write(Level level, String message, Throwable thrown) {
        if (loggable(level)) {
            boolean trace = verbose;
            sink.write(level, title, LogLine.body(level, message, thrown, trace));
        }
    }

    /**
     * Makes the facility ready for a privilege drop: finds the backend (the service lookup
     * reads the class path), formats a record with a parameter and a stack trace, runs the
     * sink's write path, and writes a debug line through a logger. Fails if the backend in
     * use is not {@link JvmdLoggerFinder} (this module's service file off the class path).
     */
    public static void preload() {
        System.LoggerFinder finder = System.LoggerFinder.getLoggerFinder();
        if (!(finder instanceof JvmdLoggerFinder)) {
            throw new IllegalStateException("System.LoggerFinder is " + finder.getClass().getName()
                    + ", not jvmd's (META-INF/services/java.lang.System$LoggerFinder of jvmd-sys)");
        }
        LogLine.line(title, Level.ERROR, LogLine.substitute("{0} {1}", 1, "preload"),
                new IllegalStateException("preload"), true);
        Sink s = sink;
        s.warm();
        System.getLogger(Logs.class.getName()).log(Level.DEBUG, "logging to {0}", s);
    }
}
