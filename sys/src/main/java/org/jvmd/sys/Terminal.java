package org.jvmd.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Terminals: modes (termios(3): raw for a console client, and their restore) and the
 * pseudo-terminals of VM consoles.
 */
public final class Terminal {
    /** sizeof(struct termios) with glibc on x86_64. */
    private static final int TERMIOS_BYTES = 60;
    /** tcsetattr's TCSANOW and TCSAFLUSH. */
    private static final int TCSANOW = 0;
    private static final int TCSAFLUSH = 2;

    private static final MethodHandle TCGETATTR = Native.downcall("tcgetattr",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle TCSETATTR = Native.downcall("tcsetattr",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle CFMAKERAW = Native.plainDowncall("cfmakeraw",
            FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle ISATTY = Native.plainDowncall("isatty",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private Terminal() {
    }

    private static final Fd STDIN = Fd.adopt(0);

    /** The process's standard input (descriptor 0): the process owns it, so never close it. */
    public static Fd stdin() {
        return STDIN;
    }

    /** isatty(3). */
    public static boolean isTerminal(Fd fd) {
        try {
            return (int) ISATTY.invokeExact(fd.num()) == 1;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** tcgetattr: the terminal's settings, as opaque bytes for {@link #restore}. */
    public static byte[] attributes(Fd fd) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS_BYTES, 8);
            get(fd.num(), t);
            return t.toArray(JAVA_BYTE);
        }
    }

    /**
     * Puts the terminal in raw mode (cfmakeraw) and returns the previous settings; input not
     * yet read is discarded (TCSAFLUSH: a user's typeahead).
     */
    public static byte[] makeRaw(Fd fd) throws SysException {
        return makeRaw(fd, true);
    }

    /**
     * {@link #makeRaw(Fd)}, keeping input not yet read when {@code discardInput} is false
     * (TCSANOW: a VM's console pty, whose pending bytes are the guest's output).
     */
    public static byte[] makeRaw(Fd fd, boolean discardInput) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS_BYTES, 8);
            get(fd.num(), t);
            byte[] saved = t.toArray(JAVA_BYTE);
            try {
                CFMAKERAW.invokeExact(t);
            } catch (Throwable e) {
                throw Native.rethrow(e);
            }
            set(fd.num(), t, discardInput ? TCSAFLUSH : TCSANOW);
            return saved;
        }
    }

