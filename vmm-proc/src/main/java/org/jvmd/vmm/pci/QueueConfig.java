package org.jvmd.vmm.pci;

/**
 * One virtqueue as the driver configured it through the common configuration structure
 * (virtio 1.2 §4.1.4.3): size, the three ring addresses, its MSI-X vector, and the
 * guest-physical address the driver writes to notify it (where the core puts an
 * ioeventfd; the driver writes the 16-bit queue index there).
 */
public record QueueConfig(int index, int size, long desc, long driver, long device, int msixVector, long notifyAddress) {}
