package org.jvmd.vmd.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The vm.conf parser (vmd's parse.y): a hand-written recursive-descent parser over
 * {@link Lexer}'s tokens that collects every error as {@code file:line: message} and, when
 * there are none, returns the configuration with vmd's defaults applied.
 *
 * <p>Grammar (vm.conf(5) where it applies on Linux, plus direct Linux boot):
 * <pre>
 * statement := include | macro | local | socket | staggered | switch | vm
 * include   := "include" string
 * macro     := name "=" string
 * local     := "local" "prefix" string | "local" "inet6" ["prefix" string]
 * socket    := "socket" "owner" owner
 * staggered := "staggered" "start" "parallel" number "delay" number
 * switch    := "switch" string "{" {switch-option} "}"
 * vm        := "vm" string ["instance" string] "{" {vm-option} "}"
 * vm-option := "memory" size | "vcpus" number | "boot" string | "initrd" string
 *            | "cmdline" string | ["local"] "interface" [name] [iface-options]
 *            | "interfaces" number | "owner" owner | "enable" | "disable"
 *            | "disk" string ["format" ("raw" | "qcow2")]
 *            | "allow" "instance" ("{" {flag} "}" | flag)
 * iface-option := "switch" string | "group" string | ["locked"] "lladdr" [mac]
 *            | "up" | "down" | "offload" ("on" | "off" | feature {feature}) | "mtu" number
 * </pre>
 * Options are separated by newlines (or ';'); adjacent strings concatenate. Relative paths
 * (include, boot, initrd, disk) are taken from the directory of the file that names them.
 * Disks keep their order (the first is the guest's /dev/vda); their images are opened and
 * locked only when the VM starts.
 */
public final class ConfigParser {
    /** vmd's VM_MAX_NICS_PER_VM. */
    public static final int MAX_INTERFACES = 4;
    /** vmd's VMM_MAX_VCPUS_PER_VM. */
    public static final int MAX_VCPUS = 64;
    /**
     * The longest kernel command line: x86 COMMAND_LINE_SIZE is 2048 bytes with its NUL
     * (Linux boot protocol 2.06, cmdline_size).
     */
    public static final int MAX_CMDLINE = 2047;
    /** virtio 1.2 §5.1.4.1: the device's mtu is between 68 and 65535. */
    public static final int MIN_MTU = 68;
    /** virtio 1.2 §5.1.4.1. */
    public static final int MAX_MTU = 65535;
    /** Bounds for staggered start, far beyond any sensible setting. */
    static final int MAX_PARALLELISM = 65535;
    static final int MAX_DELAY = 86400;
    static final int MAX_INCLUDE_DEPTH = 16;
    static final long MAX_FILE_SIZE = 1 << 20;

    private final ConfigEnvironment env;

    public ConfigParser(ConfigEnvironment env) {
        this.env = env;
    }

    /** Parses a vm.conf file; errors name it as given. */
    public ParseResult parseFile(Path file) {
        String name = file.toString();
        try {
            Path real = file.toRealPath();
            return new Run(new Lexer.Input(name, real, read(real)), real.getParent()).parse();
        } catch (IOException e) {
            ConfigError error = new ConfigError(name, 0, "failed to open " + name + ": " + reason(e));
            return new ParseResult(Optional.empty(), List.of(error), List.of());
        }
    }

    /**
     * Parses configuration text.
     *
     * @param name the file name errors carry
     * @param text the configuration
     * @param baseDir where relative paths in it are taken from
     */
    public ParseResult parse(String name, String text, Path baseDir) {
        return new Run(new Lexer.Input(name, null, text), baseDir.toAbsolutePath()).parse();
    }

    private static String read(Path real) throws IOException {
        if (!Files.isRegularFile(real)) {
            throw new IOException("not a regular file");
        }
        if (Files.size(real) > MAX_FILE_SIZE) {
            throw new IOException("file too large");
        }
        return new String(Files.readAllBytes(real), StandardCharsets.UTF_8);
    }

    /** strerror-style text for a failed file operation. */
    static String reason(IOException e) {
        return switch (e) {
            case NoSuchFileException x -> "No such file or directory";
            case AccessDeniedException x -> "Permission denied";
            case NotDirectoryException x -> "Not a directory";
            case FileSystemLoopException x -> "Too many levels of symbolic links";
            case FileSystemException x when x.getReason() != null -> x.getReason();
            case FileSystemException x -> x.getClass().getSimpleName();
            default -> e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        };
    }

    /** A syntax error: the statement is abandoned and skipped. */
    private static final class Syntax extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient Token at;

        Syntax(Token at, String message) {
            super(message, null, false, false);
            this.at = at;
        }
    }

    private static final class SwitchDraft {
        final String name;
        final Token nameTok;
        String ifname;
        boolean ifnameSeen;
        String group;
        boolean locked;
        boolean up = true;
        boolean enabled = true;

        SwitchDraft(String name, Token nameTok) {
            this.name = name;
            this.nameTok = nameTok;
        }
    }

    private static final class IfDraft {
        final Token tok;
        final boolean local;
        String tap;
        Token tapTok;
        String sw;
        Token swTok;
        MacAddress mac;
        Token macTok;
        boolean locked;
        boolean up = true;
        String group;
        Set<Offload> offloads;
        Integer mtu;

        IfDraft(Token tok, boolean local) {
            this.tok = tok;
            this.local = local;
        }

        InterfaceRequest request() {
            return new InterfaceRequest(Optional.ofNullable(tap), local, Optional.ofNullable(sw),
                    Optional.ofNullable(mac), locked, up, Optional.ofNullable(group),
                    offloads == null ? Offload.ON : offloads, mtu == null ? OptionalInt.empty() : OptionalInt.of(mtu));
        }
    }

    private static final class VmDraft {
        final String name;
        final Token nameTok;
        final String parent;
        final Token parentTok;
        boolean nameOk = true;
        Long memory;
        boolean memorySeen;
        Integer vcpus;
        boolean vcpusSeen;
        Path kernel;
        boolean kernelSeen;
        Path initrd;
        boolean initrdSeen;
        String cmdline;
        final List<IfDraft> interfaces = new ArrayList<>();
        final List<DiskSpec> disks = new ArrayList<>();
        Integer count;
        /** Where {@code interfaces N} was given (errors about those interfaces point there). */
        Token countTok;
        Owner owner;
        boolean disabled;
        final EnumSet<InstanceFlag> insFlags = EnumSet.noneOf(InstanceFlag.class);
        Owner insOwner;
        boolean insSeen;

        VmDraft(String name, Token nameTok, String parent, Token parentTok) {
            this.name = name;
            this.nameTok = nameTok;
            this.parent = parent;
            this.parentTok = parentTok;
        }
    }

    /** One parse: the token stream, the macros, what has been declared and the errors. */
    private final class Run {
        /** Errors with the position they belong to in the token stream. */
        private final List<Map.Entry<Long, ConfigError>> errors = new ArrayList<>();
        private final Macros macros = new Macros();
        private final Lexer lexer;
        private final Path topBase;
        private Token peeked;

        private Ipv4Prefix localPrefix = Ipv4Prefix.DEFAULT_LOCAL;
        private boolean inet6;
        private Ipv6Prefix localPrefix6;
        private Owner socketOwner = new Owner(0, 0);
        private StaggeredStart staggered = new StaggeredStart(false, env.cpus(), StaggeredStart.DEFAULT_DELAY);
        private final List<SwitchDraft> switches = new ArrayList<>();
        private final List<VmDraft> vms = new ArrayList<>();

        Run(Lexer.Input top, Path topBase) {
            this.topBase = topBase;
            this.lexer = new Lexer(top, macros,
                    (file, line, seq, message) -> errors.add(Map.entry(seq, new ConfigError(file, line, message))));
            env.defines().forEach((k, v) -> macros.define(k, v, true));
        }

        ParseResult parse() {
            grammar();
            List<String> warnings = new ArrayList<>();
            for (String name : macros.unused()) {
                warnings.add("macro '" + name + "' not used");
            }
            Config config = resolve();
            if (!errors.isEmpty()) {
                List<ConfigError> inOrder = errors.stream().sorted(Map.Entry.comparingByKey())
                        .map(Map.Entry::getValue).toList();
                return new ParseResult(Optional.empty(), inOrder, warnings);
            }
            return new ParseResult(Optional.of(config), List.of(), warnings);
        }

        // ---- tokens ----

        private Token peek() {
            if (peeked == null) {
                peeked = lexer.next();
            }
            return peeked;
        }

        private Token next() {
            Token t = peek();
            peeked = null;
            return t;
        }

        private Token expect(Token.Kind kind) {
            if (!peek().is(kind)) {
                throw new Syntax(peek(), "syntax error");
            }
            return next();
        }

        private Token expect(Keyword keyword) {
            if (!peek().is(keyword)) {
                throw new Syntax(peek(), "syntax error");
            }
            return next();
        }

        /** parse.y's {@code string}: one or more adjacent strings, concatenated. */
        private String string() {
            StringBuilder s = new StringBuilder(expect(Token.Kind.STRING).text());
            while (peek().is(Token.Kind.STRING)) {
                s.append(next().text());
            }
            return s.toString();
        }

        private long number() {
            return expect(Token.Kind.NUMBER).number();
        }

        private void error(Token at, String message) {
            errors.add(Map.entry(at.seq(), new ConfigError(at.file(), at.line(), message)));
        }

        /** An error about one place found at a later one (a block's missing '}'). */
        private void error(Token about, Token foundAt, String message) {
            errors.add(Map.entry(foundAt.seq(), new ConfigError(about.file(), about.line(), message)));
        }

        private void report(Syntax e) {
            if (!e.at.is(Token.Kind.ERROR)) {
                error(e.at, e.getMessage());
            }
        }

        /**
         * Skips the rest of a broken statement: up to and including its newline, past any block
         * it opened, but not past the '}' that closes the enclosing block.
         */
        private void skipStatement(boolean inBlock) {
            int depth = 0;
            while (true) {
                Token t = peek();
                switch (t.kind()) {
                    case EOF -> {
                        return;
                    }
                    case NEWLINE, ERROR -> {
                        next();
                        if (depth == 0) {
                            return;
                        }
                    }
                    case LBRACE -> {
                        next();
                        depth++;
                    }
                    case RBRACE -> {
                        if (depth == 0 && inBlock) {
                            return;
                        }
                        next();
                        depth = Math.max(0, depth - 1);
                    }
                    default -> next();
                }
            }
        }

        /** A statement must end here: at a newline, the end of the file or the block's '}'. */
        private void endOfStatement(boolean inBlock) {
            Token t = peek();
            if (t.is(Token.Kind.NEWLINE) || t.is(Token.Kind.ERROR)) {
                next();
            } else if (!t.is(Token.Kind.EOF) && !(inBlock && t.is(Token.Kind.RBRACE))) {
                throw new Syntax(t, "syntax error");
            }
        }

        private Syntax unexpected(Token t) {
            return new Syntax(t, t.is(Token.Kind.STRING) ? "unknown keyword: " + t.text() : "syntax error");
        }

        // ---- top level ----

        private void grammar() {
            while (true) {
                Token t = peek();
                switch (t.kind()) {
                    case NEWLINE, ERROR -> next();
                    case EOF -> {
                        next();
                        if (!lexer.pop()) {
                            return;
                        }
                    }
                    default -> {
                        try {
                            statement(t);
                        } catch (Syntax e) {
                            report(e);
                            skipStatement(false);
                        }
                    }
                }
            }
        }

        private void statement(Token t) {
            if (t.is(Token.Kind.STRING)) {
                macro();
            } else if (!t.is(Token.Kind.KEYWORD)) {
                throw new Syntax(t, "syntax error");
            } else {
                switch (t.keyword()) {
                    case INCLUDE -> include();
                    case LOCAL -> local();
                    case SOCKET -> socket();
                    case STAGGERED -> staggered();
                    case SWITCH -> switchBlock();
                    case VM -> vmBlock();
                    case AGENTX -> {
                        next();
                        error(t, "agentx is not supported on Linux");
                        skipStatement(false);
                    }
                    default -> throw new Syntax(t, "syntax error");
                }
            }
        }

        private void macro() {
            Token name = next();
            if (!peek().is(Token.Kind.EQUALS)) {
                throw unexpected(name);
            }
            next();
            Token value = peek();
            if (!value.is(Token.Kind.STRING) && !value.is(Token.Kind.NUMBER)) {
                throw new Syntax(value, "syntax error");
            }
            next();
            endOfStatement(false);
            String n = name.text();
            if (n.chars().anyMatch(Character::isWhitespace)) {
                error(name, "macro name cannot contain whitespace");
            } else if (!Macros.validName(n)) {
                error(name, "invalid macro name: " + n);
            } else {
                macros.define(n, value.text(), false);
            }
        }

        private void include() {
            Token kw = next();
            String name = string();
            endOfStatement(false);
            Lexer.Input from = lexer.current();
            Path file;
            String display;
            try {
                Path given = Path.of(name);
                file = (from.path != null ? from.path.getParent() : topBase).resolve(given);
                display = given.isAbsolute() ? name : Path.of(from.name).resolveSibling(given).toString();
            } catch (InvalidPathException e) {
                error(kw, "failed to include file " + name);
                return;
            }
            Path real;
            String text;
            try {
                real = file.toRealPath();
                text = read(real);
            } catch (IOException e) {
                error(kw, "failed to include file " + name);
                return;
            }
            int depth = 0;
            for (Lexer.Input open : lexer.stack()) {
                depth++;
                if (real.equals(open.path)) {
                    error(kw, "include loop: " + name);
                    return;
                }
            }
            if (depth > MAX_INCLUDE_DEPTH) {
                error(kw, "includes nested too deeply: " + name);
                return;
            }
            lexer.push(new Lexer.Input(display, real, text));
        }

        private void local() {
            next();
            Token t = peek();
            if (t.is(Keyword.INET6)) {
                next();
                if (peek().is(Keyword.PREFIX)) {
                    next();
                    Token p = expect(Token.Kind.STRING);
                    endOfStatement(false);
                    try {
                        localPrefix6 = Ipv6Prefix.parseLocal(p.text());
                    } catch (IllegalArgumentException e) {
                        error(p, "invalid local inet6 prefix: " + p.text() + " (" + e.getMessage() + ")");
                    }
                } else {
                    endOfStatement(false);
                }
                inet6 = true;
            } else if (t.is(Keyword.PREFIX)) {
                next();
                Token p = expect(Token.Kind.STRING);
                endOfStatement(false);
                try {
                    localPrefix = Ipv4Prefix.parseLocal(p.text());
                } catch (IllegalArgumentException e) {
                    error(p, "invalid local prefix: " + p.text() + " (" + e.getMessage() + ")");
                }
            } else {
                throw new Syntax(t, "syntax error");
            }
        }

        private void socket() {
            next();
            expect(Keyword.OWNER);
            Optional<Owner> o = owner();
            endOfStatement(false);
            o.ifPresent(v -> socketOwner = new Owner(v.uid(), v.hasGroup() ? v.gid() : 0));
        }

        private void staggered() {
            next();
            expect(Keyword.START);
            expect(Keyword.PARALLEL);
            Token p = peek();
            long parallel = number();
            expect(Keyword.DELAY);
            Token d = peek();
            long delay = number();
            endOfStatement(false);
            boolean ok = true;
            if (parallel < 1 || parallel > MAX_PARALLELISM) {
                error(p, "invalid parallelism: " + parallel);
                ok = false;
            }
            if (delay < 0 || delay > MAX_DELAY) {
                error(d, "invalid delay: " + delay);
                ok = false;
            }
            if (ok) {
                staggered = new StaggeredStart(true, (int) parallel, (int) delay);
            }
        }

        /** parse.y's owner_id: a uid, or {@code user}, {@code user:group} or {@code :group}. */
        private Optional<Owner> owner() {
            Token t = peek();
            if (t.is(Token.Kind.NUMBER)) {
                next();
                if (t.number() < 0 || t.number() > Integer.MAX_VALUE) {
                    error(t, "invalid user id: " + t.number());
                    return Optional.empty();
                }
                return Optional.of(new Owner((int) t.number(), Owner.NO_GROUP));
            }
            String spec = expect(Token.Kind.STRING).text();
            int colon = spec.indexOf(':');
            String user = colon < 0 ? spec : spec.substring(0, colon);
            String group = colon < 0 ? "" : spec.substring(colon + 1);
            int uid = 0;
            int gid = Owner.NO_GROUP;
            if (!user.isEmpty()) {
                OptionalInt u = env.accounts().uid(user);
                if (u.isEmpty()) {
                    error(t, "failed to get user: " + user);
                    return Optional.empty();
                }
                uid = u.getAsInt();
            }
            if (!group.isEmpty()) {
                OptionalInt g = env.accounts().gid(group);
                if (g.isEmpty()) {
                    error(t, "failed to get group: " + group);
                    return Optional.empty();
                }
                gid = g.getAsInt();
            }
            return Optional.of(new Owner(uid, gid));
        }

        // ---- blocks ----

        /**
         * Parses options up to the closing '}'. Returns the '}', or null when the file ended
         * first (reported against the line that opened the block).
         *
         * @param separated options must be separated by newlines (vm and switch blocks);
         *     otherwise newlines and commas between options are optional
         */
        private Token block(Token open, String what, boolean separated, Runnable option) {
            while (true) {
                Token t = peek();
                if (t.is(Token.Kind.NEWLINE) || t.is(Token.Kind.ERROR) || (!separated && t.is(Token.Kind.COMMA))) {
                    next();
                } else if (t.is(Token.Kind.RBRACE)) {
                    return next();
                } else if (t.is(Token.Kind.EOF)) {
                    error(open, t, "missing '}' for " + what);
                    return null;
                } else {
                    try {
                        option.run();
                        if (separated) {
                            endOfStatement(true);
                        }
                    } catch (Syntax e) {
                        report(e);
                        skipStatement(true);
                    }
                }
            }
        }

        private void switchBlock() {
            next();
            Token nameTok = peek();
            String name = string();
            Token open = expect(Token.Kind.LBRACE);
            SwitchDraft s = new SwitchDraft(name, nameTok);
            Token close = block(open, "switch \"" + name + "\"", true, () -> switchOption(s));
            endOfStatement(false);
            if (!Names.validSwitchName(name)) {
                error(nameTok, name.isEmpty() ? "invalid switch name" : "switch name too long: " + name);
                return;
            }
            if (!s.ifnameSeen && close != null) {
                error(close, "switch \"" + name + "\" is missing interface name");
            }
            for (SwitchDraft other : switches) {
                if (other.name.equals(name)) {
                    error(nameTok, "duplicate switch name: " + name);
                    return;
                }
            }
            switches.add(s);
        }

        /** A group's word: a string, or a bare number (a Linux group number). */
        private String groupWord() {
            return peek().is(Token.Kind.NUMBER) ? Long.toString(number()) : string();
        }

        /**
         * A {@code group}: vmd's group-name rules (not ending in a digit), or, jvmd's addition,
         * a Linux interface group number; a name must be one iproute2 knows. Null (after an
         * error at the token) when it is neither.
         */
        private String group(Token at, String group) {
            if (InterfaceGroups.number(group).isEmpty() && !Names.validGroup(group)) {
                error(at, "invalid group name: " + group);
                return null;
            }
            if (env.groups().resolve(group).isEmpty()) {
                error(at, "unknown interface group: " + group + " (not a number, not named in "
                        + env.groups().source() + ")");
                return null;
            }
            return group;
        }

        private void switchOption(SwitchDraft s) {
            Token t = peek();
            if (!t.is(Token.Kind.KEYWORD)) {
                throw unexpected(t);
            }
            switch (t.keyword()) {
                case ENABLE -> s.enabled = advance(true);
                case DISABLE -> s.enabled = advance(false);
                case UP -> s.up = advance(true);
                case DOWN -> s.up = advance(false);
                case LOCKED -> {
                    next();
                    expect(Keyword.LLADDR);
                    s.locked = true;
                }
                case GROUP -> {
                    next();
                    Token g = peek();
                    s.group = group(g, groupWord());
                }
                case INTERFACE -> {
                    next();
                    Token n = peek();
                    String ifname = string();
                    s.ifnameSeen = true;
                    if (!Names.fitsInterfaceName(ifname)) {
                        error(n, "switch interface too long: " + ifname);
                    } else if (!Names.validInterfaceName(ifname)) {
                        error(n, "invalid switch interface: " + ifname);
                    } else {
                        s.ifname = ifname;
                    }
                }
                case RDOMAIN -> {
                    next();
                    number();
                    error(t, "rdomain is not supported on Linux");
                }
                default -> throw new Syntax(t, "syntax error");
            }
        }

        private boolean advance(boolean value) {
            next();
            return value;
        }

        private void vmBlock() {
            next();
            Token nameTok = peek();
            String name = string();
            String parent = null;
            Token parentTok = null;
            if (peek().is(Keyword.INSTANCE)) {
                next();
                parent = name;
                parentTok = nameTok;
                nameTok = peek();
                name = string();
            }
            Token open = expect(Token.Kind.LBRACE);
            VmDraft d = new VmDraft(name, nameTok, parent, parentTok);
            if (parent != null && parent.length() >= Names.VM_NAME_MAX) {
                error(parentTok, "vm " + parent + " name too long");
                d.nameOk = false;
            } else {
                Optional<String> bad = Names.vmNameError(name);
                if (bad.isPresent()) {
                    error(nameTok, bad.get());
                    d.nameOk = false;
                }
            }
            block(open, "vm \"" + name + "\"", true, () -> vmOption(d));
            endOfStatement(false);
            vms.add(d);
        }

        private void vmOption(VmDraft d) {
            Token t = peek();
            if (!t.is(Token.Kind.KEYWORD)) {
                throw unexpected(t);
            }
            switch (t.keyword()) {
                case ENABLE -> d.disabled = advance(false);
                case DISABLE -> d.disabled = advance(true);
                case MEMORY -> memory(d);
                case VCPUS -> vcpus(d);
                case BOOT -> boot(d);
                case INITRD -> initrd(d);
                case CMDLINE -> cmdline(d);
                case LOCAL, INTERFACE -> iface(d);
                case INTERFACES -> interfaceCount(d);
                case OWNER -> {
                    next();
                    owner().ifPresent(o -> d.owner = o);
                }
                case ALLOW -> allowInstance(d);
                case DISK -> disk(d);
                case CDROM -> {
                    next();
                    string();
                    error(t, "cdrom is not supported on Linux yet");
                }
                case SEV, SEVES -> {
                    next();
                    error(t, t.text() + " is not supported on Linux");
                }
                default -> throw new Syntax(t, "syntax error");
            }
        }

        private void memory(VmDraft d) {
            next();
            Token v = peek();
            long bytes;
            if (v.is(Token.Kind.NUMBER)) {
                bytes = v.number();
            } else if (v.is(Token.Kind.STRING)) {
                OptionalLong scanned = MemorySize.scan(v.text());
                bytes = scanned.orElse(Long.MIN_VALUE);
            } else {
                throw new Syntax(v, "syntax error");
            }
            next();
            if (d.memorySeen) {
                error(v, "memory specified more than once");
                return;
            }
            d.memorySeen = true;
            if (bytes == Long.MIN_VALUE) {
                error(v, "invalid memory size: " + v.text());
                return;
            }
            MemorySize.Checked c = MemorySize.check(bytes);
            if (c.error() != null) {
                error(v, c.error());
            } else {
                d.memory = c.bytes();
            }
        }

        private void vcpus(VmDraft d) {
            next();
            Token v = peek();
            long n = number();
            if (d.vcpusSeen) {
                error(v, "vcpus specified more than once");
                return;
            }
            d.vcpusSeen = true;
            if (n < 1 || n > MAX_VCPUS) {
                error(v, "invalid number of vcpus: " + n);
            } else {
                d.vcpus = (int) n;
            }
        }

        private void boot(VmDraft d) {
            Token kw = next();
            if (peek().is(Keyword.DEVICE)) {
                next();
                Token dev = peek();
                if (!dev.is(Keyword.CDROM) && !dev.is(Keyword.DISK) && !dev.is(Keyword.NET)) {
                    throw new Syntax(dev, "syntax error");
                }
                next();
                error(kw, "boot device is not supported on Linux");
                return;
            }
            Token p = peek();
            String path = string();
            if (d.kernelSeen) {
                error(p, "kernel specified more than once");
                return;
            }
            d.kernelSeen = true;
            d.kernel = bootFile(p, "kernel", path);
        }

        /** {@code disk "path" [format raw|qcow2]} (vmd's parse.y: DISK string image_format). */
        private void disk(VmDraft d) {
            Token kw = next();
            Token p = peek();
            String path = string();
            DiskSpec.Format format = DiskSpec.Format.AUTO;
            if (peek().is(Keyword.FORMAT)) {
                next();
                Token f = peek();
                String word = string();
                Optional<DiskSpec.Format> named = DiskSpec.Format.named(word);
                if (named.isEmpty()) {
                    error(f, "unrecognized disk format " + word);
                    return;
                }
                format = named.get();
            }
            if (d.disks.size() >= DiskSpec.MAX_DISKS) {
                error(kw, "too many disks (at most " + DiskSpec.MAX_DISKS + ")");
                return;
            }
            Path image = diskPath(p, path);
            if (image == null) {
                return;
            }
            if (d.disks.stream().anyMatch(x -> x.path().equals(image))) {
                error(p, "disk specified more than once: " + path);
                return;
            }
            d.disks.add(DiskSpec.of(image, format));
        }

        /** A disk image's absolute path, relative to the configuration's directory, or null. */
        private Path diskPath(Token at, String path) {
            if (path.isEmpty()) {
                error(at, "disk path is empty");
                return null;
            }
            try {
                Lexer.Input in = lexer.current();
                Path base = in.path != null ? in.path.getParent() : topBase;
                return base.resolve(path).normalize();
            } catch (InvalidPathException e) {
                error(at, "invalid disk path: " + path);
                return null;
            }
        }

        private void initrd(VmDraft d) {
            next();
            Token p = peek();
            String path = string();
            if (d.initrdSeen) {
                error(p, "initrd specified more than once");
                return;
            }
            d.initrdSeen = true;
            d.initrd = bootFile(p, "initrd", path);
        }

        /** The real path of a boot file, relative to the configuration's directory, or null. */
        private Path bootFile(Token at, String what, String path) {
            try {
                Lexer.Input in = lexer.current();
                Path base = in.path != null ? in.path.getParent() : topBase;
                Path real = base.resolve(path).toRealPath();
                if (!Files.isRegularFile(real)) {
                    error(at, what + " is not a regular file: " + path);
                    return null;
                }
                return real;
            } catch (InvalidPathException e) {
                error(at, what + " path not found: " + path + ": invalid path");
            } catch (IOException e) {
                error(at, what + " path not found: " + path + ": " + reason(e));
            }
            return null;
        }

        private void cmdline(VmDraft d) {
            next();
            Token v = peek();
            String line = string();
            if (d.cmdline != null) {
                error(v, "cmdline specified more than once");
                return;
            }
            int bytes = line.getBytes(StandardCharsets.UTF_8).length;
            if (bytes > MAX_CMDLINE) {
                error(v, "cmdline too long: " + bytes + " bytes (limit is " + MAX_CMDLINE + ")");
                d.cmdline = "";
                return;
            }
            d.cmdline = line;
        }

        private void interfaceCount(VmDraft d) {
            next();
            Token v = peek();
            long n = number();
            if (d.count != null) {
                error(v, "interfaces specified more than once");
                return;
            }
            if (n < 0 || n > MAX_INTERFACES) {
                error(v, "too many interfaces: " + n);
                d.count = 0;
                return;
            }
            d.count = (int) n;
            d.countTok = v;
        }

        private void allowInstance(VmDraft d) {
            next();
            expect(Keyword.INSTANCE);
            d.insSeen = true;
            if (peek().is(Token.Kind.LBRACE)) {
                Token open = next();
                block(open, "allow instance", false, () -> instanceFlag(d));
            } else {
                instanceFlag(d);
            }
        }

        private void instanceFlag(VmDraft d) {
            Token t = peek();
            if (!t.is(Token.Kind.KEYWORD)) {
                throw unexpected(t);
            }
            InstanceFlag flag = switch (t.keyword()) {
                case BOOT -> InstanceFlag.BOOT;
                case MEMORY -> InstanceFlag.MEMORY;
                case VCPUS -> InstanceFlag.VCPUS;
                case INTERFACE -> InstanceFlag.INTERFACE;
                case DISK -> InstanceFlag.DISK;
                case CDROM -> InstanceFlag.CDROM;
                case INSTANCE -> InstanceFlag.INSTANCE;
                case OWNER -> null;
                default -> throw new Syntax(t, "syntax error");
            };
            next();
            if (flag != null) {
                d.insFlags.add(flag);
            } else {
                owner().ifPresent(o -> d.insOwner = o);
            }
        }

        // ---- interfaces ----

        private void iface(VmDraft d) {
            Token first = next();
            boolean local = first.is(Keyword.LOCAL);
            if (local) {
                expect(Keyword.INTERFACE);
            }
            IfDraft f = new IfDraft(first, local);
            if (peek().is(Token.Kind.STRING)) {
                Token n = next();
                tapName(f, n);
            }
            if (peek().is(Token.Kind.LBRACE)) {
                Token open = next();
                block(open, "interface", false, () -> ifaceOption(f));
            } else {
                while (startsIfaceOption(peek())) {
                    ifaceOption(f);
                    if (peek().is(Token.Kind.COMMA)) {
                        next();
                    }
                }
            }
            if (d.interfaces.size() >= MAX_INTERFACES) {
                error(first, "too many interfaces: " + (d.interfaces.size() + 1));
                return;
            }
            d.interfaces.add(f);
        }

        private void tapName(IfDraft f, Token n) {
            String name = n.text();
            if (name.equals("tap")) {
                return; // vm.conf(5): "tap" asks for the next free tap, which vmd names itself
            }
            if (!Names.fitsInterfaceName(name)) {
                error(n, "interface name too long: " + name);
            } else if (!Names.validInterfaceName(name)) {
                error(n, "invalid interface: " + name);
            } else {
                f.tap = name;
                f.tapTok = n;
            }
        }

        private boolean startsIfaceOption(Token t) {
            if (!t.is(Token.Kind.KEYWORD)) {
                return false;
            }
            return switch (t.keyword()) {
                case SWITCH, GROUP, LOCKED, LLADDR, UP, DOWN, OFFLOAD, MTU, RDOMAIN -> true;
                default -> false;
            };
        }

        private void ifaceOption(IfDraft f) {
            Token t = peek();
            if (!startsIfaceOption(t)) {
                throw unexpected(t);
            }
            next();
            switch (t.keyword()) {
                case SWITCH -> {
                    Token s = peek();
                    String name = string();
                    if (!Names.validSwitchName(name)) {
                        error(s, name.isEmpty() ? "invalid switch name" : "switch name too long: " + name);
                    } else {
                        f.sw = name;
                        f.swTok = s;
                    }
                }
                case GROUP -> {
                    Token g = peek();
                    f.group = group(g, groupWord());
                }
                case LOCKED -> {
                    expect(Keyword.LLADDR);
                    f.locked = true;
                    lladdr(f);
                }
                case LLADDR -> lladdr(f);
                case UP -> f.up = true;
                case DOWN -> f.up = false;
                case OFFLOAD -> offload(f, t);
                case MTU -> {
                    Token v = peek();
                    long mtu = number();
                    if (f.mtu != null) {
                        error(v, "mtu specified more than once");
                    } else if (mtu < MIN_MTU || mtu > MAX_MTU) {
                        error(v, "invalid mtu: " + mtu);
                    } else {
                        f.mtu = (int) mtu;
                    }
                }
                case RDOMAIN -> {
                    number();
                    error(t, "rdomain is not supported on Linux");
                }
                default -> throw new AssertionError(t.keyword());
            }
        }

        /** The optional address after {@code lladdr}; all zeroes asks for a generated one. */
        private void lladdr(IfDraft f) {
            if (!peek().is(Token.Kind.STRING)) {
                return;
            }
            Token m = next();
            Optional<MacAddress> mac = MacAddress.parse(m.text());
            if (mac.isEmpty()) {
                error(m, "invalid address: " + m.text());
            } else if (mac.get().isMulticast()) {
                error(m, "invalid address: " + m.text() + " (multicast)");
            } else if (!mac.get().isZero()) {
                f.mac = mac.get();
                f.macTok = m;
            }
        }

        private void offload(IfDraft f, Token kw) {
            List<Token> words = new ArrayList<>();
            while (peek().is(Token.Kind.STRING)) {
                words.add(next());
            }
            if (words.isEmpty()) {
                throw new Syntax(peek(), "syntax error");
            }
            if (f.offloads != null) {
                error(kw, "offload specified more than once");
                return;
            }
            if (words.size() == 1 && words.getFirst().text().equals("on")) {
                f.offloads = Offload.ON;
                return;
            }
            if (words.size() == 1 && words.getFirst().text().equals("off")) {
                f.offloads = Offload.OFF;
                return;
            }
            EnumSet<Offload> set = EnumSet.noneOf(Offload.class);
            boolean ok = true;
            for (Token w : words) {
                Optional<Offload> o = Offload.byName(w.text());
                if (o.isEmpty()) {
                    error(w, "unknown offload feature: " + w.text());
                    ok = false;
                } else {
                    set.add(o.get());
                }
            }
            Optional<String> missing = Offload.missingDependency(set);
            if (ok && missing.isPresent()) {
                error(kw, missing.get());
                ok = false;
            }
            f.offloads = ok ? set : Offload.ON;
        }

        // ---- after parsing: cross-references, defaults, addresses ----

        private Config resolve() {
            Map<String, SwitchSpec> switchMap = new LinkedHashMap<>();
            Set<String> switchNames = new HashSet<>();
            for (SwitchDraft s : switches) {
                switchNames.add(s.name);
                if (s.ifname != null) {
                    switchMap.put(s.name, new SwitchSpec(s.name, s.ifname, Optional.ofNullable(s.group), s.locked,
                            s.up, s.enabled, s.nameTok.source()));
                }
            }
            LladdrAllocator lladdrs = new LladdrAllocator(env.lladdrs(), List.of());
            checkInterfaces(switchNames, lladdrs);
            Map<String, VmSpec> done = new LinkedHashMap<>();
            // VMs whose errors are reported: their instances say nothing more about them.
            Set<String> failed = new HashSet<>();
            Set<String> names = new HashSet<>();
            for (VmDraft d : vms) {
                if (!d.nameOk) {
                    continue;
                }
                if (!names.add(d.name)) {
                    error(d.nameTok, "duplicate vm name: " + d.name);
                    continue;
                }
                VmSpec vm = d.parent == null ? plainVm(d, switchMap, lladdrs)
                        : instance(d, done, failed, switchMap, lladdrs);
                if (vm != null) {
                    done.put(d.name, vm);
                } else {
                    failed.add(d.name);
                }
            }
            Globals globals = new Globals(localPrefix, inet6, Optional.ofNullable(localPrefix6), socketOwner,
                    staggered);
            return new Config(globals, List.copyOf(switchMap.values()), List.copyOf(done.values()));
        }

        /**
         * Switch references, and addresses and tap names used twice. An instance repeating its
         * parent's is left to {@link VmInstances}, which says so.
         */
        private void checkInterfaces(Set<String> switchNames, LladdrAllocator lladdrs) {
            Map<MacAddress, String> macOwners = new HashMap<>();
            Map<String, String> tapOwners = new HashMap<>();
            for (VmDraft d : vms) {
                for (IfDraft f : d.interfaces) {
                    if (f.mac != null) {
                        String other = macOwners.putIfAbsent(f.mac, d.name);
                        if (other == null) {
                            lladdrs.claim(f.mac);
                        } else if (!other.equals(d.parent)) {
                            error(f.macTok, "duplicate lladdr: " + f.mac);
                        }
                    }
                    if (f.tap != null) {
                        String other = tapOwners.putIfAbsent(f.tap, d.name);
                        if (other != null && !other.equals(d.parent)) {
                            error(f.tapTok, "duplicate interface name: " + f.tap);
                        }
                    }
                    if (f.sw != null && !switchNames.contains(f.sw)) {
                        error(f.swTok, "unknown switch: " + f.sw);
                    }
                    if (f.sw != null && f.local) {
                        error(f.swTok, "a local interface cannot join a switch");
                    }
                }
            }
        }

        private VmSpec plainVm(VmDraft d, Map<String, SwitchSpec> switchMap, LladdrAllocator lladdrs) {
            if (d.kernel == null) {
                if (!d.kernelSeen) {
                    error(d.nameTok, "vm \"" + d.name + "\" has no boot kernel");
                }
                return null;
            }
            List<InterfaceSpec> interfaces = new ArrayList<>();
            for (IfDraft f : d.interfaces) {
                InterfaceRequest r = f.request();
                SwitchSpec sw = r.switchName().map(switchMap::get).orElse(null);
                try {
                    interfaces.add(r.resolve(r.lladdr().orElseGet(() -> lladdrs.allocate(interfaces.size())), sw));
                } catch (LladdrAllocator.Exhausted e) {
                    error(f.tok, e.getMessage());
                    return null;
                }
            }
            int count = d.count == null ? 0 : d.count;
            while (interfaces.size() < count) {
                try {
                    interfaces.add(InterfaceRequest.defaults().resolve(lladdrs.allocate(interfaces.size()), null));
                } catch (LladdrAllocator.Exhausted e) {
                    error(d.countTok != null ? d.countTok : d.nameTok, e.getMessage());
                    return null;
                }
            }
            InstancePolicy policy = new InstancePolicy(d.insFlags, d.insOwner == null ? Owner.ROOT : d.insOwner);
            return new VmSpec(d.name, Optional.empty(), d.memory == null ? MemorySize.DEFAULT : d.memory,
                    d.vcpus == null ? 1 : d.vcpus, d.kernel, Optional.ofNullable(d.initrd),
                    d.cmdline == null ? "" : d.cmdline, interfaces, d.disks, d.owner == null ? Owner.ROOT : d.owner,
                    !d.disabled, policy, Optional.of(d.nameTok.source()));
        }

        private VmSpec instance(VmDraft d, Map<String, VmSpec> done, Set<String> failed,
                Map<String, SwitchSpec> switchMap, LladdrAllocator lladdrs) {
            VmSpec parent = done.get(d.parent);
            if (parent == null) {
                if (!failed.contains(d.parent)) {
                    error(d.parentTok, "unknown template vm: " + d.parent);
                }
                return null;
            }
            if ((d.kernelSeen && d.kernel == null) || (d.initrdSeen && d.initrd == null)) {
                return null; // the path error is reported
            }
            InstanceRequest r = InstanceRequest.named(d.name).withEnabled(!d.disabled);
            if (d.memory != null) {
                r = r.withMemory(d.memory);
            }
            if (d.vcpus != null) {
                r = r.withVcpus(d.vcpus);
            }
            if (d.kernel != null) {
                r = r.withKernel(d.kernel);
            }
            if (d.initrd != null) {
                r = r.withInitrd(d.initrd);
            }
            if (d.cmdline != null) {
                r = r.withCmdline(d.cmdline);
            }
            r = r.withInterfaces(d.interfaces.stream().map(IfDraft::request).toList());
            if (d.count != null) {
                r = r.withInterfaceCount(d.count);
            }
            if (!d.disks.isEmpty()) {
                r = r.withDisks(d.disks);
            }
            if (d.owner != null) {
                r = r.withOwner(d.owner);
            }
            if (d.insSeen) {
                r = r.withInstancePolicy();
            }
            return switch (VmInstances.create(parent, r, Caller.root(), switchMap, lladdrs)) {
                case VmInstances.Created c -> c.vm().withSource(d.nameTok.source());
                case VmInstances.Refused refused -> {
                    error(d.nameTok, refused.message());
                    yield null;
                }
            };
        }
    }
}
