package org.jvmd.vmd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalInt;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.vmd.config.Accounts;

/**
 * vmd's {@code vm_checkaccess}: a file a non-root caller named (a disk image, a kernel, an
 * initrd) is one that caller could open itself. vmd opens it as root, then checks, on the
 * descriptor it opened, that the caller may read it (and write it, for a disk) and may search
 * every directory above it, with the caller's uid and groups. One implementation for every
 * file a caller may name ({@link DiskImages}, {@link VmmProcSpawner}'s boot files).
 */
final class CallerAccess {
    private CallerAccess() {}

    static final int R_OK = 4;
    static final int W_OK = 2;
    static final int X_OK = 1;

    /** A refused file: the message names it and says why, and reaches vmctl as it is. */
    static final class Refused extends IOException {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    /**
     * Opens {@code path} read-only for a VM: a regular file, and, when {@code namedBy} holds
     * a non-root caller's uid, one that caller may read and reach. Refusals read
     * {@code "<what>: Permission denied"}, {@code "<what>: not a regular file"} or the
     * open's strerror ({@code "<what>: No such file or directory"}), {@code what} naming the
     * file ({@code "kernel /path"}).
     */
    static Fd openReadOnly(String what, Path path, OptionalInt namedBy, Accounts accounts) throws IOException {
        Fd fd;
        try {
            fd = LibC.open(path.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
        } catch (SysException e) {
            throw new Refused(what + ": " + strerror(e.errno()));
        }
        try {
            if (!Files.isRegularFile(fdPath(fd))) {
                throw new Refused(what + ": not a regular file");
            }
            if (namedBy.isPresent()) {
                check(what, fd, path, namedBy.getAsInt(), accounts, false);
            }
            return fd;
        } catch (IOException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * The caller {@code uid} may read (and, with {@code write}, write) the file open at
     * {@code fd}, reached as {@code path}: permission on the file itself and search
     * permission on every directory above it, both above the name the caller gave and above
     * the file the descriptor is open on (a symbolic link in the caller's own directory to a
     * file under a directory it cannot search does not reach that file).
     */
    static void check(String what, Fd fd, Path path, int uid, Accounts accounts, boolean write) throws IOException {
        checkAccess(what, fd, uid, accounts, write);
        checkSearch(what, path, uid, accounts);
        Path real;
        try {
            real = Files.readSymbolicLink(fdPath(fd));
        } catch (IOException e) {
            throw new Refused(what + ": cannot resolve: " + e.getMessage());
        }
        if (!real.equals(path.toAbsolutePath().normalize())) {
            try {
                checkSearch(what, real, uid, accounts);
            } catch (java.nio.file.NoSuchFileException e) {
                throw new Refused(what + ": No such file or directory"); // renamed or removed meanwhile
            }
        }
    }

    /** The caller needs read (and write) permission on the file. */
    private static void checkAccess(String what, Fd fd, int uid, Accounts accounts, boolean write) throws IOException {
        Map<String, Object> a = Files.readAttributes(fdPath(fd), "unix:uid,gid,mode");
        int need = write ? R_OK | W_OK : R_OK;
        if (!permits(uid, accounts, (Integer) a.get("uid"), (Integer) a.get("gid"), (Integer) a.get("mode"), need)) {
            throw new Refused(what + ": Permission denied");
        }
    }

    /** The caller must be able to reach the file too: search permission on every directory above it. */
    private static void checkSearch(String what, Path file, int uid, Accounts accounts) throws IOException {
        for (Path dir = file.toAbsolutePath().getParent(); dir != null; dir = dir.getParent()) {
            Map<String, Object> a = Files.readAttributes(dir, "unix:uid,gid,mode");
            if (!permits(uid, accounts, (Integer) a.get("uid"), (Integer) a.get("gid"), (Integer) a.get("mode"), X_OK)) {
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

    /** strerror(3)'s text: "No such file or directory". */
    static String strerror(int errno) {
        String d = Errno.describe(errno);
        int open = d.indexOf('(');
        return open >= 0 && d.endsWith(")") ? d.substring(open + 1, d.length() - 1) : d;
    }

    static Path fdPath(Fd fd) {
        return fd.procPath();
    }
}
