package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.jvmd.sys.LibC;
import org.jvmd.sys.Fd;
import org.jvmd.sys.Terminal;
import org.junit.jupiter.api.Test;

/** vmctl console's client on a real pty whose master plays the VM's serial port. */
class ConsoleClientTest {
    /** Everything the master can read within {@code ms} until {@code until} shows up. */
    static String readMaster(Terminal.Pty pty, String until, long ms) throws Exception {
        StringBuilder got = new StringBuilder();
        byte[] buf = new byte[256];
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (System.nanoTime() < end && !got.toString().contains(until)) {
            if ((LibC.poll(pty.master(), LibC.POLLIN, 50) & LibC.POLLIN) != 0) {
                int n = Terminal.read(pty.master(), buf);
                got.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
            }
        }
        return got.toString();
    }

    @Test
    void keystrokesReachTheVmAndTildeDotLeaves() throws Exception {
        try (Terminal.Pty pty = Terminal.openPty()) {
            byte[] keys = "ls\r~~x\r~.after".getBytes(StandardCharsets.US_ASCII);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = new ConsoleClient(new ByteArrayInputStream(keys), new PrintStream(out, true),
                    new PrintStream(err, true)).run(pty.slave());
            assertEquals(0, status);
            String toVm = readMaster(pty, "~x\r", 2000);
            assertEquals("ls\r~x\r", toVm, "~~ sends one ~, ~. is not sent, nothing after it");
            String e = err.toString(StandardCharsets.UTF_8);
            assertTrue(e.startsWith("Connected to " + pty.slave() + " (speed 115200)"), e);
            assertTrue(e.endsWith("[EOT]\r\n"), e);
        }
    }

    @Test
    void theVmsOutputIsShown() throws Exception {
        try (Terminal.Pty pty = Terminal.openPty()) {
            java.io.PipedOutputStream keys = new java.io.PipedOutputStream();
            java.io.PipedInputStream in = new java.io.PipedInputStream(keys);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            // The guest's prompt is already waiting when the client attaches (vmm-proc keeps the
            // slave raw and open): the client must show it, not discard it.
            Fd held = Terminal.open(pty.slave());
            Terminal.makeRaw(held);
            byte[] hello = "login: ".getBytes(StandardCharsets.US_ASCII);
            Terminal.write(pty.master(), hello, 0, hello.length);
            Thread client = Thread.ofPlatform().start(() -> new ConsoleClient(in, new PrintStream(out, true),
                    new PrintStream(new ByteArrayOutputStream(), true)).run(pty.slave()));
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!out.toString(StandardCharsets.US_ASCII).contains("login: ") && System.nanoTime() < end) {
                Thread.sleep(20);
            }
            assertEquals("login: ", out.toString(StandardCharsets.US_ASCII));
            keys.write("\r~.".getBytes(StandardCharsets.US_ASCII));
            keys.flush();
            client.join(5000);
            assertTrue(!client.isAlive(), "~. after a newline ends the console");
            held.close();
        }
    }
}
