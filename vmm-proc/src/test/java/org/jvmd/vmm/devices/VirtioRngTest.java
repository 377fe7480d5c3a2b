package org.jvmd.vmm.devices;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.jvmd.virtio.GuestFault;
import org.jvmd.vmm.bus.Bus;
import org.jvmd.vmm.pci.PciBarMapper;
import org.jvmd.vmm.pci.PciHost;
import org.jvmd.vmm.pci.QueueConfig;
import org.jvmd.vmm.pci.VirtioPciDriver;
import org.jvmd.vmm.pci.VirtioPciTransport;
import org.junit.jupiter.api.Test;

class VirtioRngTest {
    record Segment(long address, long length, boolean writable) {}

    /** A queue fed with chains by the test; records what the device completes. */
    static final class FakeQueue implements DeviceQueue {
        static final class FakeChain implements Chain {
            int head;
            List<Segment> segs = List.of();

            @Override
            public int head() {
                return head;
            }

            @Override
            public int segments() {
                return segs.size();
            }

            @Override
            public long address(int s) {
                return segs.get(s).address;
            }

            @Override
            public long length(int s) {
                return segs.get(s).length;
            }

            @Override
            public boolean isWritable(int s) {
                return segs.get(s).writable;
            }
        }

        final Deque<List<Segment>> avail = new ArrayDeque<>();
        final List<int[]> used = new ArrayList<>();
        final int size;
        int nextHead;
        int published;
        boolean wantInterrupt = true;
        int outstanding;

        FakeQueue(int size) {
            this.size = size;
        }

        @Override
        public Chain newChain() {
            return new FakeChain();
        }

        @Override
        public boolean pop(Chain chain) {
            List<Segment> c = avail.poll();
            if (c == null) {
                return false;
            }
            FakeChain fc = (FakeChain) chain;
            fc.head = nextHead++;
            fc.segs = c;
            outstanding++;
            return true;
        }

        @Override
        public void push(int head, int len) {
            outstanding--;
            used.add(new int[] {head, len});
        }

        @Override
        public void publish() {
            published = used.size();
        }

        @Override
        public boolean needsInterrupt() {
            return wantInterrupt;
        }

        @Override
        public int size() {
            return size;
        }
    }

    /** A deterministic "entropy" source: 1, 2, 3, ... so tests can check what landed where. */
    static final class CountingSource implements VirtioRng.EntropySource {
        int next = 1;

        @Override
        public void nextBytes(byte[] buf) {
            for (int i = 0; i < buf.length; i++) {
                buf[i] = (byte) next++;
            }
        }
    }

    final ArrayGuestMemory mem = new ArrayGuestMemory(1 << 20);
    final FakeQueue queue = new FakeQueue(8);
    final List<QueueConfig> opened = new ArrayList<>();
    final VirtioRng rng = new VirtioRng(mem, new CountingSource(), (cfg, features) -> {
        opened.add(cfg);
        return queue;
    }, 0);
    final RecordingInterrupts irq = new RecordingInterrupts();
    int signals;

    void activate() throws GuestFault {
        rng.activate(VirtioRng.F_VERSION_1, List.of(new QueueConfig(0, 8, 0x1000, 0x2000, 0x3000, 1, 0)),
                new org.jvmd.vmm.pci.VirtioInterrupt() {
                    @Override
                    public void signalQueue(int q) {
                        signals++;
                    }

                    @Override
                    public void signalConfig() {}
                });
    }

    @Test
    void rngIsEntropyDeviceFourWithOneQueueAndNoConfig() {
        assertEquals(4, rng.deviceType());
        assertEquals(1, rng.queueCount());
        assertEquals(0, rng.configSize());
        assertEquals(VirtioRng.F_VERSION_1, rng.deviceFeatures());
    }

    @Test
    void rngFillsWritableDescriptorsAndCompletesUsedEntries() throws Exception {
        activate();
        queue.avail.add(List.of(new Segment(0x10000, 16, true), new Segment(0x20000, 32, true)));
        rng.queueNotify(0);
        assertEquals(1, queue.used.size());
        assertArrayEquals(new int[] {0, 48}, queue.used.get(0));
        assertEquals(1, queue.published);
        assertEquals(1, signals);
        assertEquals(1, mem.bytes[0x10000]);
        assertEquals(16, mem.bytes[0x1000f]);
        assertEquals(0, mem.bytes[0x10010], "nothing beyond the segment");
        assertTrue(mem.bytes[0x2001f] != 0);
        assertEquals(48, rng.bytesServed());
    }

    @Test
    void rngSkipsDeviceReadableSegments() throws Exception {
        activate();
        Arrays.fill(mem.bytes, 0x30000, 0x30008, (byte) 0x77);
        queue.avail.add(List.of(new Segment(0x30000, 8, false), new Segment(0x31000, 8, true)));
        rng.queueNotify(0);
        assertArrayEquals(new int[] {0, 8}, queue.used.get(0));
        assertEquals(0x77, mem.bytes[0x30007], "a readable buffer is left alone");
    }

