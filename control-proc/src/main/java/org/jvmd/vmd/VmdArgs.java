package org.jvmd.vmd;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jvmd.vmd.config.ConfigEnvironment;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * vmd's command line (vmd.c main's getopt "D:P:I:df:s:vn", without agentx and the process
 * flags): {@code vmd [-dnv] [-D macro=value] [-f file] [-s socket]}, parsed by picocli with
 * getopt's rules (clustered flags, attached values, the last repeated value wins, no
 * operands), and jvmd's operator settings as long options. Read once at start.
 */
@Command(name = "vmd", sortOptions = false, usageHelpAutoWidth = false, synopsisHeading = "",
        customSynopsis = {"usage: vmd [-dnv] [-D macro=value] [-f file] [-s socket]",
            "           [--user user] [--chroot dir] [--console-log-dir dir]",
            "           [--shutdown-timeout seconds] [--stop-timeout seconds]",
            "           [--ready-timeout seconds] [--warm-pool count]"},
        description = {"", "jvmd's virtual machine daemon: reads vm.conf(5), serves vmctl(8) on its control "
            + "socket, and runs each VM (and each of its devices) in a process of its own.", ""})
final class VmdArgs {
    @Option(names = "-d", description = "Foreground: log to stderr, not syslog.")
    boolean foreground;

    @Option(names = "-n", description = "Check the configuration file and exit (0 when it is valid).")
    boolean noAction;

    @Option(names = "-v", description = "Verbose (debug) logging.")
    boolean[] verbose = new boolean[0];

    @Option(names = "-D", paramLabel = "macro=value", description = "Define a macro, overriding the file's.")
    List<String> defines = new ArrayList<>();

    @Option(names = "-f", paramLabel = "file", description = "The configuration file (default /etc/vm.conf).")
    Path config = Vmd.DEFAULT_CONFIG;

    @Option(names = "-s", paramLabel = "socket", description = "The control socket (default /run/vmd.sock).")
    Path socket = Vmd.DEFAULT_SOCKET;

    @Option(names = "--user", paramLabel = "user",
            description = "The unprivileged user every VM and device process drops to (default _vmd).")
    String user = "";

    @Option(names = "--chroot", paramLabel = "dir",
            description = "The empty directory every VM and device process chroots into (default /var/empty).")
    String chroot = "";

    @Option(names = "--console-log-dir", paramLabel = "dir",
            description = "Also write each VM's console output to dir/NAME.log.")
    Path consoleLogDir;

    @Option(names = "--shutdown-timeout", paramLabel = "seconds",
            description = "How long SIGTERM and vmctl reset wait for guests to power off before killing them (default 30).")
    Long shutdownTimeoutSeconds;

    @Option(names = "--stop-timeout", paramLabel = "seconds",
            description = "How long a graceful stop waits for the guest before its VM is forced off (default 30).")
    Long stopTimeoutSeconds;

    @Option(names = "--ready-timeout", paramLabel = "seconds",
            description = "How long a new VM process has to report ready (default 60).")
    Long readyTimeoutSeconds;

    @Option(names = "--warm-pool", paramLabel = "count",
            description = "How many VM processes to keep started ahead, each waiting for a VM to start (default "
                + Vmd.DEFAULT_WARM_POOL + "; 0: none, every start waits for its own).")
    Integer warmPool;

    @Option(names = "--help", usageHelp = true, description = "Show this help and exit.")
    boolean help;

    /** A command line vmd refuses: getopt's complaint ("" for none), then vmd's usage. */
    static final class UsageError extends Exception {
        private static final long serialVersionUID = 1L;

        UsageError(String message) {
            super(message, null, false, false);
        }
    }

    /** The -D macros, in order (a later one for the same name wins). */
    Map<String, String> defineMap() throws UsageError {
        Map<String, String> m = new LinkedHashMap<>();
        for (String d : defines) {
            try {
                Map.Entry<String, String> e = ConfigEnvironment.parseDefine(d);
                m.put(e.getKey(), e.getValue());
            } catch (IllegalArgumentException e) {
                throw new UsageError(e.getMessage());
            }
        }
        return m;
    }

    /** Parses vmd's arguments; null when --help was asked for (the help is then printed to {@code out}). */
    static VmdArgs parse(String[] args, java.io.PrintStream out) throws UsageError {
        VmdArgs a = new VmdArgs();
        CommandLine cl = new CommandLine(a);
        cl.setPosixClusteredShortOptionsAllowed(true);
        cl.setOverwrittenOptionsAllowed(true);
        cl.setExpandAtFiles(false);
        cl.setAllowOptionsAsOptionParameters(true);
        cl.getCommandSpec().parser().separator(" ");
        try {
            cl.parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            throw new UsageError(getoptMessage(cl, e));
        }
        if (a.help) {
            cl.usage(out, CommandLine.Help.Ansi.OFF);
            return null;
        }
        for (Long t : new Long[] {a.shutdownTimeoutSeconds, a.stopTimeoutSeconds, a.readyTimeoutSeconds}) {
            if (t != null && (t < 0 || t > Long.MAX_VALUE / 1000)) {
                throw new UsageError("invalid timeout: " + t);
            }
        }
        if (a.warmPool != null && (a.warmPool < 0 || a.warmPool > Vmd.MAX_WARM_POOL)) {
            throw new UsageError("invalid warm pool size: " + a.warmPool + " (0.." + Vmd.MAX_WARM_POOL + ")");
        }
        return a;
    }

    /** getopt(3)'s words for a picocli parse error, "" when getopt would have none (an operand). */
    private static String getoptMessage(CommandLine cl, CommandLine.ParameterException e) {
        if (e instanceof CommandLine.MissingParameterException m) {
            for (ArgSpec s : m.getMissing()) {
                if (s instanceof OptionSpec o) {
                    String n = o.longestName();
                    return "option requires an argument -- " + (n.startsWith("--") ? n : n.substring(1));
                }
            }
        }
        if (e instanceof CommandLine.UnmatchedArgumentException u) {
            for (String a : u.getUnmatched()) {
                if (a.startsWith("--") && a.length() > 2) {
                    return "unknown option -- " + a.substring(2);
                }
                if (a.startsWith("-") && a.length() > 1) {
                    for (int i = 1; i < a.length(); i++) {
                        OptionSpec o = cl.getCommandSpec().findOption("-" + a.charAt(i));
                        if (o == null) {
                            return "unknown option -- " + a.charAt(i);
                        }
                        if (o.arity().max() > 0) {
                            break;
                        }
                    }
                }
            }
            return "";
        }
        return e.getMessage() == null ? "" : e.getMessage();
    }
}