    /** tcsetattr with settings from {@link #attributes} or {@link #makeRaw}. */
    public static void restore(Fd fd, byte[] saved) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS_BYTES, 8);
            MemorySegment.copy(saved, 0, t, JAVA_BYTE, 0, Math.min(saved.length, TERMIOS_BYTES));
            set(fd.num(), t, TCSAFLUSH);
        }
    }

    private static void get(int fd, MemorySegment t) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) TCGETATTR.invokeExact(st, fd, t);
        } catch (Throwable e) {
            throw Native.rethrow(e);
        }
        Native.check(r, st, "tcgetattr");
    }

    private static void set(int fd, MemorySegment t, int when) throws SysException {
        MemorySegment st = Native.state();
        int r;
        try {
            r = (int) TCSETATTR.invokeExact(st, fd, when, t);
        } catch (Throwable e) {
            throw Native.rethrow(e);
        }
        Native.check(r, st, "tcsetattr");
    }

    /** Opens a terminal device read-write without making it the controlling tty. */
    public static Fd open(String path) throws SysException {
        return LibC.open(path, LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC, 0);
    }

    /** read(2) into a heap buffer: bytes read, 0 at end of file; EINTR is retried. */
    public static int read(Fd fd, byte[] buf) throws SysException {
        int n = tryRead(fd, buf);
        if (n < 0) {
            throw new SysException("read", -n);
        }
        return n;
    }

    /** write(2) of the whole range. */
    public static void write(Fd fd, byte[] buf, int off, int len) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(Math.max(1, len));
            MemorySegment.copy(buf, off, seg, JAVA_BYTE, 0, len);
            long done = 0;
            while (done < len) {
                long n = LibC.tryWrite(fd.num(), seg.asSlice(done), len - done);
                if (n == -Errno.EINTR) {
                    continue;
                }
                if (n < 0) {
                    throw new SysException("write", (int) -n);
                }
                done += n;
            }
        }
    }

    /**
     * One read(2) into a heap buffer, for a non-blocking descriptor: bytes read, 0 at end of
     * file, or {@code -errno} (EAGAIN when nothing is there); EINTR is retried.
     */
    public static int tryRead(Fd fd, byte[] buf) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(buf.length);
            long n;
            while ((n = LibC.tryRead(fd.num(), seg, buf.length)) == -Errno.EINTR) {
                // interrupted: again
            }
            if (n > 0) {
                MemorySegment.copy(seg, JAVA_BYTE, 0, buf, 0, (int) n);
            }
            return (int) n;
        }
    }

    /**
     * One write(2) from a heap buffer, for a non-blocking descriptor: bytes written (maybe
     * fewer than {@code len}) or {@code -errno} (EAGAIN when the terminal's queue is full).
     */
    public static int tryWrite(Fd fd, byte[] buf, int off, int len) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(Math.max(1, len));
            MemorySegment.copy(buf, off, seg, JAVA_BYTE, 0, len);
            long n;
            while ((n = LibC.tryWrite(fd.num(), seg, len)) == -Errno.EINTR) {
                // interrupted: again
            }
            return (int) n;
        }
    }

    /** A pseudo-terminal: the master's descriptor and the slave's path. */
    public record Pty(Fd master, String slave) implements AutoCloseable {
        @Override
        public void close() {
            master.close();
        }
    }

    /**
     * A VM's serial console: the pty's master, its slave held open (so the master never reads
     * EIO while no client is attached) and the slave's path.
     */
    public record Console(Fd master, Fd slave, String path) implements AutoCloseable {
        @Override
        public void close() {
            slave.close();
            master.close();
        }
    }

    /**
     * A pty for a VM's serial console (vmd's vm_opentty): its slave belongs to {@code uid}:{@code
     * gid}, mode 0620, or 0660 when {@code gid} is not 0 so that the group's members may attach,
     * and is open in raw mode (no echo of the guest's output back into it, no line editing, no
     * CR/LF mangling). Ownership is changed only where it differs from the caller's.
     */
    public static Console openConsole(int uid, int gid) throws IOException {
        Pty pty = openPty();
        Fd slave = null;
        try {
            Path p = Path.of(pty.slave());
            if (uid != ((Integer) Files.getAttribute(p, "unix:uid"))
                    || gid != ((Integer) Files.getAttribute(p, "unix:gid"))) {
                Files.setAttribute(p, "unix:uid", uid);
                Files.setAttribute(p, "unix:gid", gid);
            }
            Files.setAttribute(p, "unix:mode", gid == 0 ? 0620 : 0660);
            slave = open(pty.slave());
            makeRaw(slave);
            return new Console(pty.master(), slave, pty.slave());
        } catch (IOException | RuntimeException e) {
            if (slave != null) {
                slave.close();
            }
            pty.close();
            throw e;
        }
    }

    /** The path of a pty master's slave (ptsname, by TIOCGPTN on the descriptor: no path is opened). */
    public static String slavePath(Fd master) throws SysException {
        MemorySegment arg = Native.scratch();
        arg.set(JAVA_INT, 0, -1);
        LibC.ioctl(master.num(), Ioctls.TIOCGPTN, arg);
        return "/dev/pts/" + arg.get(JAVA_INT, 0);
    }

    /** posix_openpt + unlockpt + ptsname: opens /dev/ptmx and unlocks its slave. */
    public static Pty openPty() throws SysException {
        Fd m = LibC.open("/dev/ptmx", LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC, 0);
        try {
            MemorySegment arg = Native.scratch();
            arg.set(JAVA_INT, 0, 0);
            LibC.ioctl(m.num(), Ioctls.TIOCSPTLCK, arg);
            LibC.ioctl(m.num(), Ioctls.TIOCGPTN, arg);
            return new Pty(m, "/dev/pts/" + arg.get(JAVA_INT, 0));
        } catch (SysException | RuntimeException e) {
            m.close();
            throw e;
        }
    }
}
