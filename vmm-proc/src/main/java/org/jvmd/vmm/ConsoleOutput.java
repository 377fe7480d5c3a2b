package org.jvmd.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jvmd.vmm.devices.Uart8250;

/**
 * Where the serial console's bytes go: any number of sinks (the console log, stdout for
 * the dev entry, the pty). Bytes are buffered and written at each newline, when the buffer
 * fills, when the UART hints that the guest paused output, or {@link #IDLE_FLUSH_MS} after
 * the first byte of a partial line (a prompt, the echo of one keystroke), whichever comes
 * first. A sink that fails is dropped (the guest never waits for a console).
 */
final class ConsoleOutput implements Uart8250.Output {
    private static final System.Logger LOG = System.getLogger("org.jvmd.vmm");

    /** A partial line reaches the sinks this long after its first byte at the latest. */
    static final long IDLE_FLUSH_MS = 15;
    /** One timer thread for every console of this JVM (a vmm-proc has one). */
    private static final ScheduledExecutorService FLUSHER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "console-flush");
        t.setDaemon(true);
        return t;
    });

    private final List<OutputStream> sinks = new CopyOnWriteArrayList<>();
    private final byte[] buf = new byte[4096];
    private int len;
    private long bytes;
    private boolean flushScheduled;

    void addSink(OutputStream s) {
        sinks.add(s);
    }

    @Override
    public synchronized void write(int b) {
        buf[len++] = (byte) b;
        bytes++;
        if (b == '\n' || len == buf.length) {
            drain();
        } else if (!flushScheduled) {
            flushScheduled = true;
            FLUSHER.schedule(this::flush, IDLE_FLUSH_MS, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public synchronized void flush() {
        flushScheduled = false;
        drain();
    }

    synchronized long bytes() {
        return bytes;
    }

    private void drain() {
        if (len == 0) {
            return;
        }
        for (OutputStream s : sinks) {
            try {
                s.write(buf, 0, len);
                s.flush();
            } catch (IOException e) {
                sinks.remove(s);
                LOG.log(System.Logger.Level.WARNING, "console sink dropped: " + e.getMessage());
            }
        }
        len = 0;
    }
}
