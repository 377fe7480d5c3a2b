package org.jvmd.it.kernel;

import java.io.IOException;
import java.util.Arrays;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.LibC;
import org.jvmd.sys.NativeBuffer;
import org.jvmd.sys.SysException;
import org.jvmd.sys.net.Tap;

/**
 * Frames in and out of a tap as byte arrays: each array is the 12-byte virtio_net_hdr
 * followed by the Ethernet frame, exactly what the tap's reader sees. Test code, so it
 * copies freely.
 */
final class TapPort implements AutoCloseable {
    /** A 64 KiB GSO frame plus Ethernet, VLAN room and the vnet header. */
    static final int MAX_FRAME = 65_536 + 64;

    private final Tap tap;
    private final NativeBuffer buf = new NativeBuffer(MAX_FRAME);
    private final IoVec iov = new IoVec(1);

    TapPort(Tap tap) throws SysException {
        this.tap = tap;
        tap.setNonBlocking(true);
    }

    Tap tap() {
        return tap;
    }

    /** The next frame the kernel wrote, or null if none came within {@code timeoutMs}. */
    byte[] read(int timeoutMs) throws IOException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (true) {
            iov.clear();
            iov.add(buf, 0, MAX_FRAME);
            long n = tap.readv(iov);
            if (n >= 0) {
                byte[] out = new byte[(int) n];
                buf.get(0, out, 0, out.length);
                return out;
            }
            if (n != -11) { // EAGAIN
                throw new IOException("readv(" + tap.name() + "): errno " + -n);
            }
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                return null;
            }
            LibC.poll(tap.fd(), LibC.POLLIN, (int) Math.min(left, 100));
        }
    }

    /** Writes one frame (vnet header first); the kernel receives it as from the wire. */
    void write(byte[] hdrAndFrame) throws IOException {
        if (hdrAndFrame.length > MAX_FRAME) {
            throw new IllegalArgumentException("frame of " + hdrAndFrame.length + " bytes");
        }
        buf.put(0, hdrAndFrame, 0, hdrAndFrame.length);
        iov.clear();
        iov.add(buf, 0, hdrAndFrame.length);
        long n = tap.writev(iov);
        if (n != hdrAndFrame.length) {
            throw new IOException("writev(" + tap.name() + ") of " + hdrAndFrame.length + " bytes: "
                + (n < 0 ? "errno " + -n : n + " written") + " " + Arrays.toString(Arrays.copyOf(hdrAndFrame, 12)));
        }
    }

    @Override
    public void close() {
        tap.close();
    }
}
