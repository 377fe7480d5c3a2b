package org.jvmd.vmd.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Linux interface groups for vm.conf's {@code group}: OpenBSD names a group with a word, Linux
 * numbers them (IFLA_GROUP, an unsigned 32-bit number) and iproute2 names the numbers in
 * {@code /etc/iproute2/group} ("NUMBER NAME" lines, {@code #} comments; newer iproute2 ships
 * the defaults in {@code /usr/share/iproute2/group}). A group is a decimal number or a name
 * from those files; "default" is group 0 even without them.
 */
public final class InterfaceGroups {
    /** Where iproute2 reads group names: the administrator's file first, then the packaged one. */
    public static final List<Path> FILES = List.of(Path.of("/etc/iproute2/group"), Path.of("/usr/share/iproute2/group"));

    private final Map<String, Long> byName;
    private final String source;

    private InterfaceGroups(Map<String, Long> byName, String source) {
        this.byName = Map.copyOf(byName);
        this.source = source;
    }

    /** The groups named in {@code text} (a group file's contents), plus "default" = 0. */
    public static InterfaceGroups of(String text, String source) {
        Map<String, Long> names = new HashMap<>();
        names.put("default", 0L);
        for (String line : text.split("\n", -1)) {
            int hash = line.indexOf('#');
            String[] f = (hash < 0 ? line : line.substring(0, hash)).trim().split("\\s+");
            if (f.length != 2) {
                continue;
            }
            OptionalLong n = f[0].startsWith("0x") ? hex(f[0].substring(2)) : number(f[0]);
            if (n.isPresent()) {
                names.putIfAbsent(f[1], n.getAsLong());
            }
        }
        return new InterfaceGroups(names, source);
    }

    /** The running system's names: the first of {@link #FILES} that can be read, else only "default". */
    public static InterfaceGroups system() {
        for (Path p : FILES) {
            try {
                return of(Files.readString(p), p.toString());
            } catch (IOException e) {
                // not there: the next one
            }
        }
        return of("", FILES.getFirst().toString());
    }

    /** Where the names come from, for messages. */
    public String source() {
        return source;
    }

    /** The group's number: the decimal number itself, or the number the name stands for. */
    public OptionalLong resolve(String group) {
        OptionalLong n = number(group);
        if (n.isPresent()) {
            return n;
        }
        return Optional.ofNullable(byName.get(group)).map(OptionalLong::of).orElse(OptionalLong.empty());
    }

    private static OptionalLong hex(String s) {
        if (s.isEmpty() || s.length() > 8 || !s.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            return OptionalLong.empty();
        }
        return OptionalLong.of(Long.parseLong(s, 16));
    }

    /** A decimal u32 (no sign, no leading '+', at most 10 digits), as iproute2 accepts numbers. */
    static OptionalLong number(String s) {
        if (s.isEmpty() || s.length() > 10 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return OptionalLong.empty();
        }
        long v = Long.parseLong(s);
        return v > 0xffff_ffffL ? OptionalLong.empty() : OptionalLong.of(v);
    }
}
