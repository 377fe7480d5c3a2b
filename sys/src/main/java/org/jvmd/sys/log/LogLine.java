package org.jvmd.sys.log;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.System.Logger.Level;

/**
 * The one log line format of every jvmd process: {@code title: level: message}, as
 * {@code vmd: info: startup: 2 vms, socket /run/vmd.sock} or
 * {@code vm/web/vionet0: debug: paused}. The level is vmd's word for it (debug, info,
 * warning, error); a throwable follows the message as {@code ": " + throwable}, its stack
 * trace only at debug ({@code vmd -v}, {@code vmctl log verbose}). Pure: no clock, no
 * locale, no time zone, no file (a line is formatted after the privilege drop too, in an
 * empty chroot where the JDK's zone and locale files are out of reach).
 */
public final class LogLine {
    private LogLine() {
    }

    /** The level's word: debug (and trace), info, warning, error. */
    public static String level(Level level) {
        return switch (level) {
            case ALL, TRACE, DEBUG -> "debug";
            case INFO -> "info";
            case WARNING -> "warning";
            case ERROR, OFF -> "error";
        };
    }

    /** {@code level: message}, then {@code ": " + thrown} when there is one, then its stack trace when {@code stackTrace}. */
    public static String body(Level level, String message, Throwable thrown, boolean stackTrace) {
        StringBuilder b = new StringBuilder(level(level)).append(": ").append(message);
        if (thrown != null) {
            b.append(": ").append(thrown);
            if (stackTrace) {
                StringWriter w = new StringWriter();
                thrown.printStackTrace(new PrintWriter(w));
                String trace = w.toString().stripTrailing();
                int firstLine = trace.indexOf('\n');   // the throwable again, already on the line
                if (firstLine >= 0) {
                    b.append(trace, firstLine, trace.length());
                }
            }
        }
        return b.toString();
    }

    /** {@code title: level: message} (see {@link #body}). */
    public static String line(String title, Level level, String message, Throwable thrown, boolean stackTrace) {
        return title + ": " + body(level, message, thrown, stackTrace);
    }

    /**
     * {@code format} with each {@code {n}} replaced by {@code String.valueOf(params[n])}:
     * System.Logger's parameter convention without java.text.MessageFormat, whose number
     * formats read locale data. A {@code {n}} out of range, or anything else in braces,
     * stays as written; no parameters leave the format as it is.
     */
    public static String substitute(String format, Object... params) {
        if (format == null || params == null || params.length == 0) {
            return String.valueOf(format);
        }
        StringBuilder b = new StringBuilder(format.length() + 16 * params.length);
        int i = 0;
        while (i < format.length()) {
            char c = format.charAt(i);
            int close = c == '{' ? format.indexOf('}', i + 1) : -1;
            int n = close > i + 1 && close - i <= 4 ? index(format, i + 1, close) : -1;
            if (n >= 0 && n < params.length) {
                b.append(params[n]);
                i = close + 1;
            } else {
                b.append(c);
                i++;
            }
        }
        return b.toString();
    }

    /** The decimal number in {@code s[from, to)}, or -1 if it is not one. */
    private static int index(String s, int from, int to) {
        int n = 0;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }
}
