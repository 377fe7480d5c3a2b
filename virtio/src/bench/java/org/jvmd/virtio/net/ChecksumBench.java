package org.jvmd.virtio.net;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * RFC 1071 sum over 64 KiB (and a 1500-byte frame). GB/s = ops/s * size / 1e9. The offset
 * parameter checks that an unaligned start costs nothing extra.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class ChecksumBench {
    @Param({"65536", "1500"})
    int size;

    @Param({"0", "1"})
    int offset;

    byte[] data;

    @Setup
    public void setup() {
        data = new byte[size + 8];
        new Random(1).nextBytes(data);
    }

    @Benchmark
    public int sum() {
        return InetChecksum.sum(data, offset, size, 0);
    }
}
