package org.jvmd.vmm.devices;

import java.lang.System.Logger.Level;
import java.util.List;
import org.jvmd.virtio.DescriptorChain;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.QueueCounters;
import org.jvmd.virtio.RingLayout;
import org.jvmd.virtio.SplitQueue;
import org.jvmd.virtio.Virtq;
import org.jvmd.vmm.pci.QueueConfig;
import org.jvmd.vmm.pci.VirtioDevice;
import org.jvmd.vmm.pci.VirtioInterrupt;

/**
 * The virtio entropy device (virtio 1.2 §5.4; vmd's viornd): one request queue whose
 * device-writable buffers the device fills with random bytes from an {@link EntropySource}.
 *
 * <p>Each chain is completed with the number of bytes written (§5.4.6.1), at most
 * {@link #MAX_BYTES_PER_REQUEST} so a guest posting huge buffers cannot make one kick cost
 * unbounded work. The ring itself is the virtio module's {@link SplitQueue}: bad chains
 * are completed with length 0 there, a buffer outside guest memory is dropped here, and
 * both are counted; the device never stops. A kick serves at most {@link #MAX_ROUNDS}
 * rounds of the queue. No allocation per request: one scratch buffer is refilled.
 */
public final class VirtioRng implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger(VirtioRng.class.getName());

    /** virtio 1.2 §5: device ID 4, entropy source. */
    public static final int DEVICE_TYPE = 4;
    public static final int QUEUE_SIZE = 256;
    public static final int MAX_BYTES_PER_REQUEST = 64 * 1024;
    static final int MAX_ROUNDS = 4;
    static final long F_VERSION_1 = 1L << 32;
    static final long FEATURES = F_VERSION_1 | 1L << Virtq.F_INDIRECT_DESC | 1L << Virtq.F_EVENT_IDX;

    /** Where random bytes come from; {@code SecureRandom::nextBytes} fits. */
    public interface EntropySource {
        void nextBytes(byte[] buf);
    }

    private final EntropySource source;
    private final QueueCounters counters = new QueueCounters();
    private final SplitQueue queue;
    private final DescriptorChain chain;
    private final byte[] scratch = new byte[256];

    private VirtioInterrupt interrupt;
    private long bytesServed;
    private long ringFaults;

    public VirtioRng(GuestMemory memory, EntropySource source) {
        this.source = source;
        this.queue = new SplitQueue(memory, QUEUE_SIZE, counters);
        this.chain = queue.newChain();
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return FEATURES; // §5.4.3: no device-specific feature bits, only ring ones
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int maxQueueSize(int q) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return 0; // §5.4.4: no configuration
    }

    @Override
    public long readConfig(int offset, int size) {
        return 0;
    }

    @Override
    public void writeConfig(int offset, int size, long value) {}

    @Override
    public synchronized void activate(long features, List<QueueConfig> configs, VirtioInterrupt irq) throws GuestFault {
        for (QueueConfig c : configs) {
            if (c.index() == 0) {
                queue.activate(new RingLayout(c.size(), c.desc(), c.driver(), c.device()), features);
            }
        }
        interrupt = irq;
        serve(); // buffers posted before DRIVER_OK
    }

    @Override
    public synchronized void queueNotify(int q) {
        if (q == 0) {
            serve();
        }
    }

    @Override
    public synchronized void reset() {
        queue.reset();
        interrupt = null;
    }

    /** The SplitQueue loop: serve, publish, notify, re-enable kicks; bounded by MAX_ROUNDS. */
    private void serve() {
        if (!queue.isReady()) {
            return;
        }
        try {
            for (int round = 0; round < MAX_ROUNDS; round++) {
                queue.disableNotifications();
                while (queue.pop(chain)) {
                    complete();
                }
                queue.publish();
                if (queue.needsInterrupt()) {
                    interrupt.signalQueue(0);
                }
                if (!queue.enableNotifications()) {
                    return;
                }
            }
        } catch (GuestFault f) {
            ringFaults++; // the ring itself is broken (a bogus avail index): nothing to complete
            LOG.log(Level.WARNING, "virtio-rng: {0}", f.getMessage());
        }
    }

    private void complete() throws GuestFault {
        long want = Math.min(chain.writableBytes(), MAX_BYTES_PER_REQUEST);
        int done = 0;
        try {
            while (done < want) {
                source.nextBytes(scratch);
                int n = chain.scatter(done, scratch, 0, (int) Math.min(scratch.length, want - done));
                if (n == 0) {
                    break;
                }
                done += n;
            }
        } catch (GuestFault f) {
            queue.drop(chain, f.reason()); // a buffer outside guest memory: complete it empty
            return;
        }
        bytesServed += done;
        queue.push(chain.head(), done);
    }

    public synchronized long bytesServed() {
        return bytesServed;
    }

    /** Requests dropped (bad chains, buffers outside memory) plus ring faults. */
    public synchronized long faults() {
        return counters.total() + ringFaults;
    }
}
