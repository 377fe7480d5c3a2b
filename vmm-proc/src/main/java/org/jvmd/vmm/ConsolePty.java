package org.jvmd.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.Terminal;
import org.jvmd.vmm.devices.Uart8250;

/**
 * The serial console's pseudo-terminal, what {@code vmctl console} opens. vmd opens it
 * (vm_opentty, {@link Terminal#openConsole}: the slave belongs to the VM's owner, raw, held open
 * by vmd) and passes the master (FD_CONSOLE), keeping it across the guest's reboots, so that a
 * client stays attached while the VM restarts in a new process; a vmm-proc given none (started
 * by hand, or by a test) opens its own, alike, before its privilege drop.
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
    /** The slave, held open here when this process opened the pty (vmd holds it otherwise). */
    private final Fd slave;
    private final String path;
    private final AtomicLong dropped = new AtomicLong();
    private volatile boolean closed;
    private Thread input;

    private ConsolePty(Fd master, Fd slave, String path) throws SysException {
        this.master = master;
        this.slave = slave;
        this.path = path;
        LibC.setNonBlocking(master, true);
    }

    /** Opens a pty whose slave {@code uid}:{@code gid} own (changed only when it differs from ours). */
    static ConsolePty open(int uid, int gid) throws IOException {
        Terminal.Console c = Terminal.openConsole(uid, gid);
        try {
            return new ConsolePty(c.master(), c.slave(), c.path());
        } catch (SysException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** The pty vmd opened for the VM: its master, which this object owns from here on. */
    static ConsolePty adopt(Fd master) throws SysException {
        try {
            return new ConsolePty(master, null, Terminal.slavePath(master));
        } catch (SysException | RuntimeException e) {
            master.close();
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
                    // EIO cannot happen while the slave is held (here or by vmd); anything else ends input.
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
        if (slave != null) {
            slave.close();
        }
        master.close();
    }
}