    @Test
    void rngCapsTheBytesOfOneRequest() throws Exception {
        activate();
        queue.avail.add(List.of(new Segment(0x40000, 0x80000, true)));
        rng.queueNotify(0);
        assertEquals(VirtioRng.MAX_BYTES_PER_REQUEST, queue.used.get(0)[1]);
    }

    @Test
    void rngCompletesAFaultingChainEmptyAndServesTheNext() throws Exception {
        activate();
        queue.avail.add(List.of(new Segment(mem.size() - 4, 64, true)));
        queue.avail.add(List.of(new Segment(0x1000, 4, true)));
        rng.queueNotify(0);
        assertEquals(2, queue.used.size());
        assertArrayEquals(new int[] {0, 0}, queue.used.get(0));
        assertArrayEquals(new int[] {1, 4}, queue.used.get(1));
        assertEquals(1, rng.faults());
    }

    @Test
    void rngServesAtMostOneQueueOfChainsPerKick() throws Exception {
        activate();
        for (int i = 0; i < 20; i++) {
            queue.avail.add(List.of(new Segment(0x1000 + 16 * i, 16, true)));
        }
        rng.queueNotify(0);
        assertEquals(8, queue.used.size());
        rng.queueNotify(0);
        assertEquals(16, queue.used.size());
    }

    @Test
    void rngDoesNotInterruptWhenTheDriverSuppressesIt() throws Exception {
        activate();
        queue.wantInterrupt = false;
        queue.avail.add(List.of(new Segment(0x1000, 4, true)));
        rng.queueNotify(0);
        assertEquals(1, queue.used.size());
        assertEquals(0, signals);
    }

    @Test
    void rngServesBuffersPostedBeforeDriverOk() throws Exception {
        queue.avail.add(List.of(new Segment(0x1000, 4, true)));
        activate();
        assertEquals(1, queue.used.size());
    }

    @Test
    void rngResetForgetsTheQueue() throws Exception {
        activate();
        rng.reset();
        queue.avail.add(List.of(new Segment(0x1000, 4, true)));
        rng.queueNotify(0);
        assertTrue(queue.used.isEmpty());
    }

    @Test
    void rngRaisesTheQueueVectorThroughTheTransport() {
        VirtioPciTransport t = new VirtioPciTransport(rng, irq);
        PciHost host = new PciHost(0xc000_0000L, 0x100_0000L, () -> {});
        Bus mmio = new Bus("mmio");
        t.addBarListener(new PciBarMapper(mmio));
        host.attach(t);
        VirtioPciDriver drv = new VirtioPciDriver(t, mmio).probe();
        drv.enableMsix(2);
        assertTrue(drv.negotiate(VirtioRng.F_VERSION_1));
        drv.setupQueue(0, 8, 0x1000, 0x2000, 0x3000, 1);
        drv.setStatus(drv.status() | VirtioPciTransport.STATUS_DRIVER_OK);
        assertEquals(1, opened.size());
        assertEquals(8, opened.get(0).size());
        queue.avail.add(List.of(new Segment(0x50000, 32, true)));
        drv.kick(0);
        assertEquals(List.of(new RecordingInterrupts.Msi(VirtioPciDriver.MSI_ADDRESS, 0x41)), irq.msis);
        assertArrayEquals(new int[] {0, 32}, queue.used.get(0));
    }

    // ---- properties ----

    @Provide
    Arbitrary<Segment> segments() {
        return Combinators.combine(
                        Arbitraries.oneOf(
                                Arbitraries.longs().between(0, (1 << 20) - 1),
                                Arbitraries.longs(),
                                Arbitraries.just((long) (1 << 20) - 8)),
                        Arbitraries.oneOf(Arbitraries.longs().between(0, 4096), Arbitraries.longs().between(0, 0xffff_ffffL)),
                        Arbitraries.of(true, false))
                .as(Segment::new);
    }

    @Property(tries = 200)
    void arbitraryChainsAreEachCompletedOnceWithinTheirWritableLength(
            @ForAll @Size(max = 12) List<@Size(max = 4) List<@From("segments") Segment>> chains) throws Exception {
        ArrayGuestMemory m = new ArrayGuestMemory(1 << 20);
        FakeQueue q = new FakeQueue(16);
        VirtioRng r = new VirtioRng(m, new CountingSource(), (c, f) -> q, 0);
        r.activate(VirtioRng.F_VERSION_1, List.of(new QueueConfig(0, 16, 0, 0, 0, 0, 0)),
                new org.jvmd.vmm.pci.VirtioInterrupt() {
                    @Override
                    public void signalQueue(int queue) {}

                    @Override
                    public void signalConfig() {}
                });
        q.avail.addAll(chains);
        r.queueNotify(0);
        assertEquals(chains.size(), q.used.size());
        assertEquals(0, q.outstanding, "every popped chain went back");
        for (int i = 0; i < chains.size(); i++) {
            long writable = chains.get(i).stream().filter(Segment::writable).mapToLong(Segment::length).sum();
            int len = q.used.get(i)[1];
            assertTrue(len >= 0 && len <= Math.min(writable, VirtioRng.MAX_BYTES_PER_REQUEST));
        }
    }
}
