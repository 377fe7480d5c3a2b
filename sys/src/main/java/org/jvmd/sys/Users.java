package org.jvmd.sys;

import java.io.IOException;
import jnr.posix.Group;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;
import jnr.posix.Passwd;

/** User and group lookup (getpwnam/getgrnam through jnr-posix). Look up before chroot. */
public final class Users {
    private Users() {}

    /** A user's numeric identity. */
    public record Ids(String name, int uid, int gid) {}

    private static volatile POSIX posix;

    static POSIX posix() {
        POSIX p = posix;
        if (p == null) {
            p = POSIXFactory.getNativePOSIX();
            posix = p;
        }
        return p;
    }

    /** The user's uid and primary gid; fails clearly for an unknown user. */
    public static Ids lookup(String user) throws IOException {
        Passwd pw = posix().getpwnam(user);
        if (pw == null) {
            throw new IOException("getpwnam(" + user + "): no such user (scripts/setup creates _vmd)");
        }
        return new Ids(user, (int) pw.getUID(), (int) pw.getGID());
    }

    /** The group's gid. */
    public static int groupId(String group) throws IOException {
        Group g = posix().getgrnam(group);
        if (g == null) {
            throw new IOException("getgrnam(" + group + "): no such group");
        }
        return (int) g.getGID();
    }

    /** The name of group {@code gid}, or its number if it has none. */
    public static String groupName(int gid) {
        Group g = posix().getgrgid(gid);
        return g == null ? Integer.toString(gid) : g.getName();
    }

    /** The name of {@code uid}, or its number if it has none. */
    public static String userName(int uid) {
        Passwd pw = posix().getpwuid(uid);
        return pw == null ? Integer.toString(uid) : pw.getLoginName();
    }
}
