package org.jvmd.vmd;

import org.jvmd.sys.proc.Users;

/** An owner as vmctl prints it (print_vm_info): {@code user}, or {@code user:group} with a group. */
public final class Owners {
    private Owners() {
    }

    public static String format(int uid, int gid) {
        String user = Users.userName(uid);
        return gid == -1 ? user : user + ":" + Users.groupName(gid);
    }
}
