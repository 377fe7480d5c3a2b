package org.jvmd.vmctl;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.Terminal;

/**
 * vmctl console: a terminal client on the VM's pty (what vmctl gets from cu(1)). The local
 * terminal goes raw; {@code ~.} at the start of a line leaves, {@code ~~} sends one {@code ~}.
 */
final class ConsoleClient {
    private final InputStream in;
    private final PrintStream out;
    private final PrintStream err;

    ConsoleClient(InputStream in, PrintStream out, PrintStream err) {
        this.in = in;
        this.out = out;
        this.err = err;
    }

    int run(String tty) {
        Fd pty;
        try {
            pty = Terminal.open(tty);
        } catch (SysException e) {
            err.println("vmctl: " + tty + ": " + Vmctl.strerror(e.errno()));
            return 1;
        }
        byte[] saved = null;
        boolean isTty = Terminal.isTerminal(Terminal.stdin());
        try (pty) {
            try {
                // Without discarding: what is pending is the guest's output (a prompt) not yet shown.
                Terminal.makeRaw(pty, false);
            } catch (SysException e) {
                // not a terminal (tests may hand a pipe): carry on
            }
            if (isTty) {
                saved = Terminal.makeRaw(Terminal.stdin());
            }
            err.print("Connected to " + tty + " (speed 115200)\r\n");
            err.flush();
            Thread reader = Thread.ofPlatform().daemon(true).name("console-out").start(() -> copyOut(pty));
            copyIn(pty);
            reader.interrupt();
            err.print("\r\n[EOT]\r\n");
            err.flush();
            return 0;
        } catch (IOException e) {
            err.println("vmctl: console: " + e.getMessage());
            return 1;
        } finally {
            if (saved != null) {
                try {
                    Terminal.restore(Terminal.stdin(), saved);
                } catch (SysException e) {
                    // the terminal is gone
                }
            }
        }
    }

    private void copyOut(Fd pty) {
        byte[] buf = new byte[4096];
        try {
            int n;
            while ((n = Terminal.read(pty, buf)) > 0) {
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (SysException e) {
            // EIO: the VM closed its side
        }
    }

    /** Keyboard to the VM, watching for the escape at the start of a line. */
    private void copyIn(Fd pty) throws IOException {
        byte[] buf = new byte[1024];
        byte[] one = new byte[2];
        boolean lineStart = true;
        boolean tilde = false;
        int n;
        while ((n = in.read(buf)) > 0) {
            for (int i = 0; i < n; i++) {
                byte b = buf[i];
                if (tilde) {
                    tilde = false;
                    if (b == '.') {
                        return;
                    }
                    if (b != '~') {
                        one[0] = '~';
                        one[1] = b;
                        Terminal.write(pty, one, 0, 2);
                        lineStart = b == '\r' || b == '\n';
                        continue;
                    }
                } else if (lineStart && b == '~') {
                    tilde = true;
                    continue;
                }
                one[0] = b;
                Terminal.write(pty, one, 0, 1);
                lineStart = b == '\r' || b == '\n';
            }
        }
    }
}
