/**
 * virtio-net in vmm-proc (vmd's vionet split vhost-user style): {@link org.jvmd.vmm.net.VionetProxy}
 * is the guest-visible device (features, configuration space, control events relayed to
 * vionet-proc as protobuf), {@link org.jvmd.vmm.net.KvmEventfds} puts vionet's kick and call
 * eventfds on KVM's ioeventfd/irqfd paths (MSI-X routes follow the guest's table and masks),
 * {@link org.jvmd.vmm.net.AttachedNic} plugs one NIC into the PCI host, and
 * {@link org.jvmd.vmm.net.VmNics} spawns and plugs a VM's NICs and routes vmd's TUNSCAP replies
 * and stats requests.
 */
package org.jvmd.vmm.net;
