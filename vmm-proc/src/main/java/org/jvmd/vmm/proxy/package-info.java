/**
 * What every device served by a device process shares in vmm-proc:
 * {@link org.jvmd.vmm.proxy.DeviceProxy} (the guest-visible half: eventfds, handshake, control
 * relay, stats, death as DEVICE_NEEDS_RESET, teardown), {@link org.jvmd.vmm.proxy.KvmEventfds}
 * (the kick and call eventfds on KVM's ioeventfd/irqfd paths, MSI-X routes following the
 * guest's table and masks) and {@link org.jvmd.vmm.proxy.AttachedDevice} (one such device
 * plugged into the PCI host).
 */
package org.jvmd.vmm.proxy;
