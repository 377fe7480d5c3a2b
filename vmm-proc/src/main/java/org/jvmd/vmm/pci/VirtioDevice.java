package org.jvmd.vmm.pci;

import java.util.List;
import org.jvmd.virtio.GuestFault;

/**
 * A virtio device behind a {@link VirtioPciTransport}: implemented by in-process devices
 * ({@code VirtioRng}) and by the proxy that forwards to a device process (vionet).
 *
 * <p>The transport owns feature negotiation, the device status state machine, queue
 * configuration and interrupts; the device sees only the results: the acked features, the
 * enabled queues at DRIVER_OK, kicks, and reset. Calls come from vCPU threads, one at a
 * time per device.
 */
public interface VirtioDevice {
    /** The virtio device ID (virtio 1.2 §5: 1 network, 4 entropy source). */
    int deviceType();

    /** Features offered, including VIRTIO_F_VERSION_1 (bit 32) and the ring features. */
    long deviceFeatures();

    int queueCount();

    /** The largest size of {@code queue} (a power of two, at most 32768: virtio 1.2 §2.7). */
    int maxQueueSize(int queue);

    /** Bytes of device-specific configuration (virtio 1.2 §4.1.4.6); 0 for none. */
    int configSize();

    /** Reads device configuration; {@code offset + size <= configSize()}. */
    long readConfig(int offset, int size);

    /** Writes device configuration; {@code offset + size <= configSize()}. */
    void writeConfig(int offset, int size, long value);

    /**
     * The driver set FEATURES_OK with {@code features} (already checked to be a subset of
     * what was offered, with VERSION_1). Return false to refuse a combination the device
     * cannot serve; FEATURES_OK then stays clear (virtio 1.2 §3.1.1 step 6).
     */
    default boolean acceptFeatures(long features) {
        return true;
    }

    /**
     * DRIVER_OK: start serving {@code queues} (the enabled ones) with the negotiated
     * {@code features}, raising used-buffer notifications through {@code interrupt}.
     *
     * @throws GuestFault if a queue's layout is unusable; the transport then sets
     *     DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2)
     */
    void activate(long features, List<QueueConfig> queues, VirtioInterrupt interrupt) throws GuestFault;

    /** The driver notified {@code queue} through the notify region (the slow path). */
    void queueNotify(int queue);

    /** Device reset: stop every queue and forget them. */
    void reset();
}
