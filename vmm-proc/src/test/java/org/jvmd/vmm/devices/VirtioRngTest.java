package org.jvmd.vmm.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.HeapGuestMemory;
import org.jvmd.virtio.RingLayout;
import org.jvmd.virtio.Virtq;
import org.jvmd.vmm.bus.Bus;
import org.jvmd.vmm.pci.PciBarMapper;
import org.jvmd.vmm.pci.PciHost;
import org.jvmd.vmm.pci.QueueConfig;
import org.jvmd.vmm.pci.VirtioInterrupt;
import org.jvmd.vmm.pci.VirtioPciDriver;
import org.jvmd.vmm.pci.VirtioPciTransport;
import org.junit.jupiter.api.Test;

class VirtioRngTest {
    static final int MEM = 4 << 20;

    /** A deterministic "entropy" source: 1, 2, 3, ... so tests see what landed where. */
    static final class CountingSource implements VirtioRng.EntropySource {
        int next = 1;

        @Override
        public void nextBytes(byte[] buf) {
            for (int i = 0; i < buf.length; i++) {
                buf[i] = (byte) next++;
            }
        }
    }

    static final class CountingInterrupt implements VirtioInterrupt {
        int queueSignals;

        @Override
        public void signalQueue(int queue) {
            queueSignals++;
        }

        @Override
        public void signalConfig() {}
    }

    final HeapGuestMemory mem = new HeapGuestMemory(MEM);
    final GuestAllocator rings = new GuestAllocator(mem, 0x1000, 0x100000);
    final GuestAllocator buffers = new GuestAllocator(mem, 0x100000, MEM);
    final VirtioRng rng = new VirtioRng(mem, new CountingSource());
    final CountingInterrupt irq = new CountingInterrupt();
    DriverQueue drv;

    void activate(long features) throws Exception {
        drv = DriverQueue.create(mem, rings, 16, features, 8);
        activateWithLayout(drv.layout(), features);
    }

    void activateWithLayout(RingLayout l, long features) throws Exception {
        rng.activate(features, List.of(new QueueConfig(0, l.size(), l.desc(), l.avail(), l.used(), 1, 0)), irq);
    }

    byte[] bytes(long gpa, int len) throws Exception {
        byte[] b = new byte[len];
        mem.read(gpa, b, 0, len);
        return b;
    }

    @Test
    void rngIsEntropyDeviceFourWithOneQueueAndNoConfig() {
        assertEquals(4, rng.deviceType());
        assertEquals(1, rng.queueCount());
        assertEquals(0, rng.configSize());
        assertEquals(VirtioRng.F_VERSION_1, rng.deviceFeatures() & VirtioRng.F_VERSION_1);
        assertEquals(1L << Virtq.F_EVENT_IDX, rng.deviceFeatures() & 1L << Virtq.F_EVENT_IDX);
    }

    @Test
    void rngFillsWritableDescriptorsAndCompletesUsedEntries() throws Exception {
        activate(VirtioRng.F_VERSION_1);
        long a = buffers.allocate(16, 16);
        long b = buffers.allocate(32, 16);
        long guard = buffers.allocate(16, 16);
        int head = drv.writable(a, 16).writable(b, 32).add();
        assertTrue(drv.kick());
        rng.queueNotify(0);
        assertEquals(head, drv.reap());
        assertEquals(48, drv.usedLen());
        assertEquals(1, irq.queueSignals);
        assertEquals(1, bytes(a, 1)[0]);
        assertEquals(16, bytes(a + 15, 1)[0]);
        assertNotEquals(0, bytes(b + 31, 1)[0]);
        assertEquals(0, bytes(guard, 1)[0], "nothing beyond the buffers");
        assertEquals(48, rng.bytesServed());
    }

    @Test
    void rngLeavesDeviceReadableBuffersAlone() throws Exception {
        activate(VirtioRng.F_VERSION_1);
        long r = buffers.allocate(8, 8);
        mem.write(r, new byte[] {7, 7, 7, 7, 7, 7, 7, 7}, 0, 8);
        long w = buffers.allocate(8, 8);
        drv.readable(r, 8).writable(w, 8).add();
        drv.kick();
        rng.queueNotify(0);
        drv.reap();
        assertEquals(8, drv.usedLen());
        assertEquals(7, bytes(r + 7, 1)[0]);
    }

