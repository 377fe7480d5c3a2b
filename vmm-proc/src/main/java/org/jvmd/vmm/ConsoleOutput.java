package org.jvmd.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jvmd.vmm.devices.Uart8250;

/**
 * Where the serial console's bytes go: any number of sinks (the console log, stdout for
 * the dev entry, later the pty). Bytes are buffered and written at each newline, when the
 * buffer fills, or when the UART hints that the guest paused output. A sink that fails is
 * dropped (the guest never waits for a console).
 */
final class ConsoleOutput implements Uart8250.Output {
    private static final System.Logger LOG = System.getLogger("org.jvmd.vmm");

    private final List<OutputStream> sinks = new CopyOnWriteArrayList<>();
    private final byte[] buf = new byte[4096];
    private int len;
    private long bytes;

    void addSink(OutputStream s) {
        sinks.add(s);
    }

    @Override
    public synchronized void write(int b) {
        buf[len++] = (byte) b;
        bytes++;
        if (b == '\n' || len == buf.length) {
            drain();
        }
    }

    @Override
    public synchronized void flush() {
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
