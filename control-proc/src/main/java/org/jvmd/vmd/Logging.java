package org.jvmd.vmd;

import java.io.IOException;
import java.nio.file.Path;
import org.jvmd.sys.log.Logs;
import org.jvmd.sys.proc.Syslog;

/**
 * vmd's log.c on jvmd's one logging facility ({@link Logs}, behind System.getLogger): in the
 * foreground ({@code -d}; under systemd, whose journal takes stderr) lines go to stderr,
 * else to syslog (daemon facility) through /dev/log, or to stderr when there is no log
 * socket. {@code -v} and {@code vmctl log verbose} add debug lines (state changes).
 */
public final class Logging {
    private Logging() {
    }

    /** Titles this process "vmd" and chooses its sink and level. */
    public static void init(boolean foreground, boolean verbose, Path devLog) {
        Logs.title("vmd");
        Syslog syslog = null;
        if (!foreground) {
            try {
                syslog = Syslog.open(devLog, "vmd");
            } catch (IOException e) {
                syslog = null;
            }
        }
        Logs.sink(syslog != null ? Logs.syslog(syslog) : Logs.STDERR);
        setVerbose(verbose);
    }

    public static void setVerbose(boolean verbose) {
        Logs.verbose(verbose);
    }

    /** Whether vmd logs at debug (vmd -v, vmctl log verbose): what a new VM process starts with. */
    public static boolean verbose() {
        return Logs.verbose();
    }
}
