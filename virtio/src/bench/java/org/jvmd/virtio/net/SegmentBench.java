package org.jvmd.virtio.net;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Software TSO of a 64 KiB TCPv4 super-frame into MSS-1448 segments, with a 12-byte
 * headroom per segment for the virtio_net_hdr. Throughput is in segments per second
 * (46 segments per frame); the frame rate is that divided by 46.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class SegmentBench {
    static final int FRAME = 65536;
    static final int MSS = 1448;
    static final int SEGMENTS = 46; // ceil((65536 - 66) / 1448)

    final Segmenter segmenter = new Segmenter();
    final int[] segOff = new int[64];
    final int[] segLen = new int[64];
    byte[] frame;
    byte[] out;
    VirtioNetHdr hdr;

    @Setup
    public void setup() {
        frame = BenchFrames.tcp4SuperFrame(FRAME);
        hdr = BenchFrames.tso4Header(MSS);
        out = new byte[FRAME + SEGMENTS * (12 + BenchFrames.TCP4_HEADERS)];
        int n = segmenter.segment(hdr, frame, 0, FRAME, out, 0, 12, segOff, segLen);
        if (n != SEGMENTS) {
            throw new IllegalStateException("segments " + n + " " + segmenter.dropReason());
        }
    }

    @Benchmark
    @OperationsPerInvocation(SEGMENTS)
    public int segmentTso64KiB() {
        return segmenter.segment(hdr, frame, 0, FRAME, out, 0, 12, segOff, segLen);
    }
}
