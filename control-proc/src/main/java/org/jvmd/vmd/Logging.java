package org.jvmd.vmd;

import java.io.IOException;
import java.nio.file.Path;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.jvmd.sys.proc.Syslog;

/**
 * vmd's log.c: in the foreground ({@code -d}) lines go to stderr, else to syslog (daemon
 * facility) through /dev/log, or to stderr when there is no log socket. {@code -v} and
 * {@code vmctl log verbose} add debug lines (state changes).
 */
public final class Logging {
    private static final Logger ROOT = Logger.getLogger("vmd");

    private Logging() {
    }

    /** Sets up the "vmd" logger. */
    public static void init(boolean foreground, boolean verbose, Path devLog) {
        ROOT.setUseParentHandlers(false);
        for (Handler h : ROOT.getHandlers()) {
            ROOT.removeHandler(h);
        }
        Syslog syslog = null;
        if (!foreground) {
            try {
                syslog = Syslog.open(devLog, "vmd");
            } catch (IOException e) {
                syslog = null;
            }
        }
        Handler h = syslog != null ? new SyslogHandler(syslog) : new StderrHandler();
        h.setLevel(Level.ALL);
        ROOT.addHandler(h);
        setVerbose(verbose);
    }

    public static void setVerbose(boolean verbose) {
        ROOT.setLevel(verbose ? Level.FINE : Level.INFO);
    }

    /** Whether vmd logs at debug (vmd -v, vmctl log verbose): what a new VM process starts with. */
    public static boolean verbose() {
        return ROOT.isLoggable(Level.FINE);
    }

    static String text(LogRecord r) {
        String m = new Formatter() {
            @Override
            public String format(LogRecord rec) {
                return formatMessage(rec);
            }
        }.format(r);
        if (r.getThrown() != null) {
            m += ": " + r.getThrown();
        }
        return m;
    }

    private static final class StderrHandler extends Handler {
        @Override
        public void publish(LogRecord r) {
            if (!isLoggable(r)) {
                return;
            }
            System.err.println("vmd: " + text(r));
            System.err.flush();
        }

        @Override
        public void flush() {
            System.err.flush();
        }

        @Override
        public void close() {
        }
    }

    private static final class SyslogHandler extends Handler {
        private final Syslog syslog;

        SyslogHandler(Syslog syslog) {
            this.syslog = syslog;
        }

        @Override
        public void publish(LogRecord r) {
            if (!isLoggable(r)) {
                return;
            }
            int lv = r.getLevel().intValue();
            int sev = lv >= Level.SEVERE.intValue() ? Syslog.LOG_ERR
                    : lv >= Level.WARNING.intValue() ? Syslog.LOG_WARNING
                    : lv >= Level.INFO.intValue() ? Syslog.LOG_INFO : Syslog.LOG_DEBUG;
            syslog.log(sev, text(r));
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            try {
                syslog.close();
            } catch (IOException e) {
                // nothing to do
            }
        }
    }
}
