package org.jvmd.virtio.bench;

import java.util.concurrent.TimeUnit;
import org.jvmd.virtio.DescriptorChain;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.HeapGuestMemory;
import org.jvmd.virtio.QueueCounters;
import org.jvmd.virtio.SplitQueue;
import org.jvmd.virtio.Virtq;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Virtqueue pop/push pairs per second: the driver adds a TX-shaped chain (12-byte
 * virtio_net_hdr + 1514-byte frame, both device-readable), the device pops it, pushes it
 * back, publishes and asks whether to interrupt, and the driver reaps it. Both sides on one
 * thread, so this measures the ring work and its fences, not cross-core cache traffic.
 * Expect ~0 B/op with {@code -prof gc}: nothing on this path allocates.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class VirtqueueBench {
    static final int BATCH = 32;

    @Param({"256"})
    int queueSize;

    @Param({"false", "true"})
    boolean eventIdx;

    @Param({"false", "true"})
    boolean indirect;

    private DriverQueue driver;
    private SplitQueue device;
    private DescriptorChain chain;
    private long header;
    private long frame;

    @Setup
    public void setUp() throws GuestFault {
        HeapGuestMemory memory = new HeapGuestMemory(16 << 20);
        GuestAllocator alloc = new GuestAllocator(memory, 0x1000, memory.size());
        long features = (eventIdx ? 1L << Virtq.F_EVENT_IDX : 0) | (indirect ? 1L << Virtq.F_INDIRECT_DESC : 0);
        driver = DriverQueue.create(memory, alloc, queueSize, features, 4);
        device = new SplitQueue(memory, queueSize, new QueueCounters());
        device.activate(driver.layout(), features);
        chain = device.newChain();
        header = alloc.allocate(12, 16);
        frame = alloc.allocate(1514, 64);
    }

    /** One chain through the ring and back. */
    @Benchmark
    public int popPushPair(Blackhole bh) throws GuestFault {
        driver.readable(header, 12).readable(frame, 1514).add();
        bh.consume(driver.kick());
        device.pop(chain);
        device.push(chain.head(), 0);
        device.publish();
        bh.consume(device.needsInterrupt());
        return driver.reap();
    }

    /** {@value #BATCH} chains added, then served in one device pass, then reaped: per chain. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int popPushBatch(Blackhole bh) throws GuestFault {
        for (int i = 0; i < BATCH; i++) {
            driver.readable(header, 12).readable(frame, 1514).add();
        }
        bh.consume(driver.kick());
        device.disableNotifications();
        while (device.pop(chain)) {
            device.push(chain.head(), 0);
        }
        device.publish();
        bh.consume(device.needsInterrupt());
        bh.consume(device.enableNotifications());
        int reaped = 0;
        while (driver.reap() != DriverQueue.NONE) {
            reaped++;
        }
        return reaped;
    }
}
