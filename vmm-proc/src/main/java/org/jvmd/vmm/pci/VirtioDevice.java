package org.jvmd.vmm.pci;

import java.util.List;
import org.jvmd.virtio.GuestFault;

/**
 * A virtio device behind a {@link VirtioPciTransport}: implemented alike by in-process
 * devices ({@code VirtioRng}) and by the proxies that forward to a device process
 * ({@code DeviceProxy}: {@code VionetProxy}, {@code VioblkProxy}).
 *
 * <p>The transport owns feature negotiation, the device status state machine, queue
 * configuration and interrupts; the device sees only the results, through one life-cycle
 * (virtio 1.2 §3.1.1 driver initialisation, §2.4 device reset):
 * <ol>
 *   <li>{@link #acceptFeatures} when the driver sets FEATURES_OK;</li>
 *   <li>{@link #queueEnabled} for each queue the driver enables;</li>
 *   <li>{@link #activate} when the driver sets DRIVER_OK;</li>
 *   <li>{@link #reset} when the driver writes 0 to device_status;</li>
 * </ol>
 * and, on the data path, {@link #queueNotify}.
 *
 * <p><b>Threads and locks.</b> The four life-cycle calls run on the vCPU thread whose
 * register write caused them, after the transport checked the write, holding the
 * transport's <em>life-cycle lock</em> (so one device sees them one at a time, in the
 * driver's order) but <em>not</em> its register lock: a call may block (a proxy waits for
 * its device process to confirm a reset) while other vCPUs still read the registers and the
 * relay thread may still flag {@link VirtioPciTransport#deviceNeedsReset}. A device must not
 * call back into its transport's register writes from these calls. {@link #readConfig},
 * {@link #writeConfig} and {@link #queueNotify} run on any vCPU thread with neither lock
 * held, concurrently with each other and with the life-cycle: the device synchronises its
 * own state. The constant getters ({@link #deviceType} ... {@link #configSize}) may be
 * called on any thread.
 */
public interface VirtioDevice {
    /** The virtio device ID (virtio 1.2 §5: 1 network, 2 block, 4 entropy source). */
    int deviceType();

    /** Features offered, including VIRTIO_F_VERSION_1 (bit 32) and the ring features. */
    long deviceFeatures();

    int queueCount();

    /** The largest size of {@code queue} (a power of two, at most 32768: virtio 1.2 §2.7). */
    int maxQueueSize(int queue);

    /** Bytes of device-specific configuration (virtio 1.2 §4.1.4.6); 0 for none. */
    int configSize();

    /** Reads device configuration; {@code offset + size <= configSize()}. Any vCPU, no transport lock. */
    long readConfig(int offset, int size);

    /** Writes device configuration; {@code offset + size <= configSize()}. Any vCPU, no transport lock. */
    void writeConfig(int offset, int size, long value);

    /**
     * Life-cycle 1, FEATURES_OK: the driver set it with {@code features}, which the transport
     * already found to be a subset of the offer that includes VERSION_1. Return false to
     * refuse a combination the device cannot serve: FEATURES_OK then stays clear (virtio 1.2
     * §3.1.1 step 6). Returning true commits the device to {@code features}: the transport
     * sets FEATURES_OK with exactly them. vCPU thread, life-cycle lock held, register lock not.
     */
    default boolean acceptFeatures(long features) {
        return true;
    }

    /**
     * Life-cycle 2, queue_enable = 1 (virtio 1.2 §4.1.4.3): {@code queue} is configured and
     * frozen until the next reset. Devices that need the queues only at {@link #activate}
     * ignore it. vCPU thread, life-cycle lock held, register lock not.
     */
    default void queueEnabled(QueueConfig queue) {}

    /**
     * Life-cycle 3, DRIVER_OK: start serving {@code queues} (the enabled ones, also told to
     * {@link #queueEnabled} before) with the negotiated {@code features}, raising used-buffer
     * notifications through {@code interrupt}. The transport shows DRIVER_OK (and passes
     * kicks on) only once this returned. vCPU thread, life-cycle lock held, register lock not.
     *
     * @throws GuestFault if a queue's layout is unusable; the transport then sets
     *     DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2)
     */
    void activate(long features, List<QueueConfig> queues, VirtioInterrupt interrupt) throws GuestFault;

    /**
     * The driver notified {@code queue} through the notify region (the slow path, when no
     * ioeventfd caught the write). Any vCPU thread, no transport lock.
     */
    void queueNotify(int queue);

    /**
     * Life-cycle 4, device reset (virtio 1.2 §2.4): stop every queue and forget them. On
     * return the device no longer touches the rings, so it may block until that holds; the
     * transport clears its registers (device_status reads 0) only afterwards. Also called
     * for a reset of a device that was never activated. vCPU thread, life-cycle lock held,
     * register lock not.
     */
    void reset();
}
