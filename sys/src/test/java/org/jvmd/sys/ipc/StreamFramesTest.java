package org.jvmd.sys.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.Frames;
import org.jvmd.proto.LoadRequest;
import org.jvmd.proto.Request;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;

/**
 * The control socket's frame reader over every way a stream socket may cut the bytes and
 * place the descriptors: each frame gets exactly the descriptors that rode on its bytes, in
 * order; a frame with too many is refused and none of its descriptors stays open.
 */
class StreamFramesTest {

    /** A stream of frames whose descriptors sit on given bytes, read in random pieces as recvmsg would. */
    static final class Stream implements StreamFrames.Source {
        final byte[] bytes;
        final TreeMap<Integer, List<Fd>> attached;
        final Random random;
        final List<Fd> handedOut = new ArrayList<>();
        int pos;

        Stream(byte[] bytes, TreeMap<Integer, List<Fd>> attached, long seed) {
            this.bytes = bytes;
            this.attached = attached;
            this.random = new Random(seed);
        }

        /**
         * Like unix_stream_read_generic: up to {@code len} bytes, at most one sendmsg's
         * descriptors per call (its data may follow bytes of an earlier send in the same call;
         * the call ends before the next send that carries descriptors).
         */
        @Override
        public int read(byte[] b, int off, int len, List<Fd> fds) {
            if (pos == bytes.length) {
                return -1;
            }
            int end = Math.min(bytes.length, pos + 1 + random.nextInt(len));
            Integer first = attached.ceilingKey(pos);
            if (first != null && first < end) {
                Integer second = attached.higherKey(first);
                if (second != null && second < end) {
                    end = second;
                }
                fds.addAll(attached.get(first));
                handedOut.addAll(attached.get(first));
            }
            System.arraycopy(bytes, pos, b, off, end - pos);
            int n = end - pos;
            pos = end;
            return n;
        }
    }

    private static Fd devNull() throws IOException {
        return LibC.open("/dev/null", LibC.O_RDONLY | LibC.O_CLOEXEC);
    }

    @Property(tries = 300)
    void eachFrameGetsTheDescriptorsThatRodeOnItsBytes(
            @ForAll @Size(min = 1, max = 6) List<@IntRange(min = 0, max = 300) Integer> sizes,
            @ForAll @Size(min = 6, max = 6) List<@IntRange(min = 0, max = 3) Integer> fdCounts,
            @ForAll @Size(min = 6, max = 6) List<@IntRange(min = 0, max = 10_000) Integer> placements,
            @ForAll @IntRange(min = 0, max = 4) int maxFds,
            @ForAll long seed) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<Request> sent = new ArrayList<>();
        List<List<Fd>> perFrame = new ArrayList<>();
        TreeMap<Integer, List<Fd>> attached = new TreeMap<>();
        List<Fd> all = new ArrayList<>();
        try {
            for (int i = 0; i < sizes.size(); i++) {
                // 0..300 characters: one- and two-byte length prefixes
                Request r = Request.newBuilder().setLoad(LoadRequest.newBuilder().setFile("f".repeat(sizes.get(i)))).build();
                byte[] frame = Frames.encode(r);
                List<Fd> fds = new ArrayList<>();
                for (int k = 0; k < fdCounts.get(i); k++) {
                    fds.add(devNull());
                }
                all.addAll(fds);
                if (!fds.isEmpty()) {
                    // any byte of the frame (a client sends them on its first; a forger anywhere)
                    attached.put(out.size() + placements.get(i) % frame.length, fds);
                }
                sent.add(r);
                perFrame.add(fds);
                out.write(frame);
            }
            Stream s = new Stream(out.toByteArray(), attached, seed);
            for (int i = 0; i < sent.size(); i++) {
                if (perFrame.get(i).size() > maxFds) {
                    assertThrows(FrameException.class, () -> StreamFrames.read(s, Request.parser(), Frames.MAX_FRAME, maxFds));
                    for (Fd fd : s.handedOut) {
                        if (!perFrame.stream().limit(i).anyMatch(l -> l.contains(fd))) {
                            assertFalse(fd.isOpen(), "a refused frame's descriptors are closed");
                        }
                    }
                    return;
                }
                try (Received<Request> got = StreamFrames.read(s, Request.parser(), Frames.MAX_FRAME, maxFds)) {
                    assertEquals(sent.get(i), got.message());
                    List<Fd> fds = got.takeAll();
                    assertEquals(perFrame.get(i).size(), fds.size(), "frame " + i);
                    for (int k = 0; k < fds.size(); k++) {
                        assertSame(perFrame.get(i).get(k), fds.get(k));
                        assertTrue(fds.get(k).isOpen());
                    }
                }
            }
            assertNull(StreamFrames.read(s, Request.parser(), Frames.MAX_FRAME, maxFds), "clean end after the last frame");
        } finally {
            Fd.closeAll(all);
        }
    }

    @Property(tries = 200)
    void aStreamCutInsideAFrameIsATruncatedFrameAndClosesItsDescriptors(
            @ForAll @IntRange(min = 1, max = 300) int size, @ForAll @IntRange(min = 1, max = 10_000) int cut,
            @ForAll long seed) throws IOException {
        byte[] frame = Frames.encode(Request.newBuilder().setLoad(LoadRequest.newBuilder().setFile("f".repeat(size))).build());
        byte[] part = java.util.Arrays.copyOf(frame, cut % frame.length == 0 ? 1 : cut % frame.length);
        Fd fd = devNull();
        try {
            TreeMap<Integer, List<Fd>> attached = new TreeMap<>();
            attached.put(0, List.of(fd));
            Stream s = new Stream(part, attached, seed);
            assertThrows(FrameException.class, () -> StreamFrames.read(s, Request.parser(), Frames.MAX_FRAME, 4));
            assertFalse(fd.isOpen());
        } finally {
            fd.close();
        }
    }
}
