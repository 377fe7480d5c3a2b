package org.jvmd.vmm.pci;

import java.util.ArrayList;
import java.util.List;
import org.jvmd.virtio.GuestFault;

/** A virtio device that records what the transport tells it: the life-cycle in order in {@link #events}. */
final class FakeVirtioDevice implements VirtioDevice {
    static final long FEATURES = 1L << VirtioPciTransport.F_VERSION_1 | 1L << 28 | 1L << 0;

    final byte[] config = {1, 2, 3, 4, 5, 6, 7, 8};
    final List<List<QueueConfig>> activations = new ArrayList<>();
    final List<Integer> notified = new ArrayList<>();
    /** "features &lt;hex&gt;" (accepted), "queue &lt;n&gt;", "driver-ok", "reset". */
    final List<String> events = new ArrayList<>();
    long activatedFeatures;
    VirtioInterrupt interrupt;
    int resets;
    boolean acceptAll = true;
    boolean failActivation;
    /** Runs inside {@link #reset}, on the transport's thread. */
    volatile Runnable onReset = () -> {};

    @Override
    public int deviceType() {
        return 4;
    }

    @Override
    public long deviceFeatures() {
        return FEATURES;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int maxQueueSize(int queue) {
        return queue == 0 ? 256 : 128;
    }

    @Override
    public int configSize() {
        return config.length;
    }

    @Override
    public long readConfig(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            v |= (long) (config[offset + i] & 0xff) << (8 * i);
        }
        return v;
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            config[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    @Override
    public boolean acceptFeatures(long features) {
        if (acceptAll) {
            events.add("features " + Long.toHexString(features));
        }
        return acceptAll;
    }

    @Override
    public void queueEnabled(QueueConfig queue) {
        events.add("queue " + queue.index());
    }

    @Override
    public void activate(long features, List<QueueConfig> queues, VirtioInterrupt interrupt) throws GuestFault {
        if (failActivation) {
            throw new GuestFault(GuestFault.Reason.BAD_QUEUE_LAYOUT, "test refuses");
        }
        activatedFeatures = features;
        activations.add(queues);
        this.interrupt = interrupt;
        events.add("driver-ok");
    }

    @Override
    public void queueNotify(int queue) {
        notified.add(queue);
    }

    @Override
    public void reset() {
        onReset.run();
        resets++;
        interrupt = null;
        events.add("reset");
    }
}
