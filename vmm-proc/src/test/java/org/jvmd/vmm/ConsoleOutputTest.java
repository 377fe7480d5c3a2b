package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The console's buffering: whole lines at once, a partial line (a prompt, one echoed key) soon after. */
class ConsoleOutputTest {
    private static final class Sink extends ByteArrayOutputStream {
        synchronized String text() {
            return toString(StandardCharsets.US_ASCII);
        }
    }

    private static void type(ConsoleOutput c, String s) {
        for (byte b : s.getBytes(StandardCharsets.US_ASCII)) {
            c.write(b & 0xff);
        }
    }

    @Test
    void aWholeLineReachesEverySinkWhenItsNewlineIsWritten() {
        ConsoleOutput c = new ConsoleOutput();
        Sink a = new Sink();
        Sink b = new Sink();
        c.addSink(a);
        c.addSink(b);
        type(c, "login: ok\n");
        assertEquals("login: ok\n", a.text());
        assertEquals("login: ok\n", b.text());
        assertEquals(10, c.bytes());
    }

    @Test
    void aPartialLineReachesTheSinkWithoutANewlineOrAFlushHint() throws InterruptedException {
        ConsoleOutput c = new ConsoleOutput();
        Sink a = new Sink();
        c.addSink(a);
        type(c, "# ");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (a.text().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals("# ", a.text());
        type(c, "x");
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (a.text().length() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals("# x", a.text(), "a second partial write is flushed too");
    }

    @Test
    void aFailingSinkIsDroppedAndTheOthersKeepTheirOutput() {
        ConsoleOutput c = new ConsoleOutput();
        Sink ok = new Sink();
        c.addSink(new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("gone");
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                throw new IOException("gone");
            }
        });
        c.addSink(ok);
        type(c, "one\ntwo\n");
        assertEquals("one\ntwo\n", ok.text());
    }
}
