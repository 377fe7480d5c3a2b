package org.jvmd.it.transport;

/** The start-up and the log lines every simulator has alike. */
public final class Simulators {
    private Simulators() {}

    /** One step of a simulator's start-up. */
    @FunctionalInterface
    public interface Boot {
        void run() throws Exception;
    }

    /** Runs {@code boot} for {@code sim}; returns {@code sim} ready, or closes it and rethrows. */
    public static <S extends AutoCloseable> S start(S sim, Boot boot) throws Exception {
        try {
            boot.run();
            return sim;
        } catch (Exception | Error e) {
            sim.close();
            throw e;
        }
    }

    /** A log line of simulator {@code sim} ("blk-sim", "guest-sim") on stderr. */
    public static void log(String sim, String msg) {
        System.err.println(sim + ": " + msg);
    }

    /** The value after option {@code opt} at {@code args[i]}. */
    public static String value(String[] args, int i, String opt) {
        if (i >= args.length) {
            throw new IllegalArgumentException(opt + " needs a value");
        }
        return args[i];
    }

    /** The number after option {@code opt} at {@code args[i]}. */
    public static int number(String[] args, int i, String opt) {
        String v = value(args, i, opt);
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(opt + " wants a number, got " + v);
        }
    }

    /** A usage error: what is wrong and the usage line on stderr, then exit status 64 (EX_USAGE). */
    public static void exitUsage(String sim, String problem, String usage) {
        System.err.println(sim + ": " + problem);
        System.err.println("usage: " + usage);
        System.exit(64);
    }
}
