package org.jvmd.vmm.pci;

/** How a device raises notifications through its transport (virtio 1.2 §2.3, §4.1.5.4). */
public interface VirtioInterrupt {
    /** Used-buffer notification for {@code queue}: its MSI-X vector, and ISR bit 0. */
    void signalQueue(int queue);

    /** Configuration change notification: bumps config_generation, ISR bit 1, config vector. */
    void signalConfig();
}
