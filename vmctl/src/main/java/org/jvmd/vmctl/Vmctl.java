package org.jvmd.vmctl;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.DiskRequest;
import org.jvmd.proto.DiskStats;
import org.jvmd.proto.Frames;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.VmSelector;
import org.jvmd.sys.Errno;
import org.jvmd.sys.ipc.ControlSocket;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParseResult;

/**
 * vmctl(8) for jvmd: {@code vmctl [-v] [-s socket] command [arg ...]} (vmctl main.c). The
 * command line is parsed with picocli's model (POSIX clustered short options, as getopt),
 * one {@link VmctlCommand} per command; commands may be abbreviated to any unique prefix
 * (vmctl's parse()), and messages and exit codes are vmctl's.
 */
public final class Vmctl {
    public static final Path DEFAULT_SOCKET = Path.of("/run/vmd.sock");
    /** vmd's VM_MAX_DISKS_PER_VM. */
    static final int MAX_DISKS = 4;
    /** vmctl's VM_MAX_NICS_PER_VM. */
    static final int MAX_NICS = 4;
    /** VMM_MAX_NAME_LEN. */
    static final int MAX_NAME = 64;
    /** What every usage line starts with (vmctl's usage() and ctl_usage()). */
    static final String USAGE_PREFIX = "usage:\tvmctl [-v] [-s socket] ";

    /** vmctl's ctl_commands, in its order, with jvmd's stats and help. */
    static final List<VmctlCommand> COMMANDS = List.of(
            new ConsoleCommand(),
            new CreateCommand(),
            new LoadCommand(),
            new LogCommand(),
            new PauseCommand(),
            new ReloadCommand(),
            new ResetCommand(),
            new StatusCommand("show"),
            new StartCommand(),
            new StatsCommand(),
            new StatusCommand("status"),
            new StopCommand(),
            new UnpauseCommand(),
            new WaitCommand(),
            new HelpCommand());

    /** Ends vmctl with a status (errx / usage). */
    static final class Exit extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;

