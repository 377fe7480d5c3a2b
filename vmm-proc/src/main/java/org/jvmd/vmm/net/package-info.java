/**
 * virtio-net in vmm-proc (vmd's vionet split vhost-user style): {@link org.jvmd.vmm.net.VionetProxy}
 * is the guest-visible device (features, configuration space, TUNSCAP relay) on the shared
 * {@link org.jvmd.vmm.proxy.DeviceProxy}, and {@link org.jvmd.vmm.net.VmNics} spawns and plugs
 * a VM's NICs and routes vmd's TUNSCAP replies and stats requests.
 */
package org.jvmd.vmm.net;
