package org.jvmd.vmm.pci;

/**
 * Hears the transport events that are not on the data path, so a relay can forward them
 * to a device process (vionet's {@code FeaturesAcked}, {@code QueueReady}, {@code DriverOk},
 * {@code Reset} messages). Called on the vCPU thread that caused the event, with the
 * transport's state already updated.
 */
public interface VirtioTransportListener {
    /** FEATURES_OK was accepted with these driver features. */
    default void featuresAcked(long features) {}

    /** The driver enabled a queue (queue_enable = 1). */
    default void queueReady(QueueConfig queue) {}

    /** DRIVER_OK was set; the device has been activated. */
    default void driverOk() {}

    /** The driver reset the device (status 0). */
    default void reset() {}
}
