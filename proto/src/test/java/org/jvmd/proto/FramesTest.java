package org.jvmd.proto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class FramesTest {
    private static ToVionet sample() {
        return ToVionet.newBuilder()
                .setQueueReady(QueueReady.newBuilder().setQueue(1).setSize(256).setDesc(0x1000).setDriver(0x2000)
                        .setDevice(0x3000))
                .addFds(FdSlot.newBuilder().setRole(FdRole.FD_KICK).setIndex(1))
                .build();
    }

    @Test
    void roundTripsOnePacket() throws Exception {
        byte[] f = Frames.encode(sample());
        assertEquals(sample(), Frames.decode(f, f.length, ToVionet.parser()));
    }

    @Test
    void roundTripsAStreamAndEndsCleanly() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Frames.write(out, sample());
        Frames.write(out, Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
        ByteArrayInputStream in = new ByteArrayInputStream(out.toByteArray());
        assertEquals(sample(), Frames.read(in, ToVionet.parser()));
        assertTrue(Frames.read(in, Request.parser()).hasStatus());
        assertNull(Frames.read(in, Request.parser()));
    }

    @Test
    void rejectsTruncatedPacket() throws Exception {
        byte[] f = Frames.encode(sample());
        FrameException e = assertThrows(FrameException.class, () -> Frames.decode(f, f.length - 3, ToVionet.parser()));
        assertTrue(e.getMessage().startsWith("frame truncated"), e.getMessage());
    }

    @Test
    void rejectsTrailingGarbage() throws Exception {
        byte[] f = Arrays.copyOf(Frames.encode(sample()), Frames.encode(sample()).length + 2);
        FrameException e = assertThrows(FrameException.class, () -> Frames.decode(f, f.length, ToVionet.parser()));
        assertTrue(e.getMessage().contains("after the message"), e.getMessage());
    }

    @Test
    void rejectsOversizedDeclaration() {
        byte[] f = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x7f, 1, 2, 3};
        FrameException e = assertThrows(FrameException.class, () -> Frames.decode(f, f.length, ToVionet.parser()));
        assertTrue(e.getMessage().startsWith("frame too large"), e.getMessage());
        assertThrows(FrameException.class, () -> Frames.read(new ByteArrayInputStream(f), ToVionet.parser()));
    }

    @Test
    void refusesToEncodeOverTheCap() {
        FrameException e = assertThrows(FrameException.class, () -> Frames.encode(sample(), 4));
        assertTrue(e.getMessage().startsWith("frame too large"), e.getMessage());
    }

    @Test
    void rejectsUnknownFieldsAsGarbage() throws Exception {
        // field 14 (unknown to ToVionet), varint 1
        byte[] f = {2, (14 << 3), 1};
        FrameException e = assertThrows(FrameException.class, () -> Frames.decode(f, f.length, ToVionet.parser()));
        assertTrue(e.getMessage().contains("unknown fields"), e.getMessage());
    }

    @Test
    void rejectsStreamTruncatedInsideBody() throws Exception {
        byte[] f = Frames.encode(sample());
        ByteArrayInputStream in = new ByteArrayInputStream(Arrays.copyOf(f, f.length - 1));
        assertThrows(FrameException.class, () -> Frames.read(in, ToVionet.parser()));
    }

    @Test
    void fdDescriptionMustMatchAttachment() throws Exception {
        Frames.checkFds(sample().getFdsList(), 1);
        assertThrows(FrameException.class, () -> Frames.checkFds(sample().getFdsList(), 0));
        assertThrows(FrameException.class, () -> Frames.checkFds(List.of(FdSlot.getDefaultInstance()), 1));
    }

    @Property(tries = 2000)
    void arbitraryBytesDecodeOrFailCleanly(@ForAll @Size(max = 64) byte[] junk) {
        try {
            Frames.decode(junk, junk.length, ToVionet.parser());
            Frames.read(new ByteArrayInputStream(junk), FromVmm.parser());
        } catch (FrameException expected) {
            // the only allowed failure
        } catch (Exception other) {
            throw new AssertionError("unexpected " + other, other);
        }
    }

    @Property(tries = 300)
    void encodedFramesSurviveTheStream(@ForAll @Size(max = 32) List<@Size(max = 40) String> names) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String n : names) {
            Frames.write(out, Request.newBuilder().setStart(StartRequest.newBuilder().setVm(VmSelector.newBuilder().setName(n))).build());
        }
        ByteArrayInputStream in = new ByteArrayInputStream(out.toByteArray());
        for (String n : names) {
            assertEquals(n, Frames.read(in, Request.parser()).getStart().getVm().getName());
        }
        assertNull(Frames.read(in, Request.parser()));
        byte[] one = Frames.encode(Request.newBuilder().setStart(StartRequest.newBuilder().setVm(VmSelector.newBuilder().setName("x"))).build());
        assertArrayEquals(one, Frames.encode(Frames.decode(one, one.length, Request.parser())));
    }

    /** A stream that hands out at most {@code chunk} bytes a read and remembers the largest buffer it saw. */
    private static final class Trickle extends java.io.InputStream {
        final byte[] data;
        final int chunk;
        int pos;
        int largestBuffer;

        Trickle(byte[] data, int chunk) {
            this.data = data;
            this.chunk = chunk;
        }

        @Override
        public int read() {
            return pos < data.length ? data[pos++] & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            largestBuffer = Math.max(largestBuffer, b.length);
            if (pos >= data.length) {
                return -1;
            }
            int n = Math.min(Math.min(len, chunk), data.length - pos);
            System.arraycopy(data, pos, b, off, n);
            pos += n;
            return n;
        }
    }

    @Test
    void aDeclaredButUnsentBodyIsNotAllocatedUpFront() {
        // The control socket attack of issue 11: a 1 MiB length prefix, ten bytes, then nothing.
        byte[] partial = {(byte) 0x80, (byte) 0x80, 0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        Trickle in = new Trickle(partial, 3);
        assertThrows(FrameException.class, () -> Frames.read(in, Request.parser()));
        assertTrue(in.largestBuffer <= Frames.FIRST_CHUNK, "read into a buffer of " + in.largestBuffer + " bytes");
    }

    @Property(tries = 200)
    void framesOfAnySizeSurviveAStreamThatTricklesAndTheBufferStaysWithinTwiceWhatArrived(
            @ForAll @Size(max = 3) List<@Size(max = 20_000) String> names,
            @ForAll @net.jqwik.api.constraints.IntRange(min = 1, max = 5000) int chunk) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int largestFrame = 0;
        for (String n : names) {
            Request r = Request.newBuilder().setStart(StartRequest.newBuilder().setVm(VmSelector.newBuilder().setName(n))).build();
            largestFrame = Math.max(largestFrame, r.getSerializedSize());
            Frames.write(out, r);
        }
        Trickle in = new Trickle(out.toByteArray(), chunk);
        for (String n : names) {
            assertEquals(n, Frames.read(in, Request.parser()).getStart().getVm().getName());
        }
        assertNull(Frames.read(in, Request.parser()));
        assertTrue(in.largestBuffer <= Math.max(Frames.FIRST_CHUNK, 2 * largestFrame), in.largestBuffer + " bytes");
    }
}
