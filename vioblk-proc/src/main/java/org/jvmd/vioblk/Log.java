package org.jvmd.vioblk;

/**
 * Log lines on stderr, prefixed with the process title ({@code vm/web/vioblk0}). State
 * changes log at debug (shown with {@code -Djvmd.debug=true}), faults at warning; nothing
 * logs per request.
 */
public final class Log {
    private static volatile String title = "vioblk";
    private static final boolean DEBUG = Boolean.getBoolean("jvmd.debug");

    private Log() {}

    public static void title(String t) {
        title = t == null || t.isEmpty() ? "vioblk" : t;
    }

    public static String title() {
        return title;
    }

    public static void info(String msg) {
        System.err.println(title + ": " + msg);
    }

    public static void warn(String msg) {
        System.err.println(title + ": warning: " + msg);
    }

    public static void debug(String msg) {
        if (DEBUG) {
            System.err.println(title + ": debug: " + msg);
        }
    }
}
