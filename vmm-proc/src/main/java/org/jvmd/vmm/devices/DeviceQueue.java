package org.jvmd.vmm.devices;

import org.jvmd.virtio.GuestFault;
import org.jvmd.vmm.pci.QueueConfig;

/**
 * The device side of one split virtqueue, as an in-process device model drives it. The
 * methods are a subset of the virtio module's {@code SplitQueue} (descriptor walking, bounds
 * and ordering live there, not here); until that lands on main, the core supplies the
 * implementation through a {@link Factory}.
 */
public interface DeviceQueue {
    /** One descriptor chain, reused across pops (no allocation per request). */
    interface Chain {
        /** The head descriptor index, what {@link #push} returns to the driver. */
        int head();

        int segments();

        long address(int segment);

        /** Segment length, an unsigned 32-bit value. */
        long length(int segment);

        boolean isWritable(int segment);
    }

    /** Opens the queue the driver configured, at DRIVER_OK, with the negotiated features. */
    interface Factory {
        DeviceQueue open(QueueConfig config, long features) throws GuestFault;
    }

    /** A chain object able to hold any chain of this queue. */
    Chain newChain();

    /**
     * Takes the next good chain into {@code chain}; bad chains are completed with length 0
     * inside. Returns false when none is available.
     */
    boolean pop(Chain chain) throws GuestFault;

    /** Returns a chain with {@code len} bytes written to its writable segments. */
    void push(int head, int len) throws GuestFault;

    /** Makes pushed chains visible to the driver (the used index store). */
    void publish() throws GuestFault;

    /** Whether the driver wants a used-buffer notification for what was just published. */
    boolean needsInterrupt() throws GuestFault;

    /** The queue size the driver chose: a bound for any loop over this queue. */
    int size();
}
