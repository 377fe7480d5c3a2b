package org.jvmd.virtio.device;

/**
 * A device process's log: lines on stderr, prefixed with the process title
 * ({@code vm/web/vionet0}, {@code vm/web/vioblk0}); before the parent names the title, with
 * the process's name ({@code vionet}, {@code vioblk}). State changes log at debug (shown
 * after {@code vmctl log verbose} or with {@code -Djvmd.debug=true}), faults at warning;
 * nothing logs per packet or request.
 */
public final class Log {
    private static volatile String process = "jvmd";
    private static volatile String title = process;
    private static volatile boolean debug = Boolean.getBoolean("jvmd.debug");

    private Log() {}

    /** Names the process ({@code vionet}): the title until {@link #title(String)}, and its fallback. */
    public static void process(String name) {
        process = name;
        title = name;
    }

    /** The title the parent gave; null or empty keeps the process's name. */
    public static void title(String t) {
        title = t == null || t.isEmpty() ? process : t;
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

    /** {@code vmctl log verbose|brief}: debug lines on or off. */
    public static void verbose(boolean on) {
        debug = on;
    }

    public static boolean verbose() {
        return debug;
    }

    public static void debug(String msg) {
        if (debug) {
            System.err.println(title + ": debug: " + msg);
        }
    }
}
