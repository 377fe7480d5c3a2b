package org.jvmd.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.Terminal;
import org.jvmd.vmm.devices.Uart8250;

/**
 * The serial console's pseudo-terminal, what {@code vmctl console} opens (vmd's
 * vm_opentty). Opened before the privilege drop: the slave belongs to the VM's owner
 * ({@code console_uid}, {@code console_gid}), mode 0620, or 0660 when the owner is a group
 * too, so members of the owner group may attach. The slave is put in raw mode (no echo of
 * the guest's output back into the guest, no line editing, no CR/LF mangling) and held open
 * for the VM's lifetime, so the master never reads EIO between clients.
 *
 * <p>Output never blocks the guest: the master is non-blocking and bytes that find the
 * pty's queue full (nobody attached for a while) are dropped and counted; the console log
 * still has them. Input is read by one thread and fed to the UART, waiting for room in its
 * receive buffer (flow control towards the client, through the pty's own queue).
 */
final class ConsolePty implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("org.jvmd.vmm");
    /** How often the input thread looks at the closed flag while no input comes. */
    private static final int POLL_MS = 200;

    private final Fd master;
    private final Fd slave;
    private final String path;
    private final AtomicLong dropped = new AtomicLong();
    private volatile boolean closed;
    private Thread input;

    private ConsolePty(Fd master, Fd slave, String path) {
        this.master = master;
        this.slave = slave;
        this.path = path;
    }

    /** Opens a pty whose slave {@code uid}:{@code gid} own (changed only when it differs from ours). */
    static ConsolePty open(int uid, int gid) throws IOException {
        Terminal.Pty pty = Terminal.openPty();
        Fd slave = null;
        try {
            Path p = Path.of(pty.slave());
            if (uid != ((Integer) Files.getAttribute(p, "unix:uid")) || gid != ((Integer) Files.getAttribute(p, "unix:gid"))) {
                Files.setAttribute(p, "unix:uid", uid);
                Files.setAttribute(p, "unix:gid", gid);
            }
            Files.setAttribute(p, "unix:mode", gid == 0 ? 0620 : 0660);
            slave = Terminal.open(pty.slave());
            Terminal.makeRaw(slave);
            LibC.setNonBlocking(pty.master(), true);
            return new ConsolePty(pty.master(), slave, pty.slave());
        } catch (IOException | RuntimeException e) {
            if (slave != null) {
                slave.close();
            }
            pty.close();
            throw e;
        }
    }

    /** The slave's path, e.g. {@code /dev/pts/3}: VmStarted.tty. */
    String path() {
        return path;
    }

    /** Bytes of guest output dropped because the pty's queue was full. */
    long dropped() {
        return dropped.get();
    }

    /** The console sink: writes what fits, never blocks, drops the rest. */
    OutputStream sink() {
        return new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                while (len > 0 && !closed) {
                    int n = Terminal.tryWrite(master, b, off, len);
                    if (n <= 0) {
                        if (dropped.getAndAdd(len) == 0) {
                            LOG.log(System.Logger.Level.INFO, path + ": console output dropped while nobody reads ("
                                    + (n == 0 ? "short write" : Errno.describe(-n)) + ")");
                        }
                        return;
                    }
                    off += n;
                    len -= n;
                }
            }
        };
    }

    /** Starts the thread that feeds what clients type to {@code uart}. */
    synchronized void startInput(Uart8250 uart, String threadName) {
        if (input != null) {
            throw new IllegalStateException("input already started");
        }
        input = Thread.ofPlatform().daemon().name(threadName).start(() -> pump(uart));
    }

    private void pump(Uart8250 uart) {
        byte[] buf = new byte[256];
        try {
            while (!closed) {
                short ev = LibC.poll(master, LibC.POLLIN, POLL_MS);
                if (ev == 0 || closed) {
                    continue;
                }
                int n = Terminal.tryRead(master, buf);
                if (n == -Errno.EAGAIN) {
                    continue;
                }
                if (n <= 0) {
                    // EIO cannot happen while we hold the slave; anything else ends console input.
                    LOG.log(System.Logger.Level.WARNING, path + ": console input ended: "
                            + (n == 0 ? "end of file" : Errno.describe(-n)));
                    return;
                }
                int off = 0;
                while (off < n && !closed) {
                    off += uart.receive(buf, off, n - off);
                    if (off < n) {
                        uart.awaitRxSpace(POLL_MS, TimeUnit.MILLISECONDS);
                    }
                }
            }
        } catch (SysException e) {
            if (!closed) {
                LOG.log(System.Logger.Level.WARNING, path + ": console input ended: " + e.getMessage());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        Thread t;
        synchronized (this) {
            t = input;
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(2L * POLL_MS + 1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        slave.close();
        master.close();
    }
}
