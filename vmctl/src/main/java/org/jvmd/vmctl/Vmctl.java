package org.jvmd.vmctl;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.ConsoleRequest;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.DiskRequest;
import org.jvmd.proto.DiskStats;
import org.jvmd.proto.LoadRequest;
import org.jvmd.proto.LogRequest;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.PauseRequest;
import org.jvmd.proto.ReloadRequest;
import org.jvmd.proto.Frames;
import org.jvmd.proto.Request;
import org.jvmd.proto.ResetRequest;
import org.jvmd.proto.Response;
import org.jvmd.proto.StartRequest;
import org.jvmd.proto.StatusRequest;
import org.jvmd.proto.StopRequest;
import org.jvmd.proto.UnpauseRequest;
import org.jvmd.proto.VmSelector;
import org.jvmd.proto.VmStatsRequest;
import org.jvmd.proto.VmStatus;
import org.jvmd.proto.WaitRequest;
import org.jvmd.sys.Errno;
import org.jvmd.sys.ipc.ControlSocket;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParseResult;

/**
 * vmctl(8) for jvmd: {@code vmctl [-v] [-s socket] command [arg ...]}. Commands may be
 * abbreviated to any unique prefix; messages and exit codes are vmctl's.
 */
public final class Vmctl {
    public static final Path DEFAULT_SOCKET = Path.of("/run/vmd.sock");
    /** vmd's VM_MAX_DISKS_PER_VM. */
    static final int MAX_DISKS = 4;
    /** vmctl's VM_MAX_NICS_PER_VM. */
    static final int MAX_NICS = 4;
    /** VMM_MAX_NAME_LEN. */
    static final int MAX_NAME = 64;

    /**
     * A command: name and usage as vmctl prints them; {@code added} marks jvmd's own commands
     * (stats), which never make one of vmctl's prefixes ambiguous ({@code vmctl stat} is status).
     */
    record Cmd(String name, String usage, boolean added) {
        Cmd(String name, String usage) {
            this(name, usage, false);
        }
    }

    static final List<Cmd> COMMANDS = List.of(
            new Cmd("console", "id"),
            new Cmd("create", "[-b base | -i disk] [-s size] disk"),
            new Cmd("load", "filename"),
            new Cmd("log", "[brief | verbose]"),
            new Cmd("pause", "id"),
            new Cmd("reload", ""),
            new Cmd("reset", "[all | switches | vms]"),
            new Cmd("show", "[-r] [id]"),
            new Cmd("start", "[-cL] [-b path] [-d disk] [-i count] [-m size] [-n switch] [-t name]\n\t\tid | name"),
            new Cmd("stats", "id", true),
            new Cmd("status", "[-r] [id]"),
            new Cmd("stop", "[-fw] [id | -a]"),
            new Cmd("unpause", "id"),
            new Cmd("wait", "id"));

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

    private final InputStream in;
    private final PrintStream out;
    private final PrintStream err;
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

