package org.jvmd.vmd.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Users and groups read from passwd(5) and group(5) files. This is the local database only
 * (no NSS modules), which is what a host running vmd for local users has.
 */
public final class EtcAccounts implements Accounts {
    private final Map<String, Integer> uids = new HashMap<>();
    private final Map<Integer, Integer> primaryGid = new HashMap<>();
    private final Map<Integer, String> userNames = new HashMap<>();
    private final Map<String, Integer> gids = new HashMap<>();
    private final Map<Integer, Set<String>> members = new HashMap<>();

    private EtcAccounts(String passwd, String group) {
        for (String line : passwd.split("\n")) {
            String[] f = line.split(":", -1);
            if (f.length >= 4 && !f[0].isEmpty()) {
                Integer uid = number(f[2]);
                Integer gid = number(f[3]);
                if (uid != null && gid != null) {
                    uids.putIfAbsent(f[0], uid);
                    primaryGid.putIfAbsent(uid, gid);
                    userNames.putIfAbsent(uid, f[0]);
                }
            }
        }
        for (String line : group.split("\n")) {
            String[] f = line.split(":", -1);
            if (f.length >= 3 && !f[0].isEmpty()) {
                Integer gid = number(f[2]);
                if (gid != null) {
                    gids.putIfAbsent(f[0], gid);
                    Set<String> m = members.computeIfAbsent(gid, k -> new HashSet<>());
                    if (f.length >= 4 && !f[3].isEmpty()) {
                        for (String name : f[3].split(",")) {
                            m.add(name.trim());
                        }
                    }
                }
            }
        }
    }

    /** Accounts from the texts of a passwd and a group file. */
    public static EtcAccounts of(String passwd, String group) {
        return new EtcAccounts(passwd, group);
    }

    /** Accounts from /etc/passwd and /etc/group. */
    public static EtcAccounts system() {
        return load(Path.of("/etc/passwd"), Path.of("/etc/group"));
    }

    /** Accounts from passwd and group files; a missing file counts as empty. */
    public static EtcAccounts load(Path passwd, Path group) {
        return new EtcAccounts(read(passwd), read(group));
    }

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return "";
        } catch (IOException e) {
            throw new UncheckedIOException("read " + p, e);
        }
    }

    private static Integer number(String s) {
        if (s.isEmpty() || s.length() > 10 || !s.chars().allMatch(Lexer::isDigit)) {
            return null;
        }
        long v = Long.parseLong(s);
        return v <= Integer.MAX_VALUE ? (int) v : null;
    }

    @Override
    public OptionalInt uid(String user) {
        Integer v = uids.get(user);
        return v == null ? OptionalInt.empty() : OptionalInt.of(v);
    }

    @Override
    public OptionalInt gid(String group) {
        Integer v = gids.get(group);
        return v == null ? OptionalInt.empty() : OptionalInt.of(v);
    }

    @Override
    public boolean isMember(int uid, int gid) {
        Integer primary = primaryGid.get(uid);
        if (primary != null && primary == gid) {
            return true;
        }
        String name = userNames.get(uid);
        return name != null && members.getOrDefault(gid, Set.of()).contains(name);
    }
}