    @Test
    void rngCapsTheBytesOfOneRequest() throws Exception {
        activate(VirtioRng.F_VERSION_1);
        drv.writable(buffers.allocate(0x20000, 16), 0x20000).add();
        drv.kick();
        rng.queueNotify(0);
        drv.reap();
        assertEquals(VirtioRng.MAX_BYTES_PER_REQUEST, drv.usedLen());
    }

    @Test
    void rngCompletesABufferOutsideMemoryEmptyAndServesTheNext() throws Exception {
        activate(VirtioRng.F_VERSION_1);
        int bad = drv.writable(MEM - 4, 64).add();
        int good = drv.writable(buffers.allocate(4, 4), 4).add();
        drv.kick();
        rng.queueNotify(0);
        assertEquals(bad, drv.reap());
        assertEquals(0, drv.usedLen());
        assertEquals(good, drv.reap());
        assertEquals(4, drv.usedLen());
        assertEquals(1, rng.faults());
    }

    @Test
    void rngWorksWithIndirectDescriptorsAndEventIdx() throws Exception {
        long f = VirtioRng.FEATURES;
        activate(f);
        for (int i = 0; i < 5; i++) {
            drv.writable(buffers.allocate(8, 8), 8).writable(buffers.allocate(8, 8), 8).add();
        }
        drv.kick();
        rng.queueNotify(0);
        for (int i = 0; i < 5; i++) {
            assertTrue(drv.reap() != DriverQueue.NONE);
            assertEquals(16, drv.usedLen());
        }
        assertEquals(1, irq.queueSignals, "one notification for one batch");
    }

    @Test
    void rngDoesNotInterruptWhenTheDriverSuppressesIt() throws Exception {
        activate(VirtioRng.F_VERSION_1);
        drv.disableInterrupts();
        drv.writable(buffers.allocate(4, 4), 4).add();
        drv.kick();
        rng.queueNotify(0);
        assertTrue(drv.reap() != DriverQueue.NONE);
        assertEquals(0, irq.queueSignals);
    }

    @Test
    void rngServesBuffersPostedBeforeDriverOk() throws Exception {
        drv = DriverQueue.create(mem, rings, 16, VirtioRng.F_VERSION_1, 8);
        drv.writable(buffers.allocate(4, 4), 4).add();
        drv.kick();
        activateWithLayout(drv.layout(), VirtioRng.F_VERSION_1);
        assertTrue(drv.reap() != DriverQueue.NONE);
    }

    @Test
    void rngResetForgetsTheQueue() throws Exception {
        activate(VirtioRng.F_VERSION_1);
        rng.reset();
        drv.writable(buffers.allocate(4, 4), 4).add();
        drv.kick();
        rng.queueNotify(0);
        assertEquals(DriverQueue.NONE, drv.reap());
    }

    @Test
    void rngRaisesTheQueueVectorThroughTheTransport() throws Exception {
        RecordingInterrupts msi = new RecordingInterrupts();
        VirtioPciTransport t = new VirtioPciTransport(rng, msi);
        PciHost host = new PciHost(0xc000_0000L, 0x100_0000L, () -> {});
        Bus mmio = new Bus("mmio");
        t.addBarListener(new PciBarMapper(mmio));
        host.attach(t);
        VirtioPciDriver pci = new VirtioPciDriver(t, mmio).probe();
        pci.enableMsix(2);
        assertTrue(pci.negotiate(VirtioRng.F_VERSION_1 | 1L << Virtq.F_EVENT_IDX));
        drv = DriverQueue.create(mem, rings, 8, VirtioRng.F_VERSION_1 | 1L << Virtq.F_EVENT_IDX, 8);
        RingLayout l = drv.layout();
        pci.setupQueue(0, 8, l.desc(), l.avail(), l.used(), 1);
        pci.setStatus(pci.status() | VirtioPciTransport.STATUS_DRIVER_OK);
        drv.writable(buffers.allocate(32, 16), 32).add();
        assertTrue(drv.kick());
        pci.kick(0);
        assertEquals(List.of(new RecordingInterrupts.Msi(VirtioPciDriver.MSI_ADDRESS, 0x41)), msi.msis);
        assertTrue(drv.reap() != DriverQueue.NONE);
        assertEquals(32, drv.usedLen());
    }