    /** Runs one vmctl command line; returns the exit status. */
    public int run(String[] args) {
        try {
            int i = 0;
            for (; i < args.length && args[i].startsWith("-") && args[i].length() > 1; i++) {
                String a = args[i];
                if (a.equals("--")) {
                    i++;
                    break;
                }
                for (int j = 1; j < a.length(); j++) {
                    char c = a.charAt(j);
                    if (c == 'v') {
                        continue;
                    }
                    if (c == 's') {
                        String v = j + 1 < a.length() ? a.substring(j + 1) : (++i < args.length ? args[i] : null);
                        if (v == null) {
                            err.println("vmctl: option requires an argument -- s");
                            usage();
                        }
                        socket = Path.of(v);
                        break;
                    }
                    err.println("vmctl: unknown option -- " + c);
                    usage();
                }
            }
            if (i >= args.length) {
                usage();
            }
            String[] rest = java.util.Arrays.copyOfRange(args, i, args.length);
            Cmd cmd = lookup(rest[0]);
            return dispatch(cmd, rest);
        } catch (Exit e) {
            return e.status;
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** Unique-prefix lookup, as vmctl's parse(). */
    Cmd lookup(String word) {
        Cmd found = null;
        for (boolean includeAdded : new boolean[] {false, true}) {
            for (Cmd c : COMMANDS) {
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

    void usage() {
        err.println("usage:\tvmctl [-v] [-s socket] command [arg ...]");
        for (Cmd c : COMMANDS) {
            err.println("\tvmctl " + c.name() + " " + c.usage());
        }
        throw new Exit(1);
    }

    void ctlUsage(Cmd c) {
        err.println("usage:\tvmctl [-v] [-s socket] " + c.name() + " " + c.usage());
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

    // ---- argument parsing (picocli for each command's options) ----

    ParseResult parse(Cmd cmd, String[] argv, String flags, String valued, boolean multiN) {
        CommandSpec spec = CommandSpec.create().name(cmd.name());
        for (char f : flags.toCharArray()) {
            spec.addOption(OptionSpec.builder("-" + f).arity("0").build());
        }
        for (char f : valued.toCharArray()) {
            OptionSpec.Builder b = OptionSpec.builder("-" + f).arity("1");
            if ((f == 'n' || f == 'd') && multiN) {
                b.type(String[].class);
            } else {
                b.type(String.class);
            }
            spec.addOption(b.build());
        }
        spec.addPositional(PositionalParamSpec.builder().arity("0..*").type(String[].class).build());
        CommandLine cl = new CommandLine(spec);
        cl.setPosixClusteredShortOptionsAllowed(true);
        cl.setUnmatchedOptionsArePositionalParams(false);
        try {
            return cl.parseArgs(java.util.Arrays.copyOfRange(argv, 1, argv.length));
        } catch (CommandLine.ParameterException e) {
            ctlUsage(cmd);
            return null;
        }
    }

    static List<String> positionals(ParseResult r) {
        List<String> p = new ArrayList<>();
        for (PositionalParamSpec s : r.matchedPositionals()) {
            String[] v = s.getValue();
            if (v != null) {
                for (String x : v) {
                    p.add(x);
                }
            }
        }
        return p;
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

    private int dispatch(Cmd cmd, String[] argv) {
        return switch (cmd.name()) {
            case "start" -> start(cmd, argv);
            case "create" -> {
                ParseResult r = parse(cmd, argv, "", "bis", false);
                yield new CreateCommand(this).run(cmd, positionals(r), r.matchedOptionValue("-b", null),
                        r.matchedOptionValue("-i", null), r.matchedOptionValue("-s", null));
            }
            case "stop" -> stop(cmd, argv);
            case "status", "show" -> status(cmd, argv);
            case "console" -> console(cmd, argv);
            case "pause", "unpause", "wait", "stats" -> oneVm(cmd, argv);
            case "reload" -> simple(cmd, argv, 1, Request.newBuilder().setReload(ReloadRequest.getDefaultInstance()));
            case "load" -> {
                if (argv.length != 2) {
                    ctlUsage(cmd);
                }
                yield simple(cmd, argv, 2, Request.newBuilder()
                        .setLoad(LoadRequest.newBuilder().setFile(Path.of(argv[1]).toAbsolutePath().toString())));
            }
            case "log" -> {
                boolean verbose;
                if (argv.length == 1 || argv.length > 2) {
                    ctlUsage(cmd);
                }
                if (abbreviates(argv[1], "brief")) {
                    verbose = false;
                } else if (abbreviates(argv[1], "verbose")) {
                    verbose = true;
                } else {
                    ctlUsage(cmd);
                    verbose = false;
                }
                yield simple(cmd, argv, 2, Request.newBuilder().setLog(LogRequest.newBuilder().setVerbose(verbose)));
            }
            case "reset" -> {
                ResetRequest.What what = ResetRequest.What.ALL;
                if (argv.length == 2) {
                    what = switch (argv[1].toLowerCase(java.util.Locale.ROOT)) {
                        case "all" -> ResetRequest.What.ALL;
                        case "vms" -> ResetRequest.What.VMS;
                        case "switches" -> ResetRequest.What.SWITCHES;
                        default -> {
                            ctlUsage(cmd);
                            yield null;
                        }
                    };
                } else if (argv.length > 2) {
                    ctlUsage(cmd);
                }
                yield simple(cmd, argv, argv.length, Request.newBuilder().setReset(ResetRequest.newBuilder()
                        .setWhat(what)));
            }
            default -> throw new IllegalStateException(cmd.name());
        };
    }

    /** ctl_log's strncasecmp(full, word, strlen(word)): word is a prefix of full, in any case. */
    static boolean abbreviates(String word, String full) {
        return word.length() <= full.length() && full.regionMatches(true, 0, word, 0, word.length());
    }

    // ---- talking to vmd ----

    private ControlSocket.Connection connect() {
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

    private Response call(ControlSocket.Connection c, byte[] frame) {
        try {
            c.out().write(frame);
            c.out().flush();
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
    private Response call(Request r) {
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

    /** reload, load, log, reset: silent on success, "command failed" otherwise. */
    private int simple(Cmd cmd, String[] argv, int maxArgs, Request.Builder r) {
        if (argv.length > maxArgs) {
            ctlUsage(cmd);
        }
        Response resp = call(r.build());
        if (resp.hasError()) {
            int e = resp.getError().getErrno();
            errx(e != 0 ? "command failed: " + strerror(e) : "command failed");
        }
        return 0;
    }

    // ---- start ----

    private int start(Cmd cmd, String[] argv) {
        ParseResult r = parse(cmd, argv, "cL", "bdimnt", true);
        List<String> pos = positionals(r);
        if (pos.size() != 1) {
            ctlUsage(cmd);
        }
        String name = pos.get(0);
        StartRequest.Builder b = StartRequest.newBuilder();
        boolean flags = false;
        if (r.hasMatchedOption("-m")) {
            b.setMemoryBytes(parseSize(r.matchedOptionValue("-m", "")) << 20);
            flags = true;
        }
        int nics = -1;
        if (r.hasMatchedOption("-i")) {
            String w = r.matchedOptionValue("-i", "");
            try {
                long v = Long.parseLong(w);
                if (v < 0) {
                    errx("invalid count \"" + w + "\": too small");
                }
                if (v > Integer.MAX_VALUE) {
                    errx("invalid count \"" + w + "\": too large");
                }
                nics = (int) v;
            } catch (NumberFormatException e) {
                errx("invalid count \"" + w + "\": invalid");
            }
            flags = true;
        }
        String[] switches = r.matchedOptionValue("-n", new String[0]);
        if (switches.length > 0) {
            flags = true;
        }
        if (r.hasMatchedOption("-L")) {
            String[] more = java.util.Arrays.copyOf(switches, switches.length + 1);
            more[switches.length] = ".";
            switches = more;
            flags = true;
        }
        String[] disks = r.matchedOptionValue("-d", new String[0]);
        if (disks.length > 0) {
            flags = true;
            if (disks.length > MAX_DISKS) {
                errx("too many disks");
            }
            for (String d : disks) {
                b.addDisks(disk(d));
            }
        }
        String kernel = r.matchedOptionValue("-b", null);
        String template = r.matchedOptionValue("-t", null);
        if (kernel != null) {
            flags = true;
        }
        if (flags) {
            if (nics < switches.length) {
                nics = Math.max(nics, switches.length);
            }
            if (kernel == null && template == null && !name.matches("[0-9]+")) {
                // a configured VM started with options takes its kernel from vm.conf
            }
            if (nics > MAX_NICS) {
                errx("too many network interfaces");
            }
        }
        if (!name.matches("[0-9]+")) {
            if (name.startsWith("-") || name.startsWith(".") || name.startsWith("_")
                    || !name.matches("[A-Za-z0-9._-]+")) {
                errx("invalid VM name");
            }
            if (name.length() >= MAX_NAME) {
                errx("vm name too long");
            }
        }
        if (template != null && template.length() >= MAX_NAME) {
            errx("instance vm name too long");
        }
        if (kernel != null) {
            Path k = Path.of(kernel).toAbsolutePath();
            if (!java.nio.file.Files.exists(k)) {
                errx("cannot open kernel '" + kernel + "': No such file or directory");
            }
            if (!java.nio.file.Files.isRegularFile(k)) {
                errx("kernel must be a regular file");
            }
            b.setKernel(k.toString());
        }
        b.setName(name);
        if (nics >= 0) {
            b.setInterfaces(nics);
        }
        for (String s : switches) {
            b.addSwitches(s);
        }
        if (template != null) {
            b.setTemplate(template);
        }
        boolean console = r.hasMatchedOption("-c");
        b.setWait(console);
        Response resp = call(Request.newBuilder().setStart(b).build());
        if (resp.hasError()) {
            String m = resp.getError().getMessage();
            int e = resp.getError().getErrno();
            if (m.equals("invalid template")) {
                warnx("invalid template");
            } else {
                warnx("start vm command failed: " + (e != 0 ? strerror(e) : m));
            }
            return 1;
        }
        if (!resp.hasOk()) {
            errx("unexpected response received from vmd");
        }
        if (console) {
            return new ConsoleClient(in, out, err).run(resp.getOk().getMessage());
        }
        warnx("started vm " + resp.getOk().getId() + " successfully, tty " + resp.getOk().getMessage());
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

    // ---- stop ----

    private int stop(Cmd cmd, String[] argv) {
        ParseResult r = parse(cmd, argv, "afw", "", false);
        List<String> pos = positionals(r);
        boolean all = r.hasMatchedOption("-a");
        if ((all && !pos.isEmpty()) || (!all && pos.size() != 1) || pos.size() > 1) {
            ctlUsage(cmd);
        }
        boolean force = r.hasMatchedOption("-f");
        boolean wait = r.hasMatchedOption("-w");
        if (!all) {
            return stopOne(vmid(pos.get(0)), force, wait);
        }
        Response st = call(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
        int ret = 0;
        for (VmStatus v : st.getStatus().getVmsList()) {
            if (v.getPid() == 0 || v.getId() == 0) {
                continue;
            }
            ret |= stopOne(VmSelector.newBuilder().setName(v.getName()).build(), force, wait);
        }
        return ret;
    }

    private int stopOne(VmSelector vm, boolean force, boolean wait) {
        err.print(vm.hasName() ? "stopping vm " + vm.getName() + ": " : "stopping vm: ");
        err.flush();
        Response resp = call(Request.newBuilder()
                .setStop(StopRequest.newBuilder().setVm(vm).setForce(force).setWait(wait)).build());
        return terminateComplete(resp, force, wait);
    }

    /** terminate_vm_complete's messages. */
    private int terminateComplete(Response resp, boolean force, boolean wait) {
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

    // ---- status ----

    private int status(Cmd cmd, String[] argv) {
        // Not picocli: status runs in loops and scripts, and its one flag does not need the
        // start-up of a general parser (and the converters it registers).
        boolean runningOnly = false;
        List<String> pos = new ArrayList<>();
        boolean options = true;
        for (int i = 1; i < argv.length; i++) {
            String a = argv[i];
            if (options && a.equals("--")) {
                options = false;
            } else if (options && a.startsWith("-") && a.length() > 1) {
                for (int j = 1; j < a.length(); j++) {
                    if (a.charAt(j) != 'r') {
                        ctlUsage(cmd);
                    }
                }
                runningOnly = true;
            } else {
                pos.add(a);
            }
        }
        if (pos.size() > 1) {
            ctlUsage(cmd);
        }
        Response resp = call(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
        if (!resp.hasStatus()) {
            errx("unexpected response received from vmd");
        }
        List<VmStatus> list = resp.getStatus().getVmsList();
        List<VmStatus> shown = new ArrayList<>();
        int counted = 0;
        VmSelector only = pos.isEmpty() ? null : vmid(pos.get(0));
        for (VmStatus v : list) {
            boolean running = v.getPid() != 0 && v.getId() != 0;
            if (!running && runningOnly) {
                continue;
            }
            counted++;
            if (only == null || (only.hasId() && only.getId() == v.getId())
                    || (only.hasName() && only.getName().equals(v.getName()))) {
                shown.add(v);
            }
        }
        out.print(StatusTable.format(shown, false));
        return counted > 0 ? 0 : 1;
    }

    // ---- console, pause, unpause, wait, stats ----

    private int console(Cmd cmd, String[] argv) {
        if (argv.length != 2) {
            ctlUsage(cmd);
        }
        Response resp = call(Request.newBuilder().setConsole(ConsoleRequest.newBuilder().setVm(vmid(argv[1])))
                .build());
        if (resp.hasError() && resp.getError().getErrno() == 1) {
            errx("console: " + strerror(1));
        }
        if (!resp.hasOk() || resp.getOk().getMessage().isEmpty()) {
            errx("console not found");
        }
        return new ConsoleClient(in, out, err).run(resp.getOk().getMessage());
    }

    private int oneVm(Cmd cmd, String[] argv) {
        if (argv.length != 2) {
            ctlUsage(cmd);
        }
        VmSelector vm = vmid(argv[1]);
        switch (cmd.name()) {
            case "pause" -> {
                Response resp = call(Request.newBuilder().setPause(PauseRequest.newBuilder().setVm(vm)).build());
                return pauseComplete(resp, "pause", "paused");
            }
            case "unpause" -> {
                Response resp = call(Request.newBuilder().setUnpause(UnpauseRequest.newBuilder().setVm(vm)).build());
                return pauseComplete(resp, "unpause", "unpaused");
            }
            case "wait" -> {
                err.print(vm.hasName() ? "waiting for vm " + vm.getName() + ": " : "waiting for vm: ");
                err.flush();
                Response resp = call(Request.newBuilder().setWait(WaitRequest.newBuilder().setVm(vm)).build());
                return terminateComplete(resp, false, true);
            }
            default -> {
                Response resp = call(Request.newBuilder().setStats(VmStatsRequest.newBuilder().setVm(vm)).build());
                if (resp.hasError()) {
                    errx("stats command failed: " + strerror(resp.getError().getErrno()));
                }
                int status = printStats(vm, resp.getStats().getNicsList());
                return printDiskStats(resp.getStats().getDisksList()) | status;
            }
        }
    }

    private int pauseComplete(Response resp, String verb, String done) {
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
    private int printStats(VmSelector vm, List<NicStats> nics) {
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