        Exit(int status) {
            super(null, null, false, false);
            this.status = status;
        }
    }

    /** A finished run: exit status and what went to stdout and stderr (for tests and tools). */
    public record Result(int status, String out, String err) {
    }

    final InputStream in;
    final PrintStream out;
    final PrintStream err;
    private Path socket = DEFAULT_SOCKET;

    Vmctl(InputStream in, PrintStream out, PrintStream err) {
        this.in = in;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        int status = new Vmctl(System.in, System.out, System.err).run(args);
        System.out.flush();
        System.err.flush();
        // halt, not exit: vmctl registers no shutdown hooks, and System.exit would first start
        // the JDK's logging (it logs Runtime.exit), only to end (bin/vmctl's start-up budget).
        Runtime.getRuntime().halt(status);
    }

    /** The control socket this run talks to (-s, or the default). */
    Path socketPath() {
        return socket;
    }

    /** Runs one vmctl command line; returns the exit status. */
    public int run(String[] args) {
        try {
            List<String> rest = ownOptions(args);
            if (rest == null) {
                ParseResult top = parse(topSpec(true), args, null);
                if (top.isUsageHelpRequested()) {
                    out.print(usageText());
                    return 0;
                }
                if (top.hasMatchedOption("-s")) {
                    socket = Path.of(top.<String>matchedOptionValue("-s", null));
                }
                rest = top.matchedPositionals().isEmpty() ? List.of()
                        : Arrays.asList(top.matchedPositionals().get(0).<String[]>getValue());
            }
            if (rest.isEmpty()) {
                usage();
            }
            VmctlCommand cmd = lookup(rest.get(0));
            // no words after the command (vmctl status, run in loops): nothing to parse, and no
            // second parser to build (each registers picocli's converters, reflection included)
            ParseResult r = rest.size() == 1 ? ParseResult.builder(cmd.spec()).build()
                    : parse(cmd.spec(), rest.subList(1, rest.size()).toArray(String[]::new), cmd);
            if (r.isUsageHelpRequested()) {
                out.print(help(cmd));
                return 0;
            }
            return cmd.run(this, r);
        } catch (Exit e) {
            return e.status;
        } finally {
            out.flush();
            err.flush();
        }
    }

    /**
     * vmctl's own options as getopt("vs:") reads them, when they are plain: {@code -v},
     * {@code -s socket}, {@code -ssocket} and their clusters ({@code -vs socket}), up to the
     * command word. Returns the command and its words, or null for anything else ({@code --help},
     * {@code --}, an unknown or incomplete option): picocli's parse of {@link #topSpec} then
     * answers, with getopt's words. The common command line ({@code vmctl status}, in loops)
     * so builds no picocli parser for vmctl's own options (each registers picocli's converters).
     */
    List<String> ownOptions(String[] args) {
        int i = 0;
        Path sock = socket;
        while (i < args.length && args[i].startsWith("-")) {
            String a = args[i];
            if (a.equals("-") || a.startsWith("--")) {
                return null;
            }
            int j = 1;
            for (; j < a.length() && a.charAt(j) == 'v'; j++) {
                // -v: accepted, says nothing more
            }
            if (j == a.length()) {
                i++;
            } else if (a.charAt(j) != 's') {
                return null;
            } else if (j + 1 < a.length()) {
                sock = Path.of(a.substring(j + 1));
                i++;
            } else if (i + 1 < args.length) {
                sock = Path.of(args[i + 1]);
                i += 2;
            } else {
                return null;
            }
        }
        socket = sock;
        return Arrays.asList(args).subList(i, args.length);
    }

    /**
     * vmctl's own options: {@code [-v] [-s socket]}; with {@code words}, then the command and
     * its words as operands (picocli's subcommand lookup knows no unique prefixes, and would
     * build every command's model for each run).
     */
    static CommandSpec topSpec(boolean words) {
        CommandSpec s = CommandSpec.create().name("vmctl");
        s.usageMessage().description("Control jvmd's vmd: start, stop and inspect virtual machines.")
                .commandListHeading("%nCommands (any unique prefix):%n").optionListHeading("%nOptions:%n");
        s.parser().separator(" ");
        s.addOption(OptionSpec.builder("-v").arity("0").type(boolean.class)
                .description("Verbose (accepted for vmctl's sake; jvmd's vmctl says the same either way).").build());
        s.addOption(OptionSpec.builder("-s").arity("1").type(String.class).paramLabel("socket")
                .description("vmd's control socket (default " + DEFAULT_SOCKET + ").").build());
        s.addOption(OptionSpec.builder("--help").usageHelp(true).description("Show this help and exit.").build());
        if (words) {
            s.addPositional(PositionalParamSpec.builder().arity("0..*").type(String[].class).paramLabel("command")
                    .hidden(true).build());
        }
        return s;
    }

    /** Every command as a picocli subcommand of vmctl: the model shell completion is generated from. */
    static CommandLine commandTree() {
        CommandLine top = new CommandLine(topSpec(false));
        for (VmctlCommand c : COMMANDS) {
            top.addSubcommand(c.name(), new CommandLine(c.spec()));
        }
        return top;
    }

    /**
     * Parses {@code args} with {@code spec} as getopt would: clustered short options, the last
     * of a repeated option counts, {@code --} ends the options. vmctl's own options stop at the
     * command word ({@code cmd} null); a command's options may follow its operands (vmctl's
     * {@code start name -c}). A bad option is getopt's message and the usage.
     */
    ParseResult parse(CommandSpec spec, String[] args, VmctlCommand cmd) {
        CommandLine cl = new CommandLine(spec);
        cl.setPosixClusteredShortOptionsAllowed(true);
        cl.setOverwrittenOptionsAllowed(true);
        cl.setExpandAtFiles(false);
        cl.setAllowOptionsAsOptionParameters(true);
        cl.setStopAtPositional(cmd == null);
        try {
            return cl.parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            String why = getoptMessage(spec, e);
            if (why != null) {
                err.println("vmctl: " + why);
            }
            if (cmd == null) {
                usage();
            }
            ctlUsage(cmd);
            return null;
        }
    }

    /** getopt(3)'s complaint for a picocli parse error ("unknown option -- x"), or null. */
    static String getoptMessage(CommandSpec spec, CommandLine.ParameterException e) {
        if (e instanceof CommandLine.MissingParameterException m) {
            for (ArgSpec a : m.getMissing()) {
                if (a instanceof OptionSpec o) {
                    return "option requires an argument -- " + o.shortestName().substring(1);
                }
            }
            return null;
        }
        if (e instanceof CommandLine.UnmatchedArgumentException u) {
            for (String a : u.getUnmatched()) {
                if (a.startsWith("-") && a.length() > 1) {
                    for (int i = 1; i < a.length(); i++) {
                        OptionSpec o = spec.findOption("-" + a.charAt(i));
                        if (o == null || a.charAt(i) == '-') {
                            return "unknown option -- " + a.charAt(i);
                        }
                        if (o.arity().max() > 0) {
                            break;
                        }
                    }
                }
            }
        }
        return null;
    }

    /** Unique-prefix lookup, as vmctl's parse(): an exact name wins; jvmd's added commands come second. */
    VmctlCommand lookup(String word) {
        VmctlCommand found = null;
        for (boolean includeAdded : new boolean[] {false, true}) {
            for (VmctlCommand c : COMMANDS) {
                if (c.name().equals(word)) {
                    return c;
                }
                if (c.name().startsWith(word) && (includeAdded || !c.added())) {
                    if (found != null && found != c) {
                        err.println("ambiguous argument: " + word);
                        usage();
                    }
                    found = c;
                }
            }
            if (found != null) {
                break;
            }
        }
        if (found == null) {
            err.println("unknown argument: " + word);
            usage();
        }
        return found;
    }

    /** vmctl's usage(): every command's usage line. */
    static String usageText() {
        StringBuilder b = new StringBuilder("usage:\tvmctl [-v] [-s socket] command [arg ...]\n");
        for (VmctlCommand c : COMMANDS) {
            b.append("\tvmctl ").append(c.name()).append(' ').append(c.usage()).append('\n');
        }
        return b.toString();
    }

    /** {@code vmctl help command} and {@code command --help}: the usage line, what it does, its options. */
    static String help(VmctlCommand c) {
        CommandLine cl = new CommandLine(c.spec());
        List<String> sections = new ArrayList<>(cl.getHelpSectionKeys());
        sections.remove(CommandLine.Model.UsageMessageSpec.SECTION_KEY_SYNOPSIS_HEADING);
        sections.remove(CommandLine.Model.UsageMessageSpec.SECTION_KEY_SYNOPSIS);
        cl.setHelpSectionKeys(sections);
        return USAGE_PREFIX + c.name() + " " + c.usage() + "\n" + cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
    }

    void usage() {
        err.print(usageText());
        throw new Exit(1);
    }

    void ctlUsage(VmctlCommand c) {
        err.println(USAGE_PREFIX + c.name() + " " + c.usage());
        throw new Exit(1);
    }

    void errx(String msg) {
        err.println("vmctl: " + msg);
        throw new Exit(1);
    }

    void warnx(String msg) {
        err.println("vmctl: " + msg);
    }

    /** fprintf(stderr, ...): a line without the program name. */
    void warnRaw(String msg) {
        err.println(msg);
    }

    /** strerror(3)'s text for an errno. */
    static String strerror(int errno) {
        String d = Errno.describe(errno);
        int open = d.indexOf('(');
        return open >= 0 && d.endsWith(")") ? d.substring(open + 1, d.length() - 1) : d;
    }

    /** parse_vmid: a number is an id, anything else a name. */
    VmSelector vmid(String word) {
        if (word.matches("[0-9]+")) {
            try {
                long id = Long.parseLong(word);
                if (id <= 0xffffffffL) {
                    return VmSelector.newBuilder().setId((int) id).build();
                }
            } catch (NumberFormatException e) {
                // a name after all
            }
        }
        if (word.length() >= MAX_NAME) {
            errx("name too long");
        }
        return VmSelector.newBuilder().setName(word).build();
    }

    /** ctl_log's strncasecmp(full, word, strlen(word)): word is a prefix of full, in any case. */
    static boolean abbreviates(String word, String full) {
        return word.length() <= full.length() && full.regionMatches(true, 0, word, 0, word.length());
    }

    // ---- talking to vmd ----

    ControlSocket.Connection connect() {
        try {
            return ControlSocket.connect(socket);
        } catch (IOException e) {
            errx("connect: " + socket + ": " + reason(e));
            return null;
        }
    }

    private static String reason(IOException e) {
        if (e instanceof org.jvmd.sys.SysException s) {
            return strerror(s.errno());
        }
        String m = String.valueOf(e.getMessage());
        if (e instanceof java.nio.file.NoSuchFileException || m.contains("No such file")) {
            return "No such file or directory";
        }
        if (m.contains("Connection refused")) {
            return "Connection refused";
        }
        if (m.contains("Permission denied")) {
            return "Permission denied";
        }
        return m;
    }

    /** How a request goes out on a connection: as encoded bytes, or as a message with descriptors. */
    private interface Send {
        void to(ControlSocket.Connection c) throws IOException;
    }

    private Response call(ControlSocket.Connection c, byte[] frame) {
        return exchange(c, conn -> {
            conn.out().write(frame);
            conn.out().flush();
        });
    }

    /** Sends the request and reads vmd's answer; vmctl's errors for a closed pipe or a failed read. */
    private Response exchange(ControlSocket.Connection c, Send send) {
        try {
            send.to(c);
            Response resp = c.read(Response.parser());
            if (resp == null) {
                errx("pipe closed");
            }
            return resp;
        } catch (IOException e) {
            errx("imsg_read error");
            return null;
        }
    }

    /**
     * One request, one answer. The request is encoded before connecting: vmd gives a client
     * {@code ControlServer.READ_TIMEOUT_MS} from accept for its whole request, and a slow
     * start-up (first use of the encoder's classes) must not fall into that window.
     */
    Response call(Request r) {
        byte[] frame;
        try {
            frame = Frames.encode(r);
        } catch (IOException e) {
            errx("request: " + e.getMessage());
            return null;
        }
        try (ControlSocket.Connection c = connect()) {
            return call(c, frame);
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * One request with descriptors riding on it (SCM_RIGHTS), handed over: closed once sent.
     * Without descriptors, {@link #call(Request)}: only a command that passes files loads the
     * native socket code ({@link ControlSocket#connectPassing}).
     */
    Response call(Request r, java.util.List<org.jvmd.sys.Fd> fds) {
        if (fds.isEmpty()) {
            return call(r);
        }
        ControlSocket.Connection c;
        try {
            c = ControlSocket.connectPassing(socket);
        } catch (IOException e) {
            errx("connect: " + socket + ": " + reason(e));
            return null;
        }
        try (c) {
            return exchange(c, conn -> conn.write(r, fds));
        } catch (IOException e) {
            errx("imsg_read error"); // closing failed
            return null;
        }
    }

    /** reload, load, log, reset: silent on success, "command failed" otherwise. */
    int simple(Request.Builder r) {
        Response resp = call(r.build());
        if (resp.hasError()) {
            int e = resp.getError().getErrno();
            errx(e != 0 ? "command failed: " + strerror(e) : "command failed");
        }
        return 0;
    }

    /** parse_size: scan_scaled, at least a megabyte, rounded down to megabytes. Returns MB. */
    long parseSize(String word) {
        long val;
        try {
            val = scanScaled(word);
        } catch (IllegalArgumentException e) {
            errx("invalid size: " + word + ": Invalid argument");
            return 0;
        }
        if (val < 1024 * 1024) {
            errx("size must be at least one megabyte");
        }
        long mb = val / 1024 / 1024;
        if (mb * 1024 * 1024 != val) {
            warnx("size rounded to " + mb + " megabytes");
        }
        return mb;
    }

    /** scan_scaled(3): a number with an optional fraction and a B/K/M/G/T/P/E unit. */
    static long scanScaled(String s) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]+)(?:\\.([0-9]+))?([BbKkMmGgTtPpEe]?)")
                .matcher(s);
        if (!m.matches()) {
            throw new IllegalArgumentException(s);
        }
        int shift = switch (Character.toUpperCase(m.group(3).isEmpty() ? 'B' : m.group(3).charAt(0))) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            case 'P' -> 50;
            case 'E' -> 60;
            default -> 0;
        };
        java.math.BigDecimal v = new java.math.BigDecimal(m.group(1) + (m.group(2) != null ? "." + m.group(2) : ""));
        v = v.multiply(java.math.BigDecimal.valueOf(2).pow(shift));
        if (v.compareTo(java.math.BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException(s);
        }
        return v.longValue();
    }


    /** terminate_vm_complete's messages. */
    int terminateComplete(Response resp, boolean force, boolean wait) {
        if (resp.hasError()) {
            int e = resp.getError().getErrno();
            if (e == 22) {
                err.println("cannot stop vm that is not running");
            } else if (e == 2) {
                err.println("vm not found");
            } else if (e == 4) {
                err.println("interrupted call");
            } else {
                err.println("failed: " + strerror(e));
            }
            return 1;
        }
        if (!resp.hasOk()) {
            err.println("unexpected response received from vmd");
            return 1;
        }
        int id = resp.getOk().getId();
        if (wait) {
            err.println("terminated vm " + id);
        } else if (force) {
            err.println("forced to terminate vm " + id);
        } else {
            err.println("requested to shutdown vm " + id);
        }
        return 0;
    }


    /**
     * vmctl's parse_disk: {@code [raw:|qcow2:]path}, the path made absolute (vmd opens it, from
     * another directory). A path that does not exist is refused here, naming it.
     */
    DiskRequest disk(String word) {
        DiskFormat format = DiskFormat.FORMAT_AUTO;
        String path = word;
        if (word.startsWith("raw:")) {
            format = DiskFormat.FORMAT_RAW;
            path = word.substring(4);
        } else if (word.startsWith("qcow2:")) {
            format = DiskFormat.FORMAT_QCOW2;
            path = word.substring(6);
        }
        Path p;
        try {
            p = Path.of(path).toAbsolutePath().normalize();
        } catch (java.nio.file.InvalidPathException e) {
            errx("invalid disk path: " + path);
            return null;
        }
        if (path.isEmpty() || !java.nio.file.Files.exists(p)) {
            errx("invalid disk path: " + path + ": No such file or directory");
        }
        return DiskRequest.newBuilder().setPath(p.toString()).setFormat(format).build();
    }


    int pauseComplete(Response resp, String verb, String done) {
        if (resp.hasError()) {
            warnx(verb + " vm command failed: " + strerror(resp.getError().getErrno()));
            return 1;
        }
        if (!resp.hasOk()) {
            warnx("unexpected response received from vmd");
            return 1;
        }
        warnx(done + " vm " + resp.getOk().getId() + " successfully");
        return 0;
    }


    /**
     * Per-disk counters beside the NICs' (none printed for a VM without disks); a disk whose
     * vioblk-proc is gone shows as dead and makes the status 1, as a dead NIC does.
     */
    int printDiskStats(List<DiskStats> disks) {
        int status = 0;
        if (disks.isEmpty()) {
            return status;
        }
        out.printf("%4s %10s %10s %14s %14s %8s %8s %8s %8s%n", "DISK", "READS", "WRITES", "READ-BYTES",
                "WRITE-BYTES", "FLUSHES", "DISCARDS", "ZEROES", "ERRORS");
        for (DiskStats d : disks) {
            if (d.getDead()) {
                out.printf("%4d dead: its device process is gone%n", d.getDisk());
                status = 1;
                continue;
            }
            long errors = d.getErrorsMap().values().stream().mapToLong(Long::longValue).sum();
            out.printf("%4d %10d %10d %14d %14d %8d %8d %8d %8d%n", d.getDisk(), d.getReads(), d.getWrites(),
                    d.getReadBytes(), d.getWriteBytes(), d.getFlushes(), d.getDiscards(), d.getWriteZeroes(), errors);
            if (d.getGetIds() != 0) {
                out.printf("     get-id %-22s %d%n", "", d.getGetIds());
            }
            if (d.getUnsupported() != 0) {
                out.printf("     unsupported %-17s %d%n", "", d.getUnsupported());
            }
            new java.util.TreeMap<>(d.getErrorsMap()).forEach((why, count) -> out.printf("     error %-23s %d%n", why, count));
        }
        return status;
    }

    /**
     * The NIC table. A NIC whose device process is gone shows as dead, and vmctl says so on
     * stderr and ends with status 1, so that scripts notice as well as operators.
     */
    int printStats(VmSelector vm, List<NicStats> nics) {
        out.printf("%4s %12s %14s %12s %14s %10s %8s%n", "NIC", "TX-FRAMES", "TX-BYTES", "RX-FRAMES", "RX-BYTES",
                "TAP-ERRS", "DROPS");
        List<Integer> dead = new ArrayList<>();
        for (NicStats n : nics) {
            if (n.getDead()) {
                out.printf("%4d %12s %14s %12s %14s %10s %8s  dead%n", n.getNic(), "-", "-", "-", "-", "-", "-");
                dead.add(n.getNic());
                continue;
            }
            long drops = n.getDropsMap().values().stream().mapToLong(Long::longValue).sum();
            out.printf("%4d %12d %14d %12d %14d %10d %8d%n", n.getNic(), n.getTxFrames(), n.getTxBytes(),
                    n.getRxFrames(), n.getRxBytes(), n.getTapErrors(), drops);
            n.getDropsMap().forEach((why, count) -> out.printf("     drop %-24s %d%n", why, count));
        }
        for (int nic : dead) {
            warnx("vm " + (vm.hasName() ? vm.getName() : Integer.toString(vm.getId())) + ": nic " + nic
                    + " is dead: its device process is gone (stop and start the vm to bring it back)");
        }
        return dead.isEmpty() ? 0 : 1;
    }
}
