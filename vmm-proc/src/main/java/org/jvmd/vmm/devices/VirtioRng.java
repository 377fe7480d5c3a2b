package org.jvmd.vmm.devices;

import java.lang.System.Logger.Level;
import java.util.List;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.vmm.pci.QueueConfig;
import org.jvmd.vmm.pci.VirtioDevice;
import org.jvmd.vmm.pci.VirtioInterrupt;

/**
 * The virtio entropy device (virtio 1.2 §5.4; vmd's viornd): one request queue whose
 * device-writable buffers the device fills with random bytes from an {@link EntropySource}.
 *
 * <p>Each chain is completed with the number of bytes written (§5.4.6.1), at most
 * {@link #MAX_BYTES_PER_REQUEST} so a guest posting huge buffers cannot make one kick cost
 * unbounded work; read-only segments are skipped. At most one queue's worth of chains is
 * served per kick, and a guest-memory fault drops the request (counted), never the device.
 * No allocation per request: one scratch buffer is refilled from the source.
 */
public final class VirtioRng implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger(VirtioRng.class.getName());

    /** virtio 1.2 §5: device ID 4, entropy source. */
    public static final int DEVICE_TYPE = 4;
    public static final int QUEUE_SIZE = 256;
    public static final int MAX_BYTES_PER_REQUEST = 64 * 1024;
    static final long F_VERSION_1 = 1L << 32;

    /** Where random bytes come from; {@code SecureRandom::nextBytes} fits. */
    public interface EntropySource {
        void nextBytes(byte[] buf);
    }

    private final GuestMemory memory;
    private final EntropySource source;
    private final DeviceQueue.Factory queues;
    private final long ringFeatures;
    private final byte[] scratch = new byte[256];

    private DeviceQueue queue;
    private DeviceQueue.Chain chain;
    private VirtioInterrupt interrupt;
    private long bytesServed;
    private long faults;

    /**
     * @param ringFeatures ring features the queue implementation supports (e.g.
     *     RING_INDIRECT_DESC, RING_EVENT_IDX), offered beside VERSION_1
     */
    public VirtioRng(GuestMemory memory, EntropySource source, DeviceQueue.Factory queues, long ringFeatures) {
        this.memory = memory;
        this.source = source;
        this.queues = queues;
        this.ringFeatures = ringFeatures;
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return F_VERSION_1 | ringFeatures; // §5.4.3: no device-specific feature bits
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
                queue = queues.open(c, features);
                chain = queue.newChain();
            }
        }
        interrupt = irq;
        if (queue != null) {
            serve(); // buffers posted before DRIVER_OK
        }
    }

    @Override
    public synchronized void queueNotify(int q) {
        if (q == 0 && queue != null) {
            serve();
        }
    }

    @Override
    public synchronized void reset() {
        queue = null;
        chain = null;
        interrupt = null;
    }

    private void serve() {
        boolean completed = false;
        try {
            for (int i = 0; i < queue.size() && queue.pop(chain); i++) {
                int written;
                try {
                    written = fill(chain);
                } catch (GuestFault f) {
                    faults++; // a segment outside guest memory: complete it empty, keep serving
                    written = 0;
                }
                queue.push(chain.head(), written);
                completed = true;
            }
            if (completed) {
                queue.publish();
                if (queue.needsInterrupt()) {
                    interrupt.signalQueue(0);
                }
            }
        } catch (GuestFault f) {
            faults++; // the ring itself is broken (e.g. a bogus avail index)
            LOG.log(Level.WARNING, "virtio-rng: {0}", f.getMessage());
        }
    }

    /** Fills the chain's writable segments; returns how many bytes were written. */
    private int fill(DeviceQueue.Chain c) throws GuestFault {
        int written = 0;
        for (int s = 0; s < c.segments() && written < MAX_BYTES_PER_REQUEST; s++) {
            if (!c.isWritable(s)) {
                continue;
            }
            long len = Math.min(c.length(s), MAX_BYTES_PER_REQUEST - written);
            long gpa = c.address(s);
            for (long done = 0; done < len; ) {
                int n = (int) Math.min(scratch.length, len - done);
                source.nextBytes(scratch);
                memory.write(gpa + done, scratch, 0, n);
                done += n;
            }
            written += (int) len;
        }
        bytesServed += written;
        return written;
    }

    public synchronized long bytesServed() {
        return bytesServed;
    }

    public synchronized long faults() {
        return faults;
    }
}
