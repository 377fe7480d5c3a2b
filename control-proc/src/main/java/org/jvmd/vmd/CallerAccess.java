package org.jvmd.vmd;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Map;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.vmd.config.Accounts;
import org.jvmd.vmd.config.Caller;

/**
 * vmd's {@code vm_checkaccess}, on descriptors: a file a caller names (a kernel, an initrd,
 * a disk image and its bases) is opened by vmctl with the caller's own rights and passed
 * over the control socket; vmd never opens a caller's path. Here vmd checks what it was
 * given: a regular file; a descriptor open for reading (and for writing, for a disk: the
 * guest writes it); and, for a non-root caller, permission bits that let that caller read
 * (and write) it with its uid and groups (a descriptor may have come from elsewhere).
 * One implementation for every file a caller may name.
 */
final class CallerAccess {
    private CallerAccess() {}

    static final int R_OK = 4;
    static final int W_OK = 2;
    static final int X_OK = 1;
    /** O_ACCMODE (include/uapi/asm-generic/fcntl.h): the access mode bits of the file status flags. */
    static final int O_ACCMODE = 3;

    /** A refused file: the message names it and says why, and reaches vmctl as it is. */
    static final class Refused extends IOException {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    /**
     * Checks a descriptor {@code caller} passed for {@code what} ({@code "kernel /path"}):
     * refusals read {@code "<what>: not a regular file"}, {@code "<what>: descriptor not open
     * for reading"}, {@code "<what>: descriptor not open for writing (a disk needs O_RDWR)"}
     * or {@code "<what>: Permission denied"}.
     */
    static void checkPassed(String what, Fd fd, Caller caller, boolean write) throws IOException {
        int flags;
        try {
            flags = LibC.fcntl(fd, LibC.F_GETFL, 0, "fcntl(F_GETFL)");
        } catch (SysException e) {
            throw new Refused(what + ": bad descriptor: " + strerror(e.errno()));
        }
        int mode = flags & O_ACCMODE;
        if ((flags & LibC.O_PATH) != 0 || mode == LibC.O_WRONLY) {
            throw new Refused(what + ": descriptor not open for reading");
        }
        if (write && mode != LibC.O_RDWR) {
            throw new Refused(what + ": descriptor not open for writing (a disk needs O_RDWR)");
        }
        Map<String, Object> a;
        try {
            a = Files.readAttributes(fd.procPath(), "unix:uid,gid,mode,isRegularFile");
        } catch (IOException e) {
            throw new Refused(what + ": cannot stat the descriptor: " + e.getMessage());
        }
        if (!(Boolean) a.get("isRegularFile")) {
            throw new Refused(what + ": not a regular file");
        }
        if (!caller.isRoot()) {
            int need = write ? R_OK | W_OK : R_OK;
            if (!permits(caller.uid(), caller.accounts(), (Integer) a.get("uid"), (Integer) a.get("gid"),
                    (Integer) a.get("mode"), need)) {
                throw new Refused(what + ": Permission denied");
            }
        }
    }

    /**
     * The permission bits that apply to {@code uid} on a file owned by {@code fileUid}:{@code
     * fileGid} with {@code mode} allow all of {@code need} (R_OK, W_OK, X_OK): the owner's
     * bits for the owner, the group's for a member of the file's group, the others' else
     * (POSIX file permission classes; vmd's vm_checkaccess). Root is not asked here.
     */
    static boolean permits(int uid, Accounts accounts, int fileUid, int fileGid, int mode, int need) {
        int bits;
        if (uid == fileUid) {
            bits = mode >> 6;
        } else if (accounts.isMember(uid, fileGid)) {
            bits = mode >> 3;
        } else {
            bits = mode;
        }
        return (bits & need & 7) == (need & 7);
    }

    /**
     * Opens a file vm.conf names (root's configuration: vmd opens it itself), a regular file,
     * with {@code flags}. Refusals read {@code "<what>: not a regular file"} or the open's
     * strerror ({@code "<what>: No such file or directory"}).
     */
    static Fd openConfigured(String what, java.nio.file.Path path, int flags) throws Refused {
        Fd fd;
        try {
            fd = LibC.open(path.toString(), flags | LibC.O_CLOEXEC);
        } catch (SysException e) {
            throw new Refused(what + ": " + strerror(e.errno()));
        }
        if (!Files.isRegularFile(fd.procPath())) {
            fd.close();
            throw new Refused(what + ": not a regular file");
        }
        return fd;
    }

    /**
     * A fresh open file description of the file a caller passed, opened through the
     * descriptor (/proc/self/fd), not through any path the caller named: its own offset and
     * its own flock, released when vmd closes it. Only for a descriptor {@link #checkPassed}
     * accepted with the same access.
     */
    static Fd reopen(String what, Fd passed, int flags) throws Refused {
        try {
            return LibC.open(passed.procPath().toString(), flags | LibC.O_CLOEXEC);
        } catch (SysException e) {
            throw new Refused(what + ": " + strerror(e.errno()));
        }
    }

    /** strerror(3)'s text: "No such file or directory". */
    static String strerror(int errno) {
        String d = Errno.describe(errno);
        int open = d.indexOf('(');
        return open >= 0 && d.endsWith(")") ? d.substring(open + 1, d.length() - 1) : d;
    }

    static java.nio.file.Path fdPath(Fd fd) {
        return fd.procPath();
    }
}
