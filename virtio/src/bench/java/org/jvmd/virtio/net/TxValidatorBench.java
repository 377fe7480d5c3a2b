package org.jvmd.virtio.net;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** The per-packet TX cost that every frame pays: decode the header and judge it. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TxValidatorBench {
    final VirtioNetHdr hdr = new VirtioNetHdr();
    final byte[] raw = new byte[VirtioNetHdr.SIZE];
    TxValidator validator;

    @Setup
    public void setup() {
        long features = VirtioNetFeatures.bit(VirtioNetFeatures.CSUM) | VirtioNetFeatures.bit(VirtioNetFeatures.HOST_TSO4)
            | VirtioNetFeatures.bit(VirtioNetFeatures.HOST_TSO6);
        validator = new TxValidator(features, TapOffloads.fromTunFlags(TunFlags.ALL));
        BenchFrames.tso4Header(1448).write(raw, 0, VirtioNetHdr.SIZE);
    }

    @Benchmark
    public TxVerdict decodeAndCheckTsoHeader() {
        return validator.check(hdr.read(raw, 0, VirtioNetHdr.SIZE), 65536);
    }
}