    @Test
    void unusableRingLayoutMakesTheTransportAskForReset() {
        RecordingInterrupts msi = new RecordingInterrupts();
        VirtioPciTransport t = new VirtioPciTransport(rng, msi);
        PciHost host = new PciHost(0xc000_0000L, 0x100_0000L, () -> {});
        Bus mmio = new Bus("mmio");
        t.addBarListener(new PciBarMapper(mmio));
        host.attach(t);
        VirtioPciDriver pci = new VirtioPciDriver(t, mmio).probe();
        assertTrue(pci.negotiate(VirtioRng.F_VERSION_1));
        pci.setupQueue(0, 8, MEM - 16, 0x2000, 0x3000, 0); // descriptors past the end of memory
        pci.setStatus(pci.status() | VirtioPciTransport.STATUS_DRIVER_OK);
        assertEquals(VirtioPciTransport.STATUS_NEEDS_RESET, pci.status() & VirtioPciTransport.STATUS_NEEDS_RESET);
    }

    // ---- properties ----

    @Property(tries = 100)
    void everyChainIsCompletedWithItsWritableLengthUpToTheCap(
            @ForAll @Size(min = 1, max = 30) List<@IntRange(min = 0, max = 0x12000) Integer> lengths) throws Exception {
        HeapGuestMemory m = new HeapGuestMemory(MEM);
        GuestAllocator r = new GuestAllocator(m, 0x1000, 0x100000);
        GuestAllocator b = new GuestAllocator(m, 0x100000, MEM);
        VirtioRng dev = new VirtioRng(m, new CountingSource());
        DriverQueue q = DriverQueue.create(m, r, 64, VirtioRng.FEATURES, 8);
        RingLayout l = q.layout();
        dev.activate(VirtioRng.FEATURES, List.of(new QueueConfig(0, 64, l.desc(), l.avail(), l.used(), 0, 0)),
                new CountingInterrupt());
        int added = 0;
        for (int len : lengths) {
            if (len == 0) {
                q.readable(b.allocate(16, 16), 16).add();
            } else {
                q.writable(b.allocate(len, 16), len).add();
            }
            added++;
            q.kick();
            if (added % 7 == 0) {
                dev.queueNotify(0);
            }
        }
        dev.queueNotify(0);
        for (int len : lengths) {
            assertTrue(q.reap() != DriverQueue.NONE);
            assertEquals(Math.min(len, VirtioRng.MAX_BYTES_PER_REQUEST), q.usedLen());
        }
        assertEquals(DriverQueue.NONE, q.reap());
    }

    @Property(tries = 100)
    void hostileRingBytesNeverEscapeTheDevice(@ForAll long seed) throws Exception {
        HeapGuestMemory m = new HeapGuestMemory(1 << 16);
        RingLayout l = RingLayout.linux(16, 0x1000, 64);
        Random random = new Random(seed);
        byte[] junk = new byte[(int) RingLayout.linuxBytes(16, 64)];
        random.nextBytes(junk);
        m.write(0x1000, junk, 0, junk.length);
        VirtioRng dev = new VirtioRng(m, new CountingSource());
        dev.activate(VirtioRng.FEATURES, List.of(new QueueConfig(0, 16, l.desc(), l.avail(), l.used(), 0, 0)),
                new CountingInterrupt());
        for (int i = 0; i < 3; i++) {
            dev.queueNotify(0);
        }
        // Nothing escaped, and the work a kick can cost stays bounded whatever the ring says.
        assertTrue(dev.bytesServed() <= 3L * VirtioRng.MAX_ROUNDS * 16 * VirtioRng.MAX_BYTES_PER_REQUEST);
    }
}
