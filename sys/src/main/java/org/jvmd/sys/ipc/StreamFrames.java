package org.jvmd.sys.ipc;

import com.google.protobuf.Parser;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.Frames;
import org.jvmd.sys.Fd;

/**
 * Frames ({@link Frames}) read from a unix stream socket together with the descriptors
 * that rode on their bytes (SCM_RIGHTS). On a stream socket the kernel attaches a
 * sendmsg's descriptors to its first byte (net/unix/af_unix.c: unix_stream_read_generic
 * hands an skb's fds over with its data and stops there). This reader never asks for a
 * byte past the end of the frame it reads (the length prefix byte by byte, then at most
 * the body's remaining bytes; {@link Frames#read} reads so), so every descriptor that
 * arrives while a frame is read rode on one of that frame's bytes: it is the frame's.
 *
 * <p>A frame may carry at most {@code maxFds} descriptors; one more and the frame is
 * refused ({@link FrameException}). Whatever the outcome, no descriptor is left open that
 * the caller does not own: a refused or truncated frame closes those that came with it.
 */
final class StreamFrames {
    private StreamFrames() {}

    /** A stream socket's receiving side: recvmsg(2), collecting the descriptors that arrive. */
    interface Source {
        /**
         * Reads between 1 and {@code len} bytes into {@code b[off..]}, adding every descriptor
         * that came with them to {@code fds} (the caller owns them from then on, also when this
         * throws after adding). Returns -1 at end of stream.
         */
        int read(byte[] b, int off, int len, List<Fd> fds) throws IOException;
    }

    /**
     * The next frame and its descriptors, in the order they arrived; {@code null} when the
     * stream ended cleanly before a frame began.
     */
    static <M> Received<M> read(Source src, Parser<M> parser, int cap, int maxFds) throws IOException {
        List<Fd> fds = new ArrayList<>();
        InputStream in = new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                int n = read(one, 0, 1);
                return n < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                int n = src.read(b, off, len, fds);
                if (fds.size() > maxFds) {
                    throw new FrameException("frame carries more than " + maxFds + " descriptors");
                }
                return n;
            }
        };
        try {
            M m = Frames.read(in, parser, cap);
            if (m == null) {
                Fd.closeAll(fds);
                return null;
            }
            return new Received<>(m, List.of(), fds.toArray(new Fd[0]));
        } catch (IOException | RuntimeException e) {
            Fd.closeAll(fds);
            throw e;
        }
    }
}
