package org.jvmd.sys.proc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Native;
import org.jvmd.sys.SysException;

/**
 * User and group lookup: glibc's reentrant getpwnam_r/getgrnam_r/getpwuid_r/getgrgid_r
 * (NSS, as every other tool sees the user database). Look up before chroot.
 *
 * <p>These are FFM calls, not jnr-posix: jnr-posix's first use costs about a second on a
 * real CPU (it unpacks and loads jffi's native library and generates its bindings), tens
 * of seconds under kvm-lab's emulator, and every per-VM process looks up its user before
 * its privilege drop. jnr-posix remains for {@link Native#posix()}'s file calls in vmd.
 */
public final class Users {
    private Users() {}

    /** A user's numeric identity. */
    public record Ids(String name, int uid, int gid) {}

    // struct passwd and struct group, glibc x86_64 (pwd.h, grp.h): pointers first, then the ids.
    private static final long PW_NAME = 0;
    private static final long PW_UID = 16;
    private static final long PW_GID = 20;
    private static final long PASSWD_BYTES = 48;
    private static final long GR_NAME = 0;
    private static final long GR_GID = 16;
    private static final long GROUP_BYTES = 32;
    /** sysconf(_SC_GETPW_R_SIZE_MAX) is 1024 on glibc; the buffer doubles on ERANGE up to this. */
    private static final long MAX_BUFFER = 1 << 20;

    private static final class ByName {
        // int getpwnam_r(const char *, struct passwd *, char *, size_t, struct passwd **), same shape for getgrnam_r
        static final FunctionDescriptor SHAPE = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG,
                ADDRESS);
        static final MethodHandle GETPWNAM_R = Native.plainDowncall("getpwnam_r", SHAPE);
        static final MethodHandle GETGRNAM_R = Native.plainDowncall("getgrnam_r", SHAPE);
    }

    private static final class ById {
        // int getpwuid_r(uid_t, struct passwd *, char *, size_t, struct passwd **), same shape for getgrgid_r
        static final FunctionDescriptor SHAPE = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG,
                ADDRESS);
        static final MethodHandle GETPWUID_R = Native.plainDowncall("getpwuid_r", SHAPE);
        static final MethodHandle GETGRGID_R = Native.plainDowncall("getgrgid_r", SHAPE);
    }

    /** One *_r lookup: the record, or null when there is no such entry. */
    private interface Call {
        int invoke(MemorySegment record, MemorySegment buf, long len, MemorySegment result) throws Throwable;
    }

    /** Runs {@code c}, growing the string buffer on ERANGE; hands the found record to {@code read}. */
    private static <T> T lookup(String what, long recordBytes, Call c, java.util.function.Function<MemorySegment, T> read)
            throws IOException {
        for (long len = 1024; ; len *= 2) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment record = a.allocate(recordBytes, 8);
                MemorySegment buf = a.allocate(len);
                MemorySegment result = a.allocate(ADDRESS);
                int r;
                try {
                    r = c.invoke(record, buf, len, result);
                } catch (Throwable t) {
                    throw Native.rethrow(t);
                }
                if (r == Errno.ERANGE && len < MAX_BUFFER) {
                    continue;
                }
                if (r != 0) {
                    throw new SysException(what, r);
                }
                return result.get(ADDRESS, 0).equals(MemorySegment.NULL) ? null : read.apply(record);
            }
        }
    }

    private static String string(MemorySegment record, long offset) {
        return record.get(ADDRESS, offset).reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** The user's uid and primary gid; fails clearly for an unknown user. */
    public static Ids lookup(String user) throws IOException {
        Ids ids;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = a.allocateFrom(user);
            ids = lookup("getpwnam_r(" + user + ")", PASSWD_BYTES,
                    (rec, buf, len, res) -> (int) ByName.GETPWNAM_R.invokeExact(name, rec, buf, len, res),
                    rec -> new Ids(user, rec.get(JAVA_INT, PW_UID), rec.get(JAVA_INT, PW_GID)));
        }
        if (ids == null) {
            throw new IOException("getpwnam(" + user + "): no such user (scripts/setup creates _vmd)");
        }
        return ids;
    }

    /** The group's gid. */
    public static int groupId(String group) throws IOException {
        Integer gid;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = a.allocateFrom(group);
            gid = lookup("getgrnam_r(" + group + ")", GROUP_BYTES,
                    (rec, buf, len, res) -> (int) ByName.GETGRNAM_R.invokeExact(name, rec, buf, len, res),
                    rec -> rec.get(JAVA_INT, GR_GID));
        }
        if (gid == null) {
            throw new IOException("getgrnam(" + group + "): no such group");
        }
        return gid;
    }

    /** The name of group {@code gid}, or its number if it has none. */
    public static String groupName(int gid) {
        try {
            String n = lookup("getgrgid_r(" + gid + ")", GROUP_BYTES,
                    (rec, buf, len, res) -> (int) ById.GETGRGID_R.invokeExact(gid, rec, buf, len, res),
                    rec -> string(rec, GR_NAME));
            return n == null ? Integer.toString(gid) : n;
        } catch (IOException e) {
            return Integer.toString(gid);
        }
    }

    /** The name of {@code uid}, or its number if it has none. */
    public static String userName(int uid) {
        try {
            String n = lookup("getpwuid_r(" + uid + ")", PASSWD_BYTES,
                    (rec, buf, len, res) -> (int) ById.GETPWUID_R.invokeExact(uid, rec, buf, len, res),
                    rec -> string(rec, PW_NAME));
            return n == null ? Integer.toString(uid) : n;
        } catch (IOException e) {
            return Integer.toString(uid);
        }
    }
}
