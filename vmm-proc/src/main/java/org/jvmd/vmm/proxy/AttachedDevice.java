package org.jvmd.vmm.proxy;

import org.jvmd.vmm.Vm;
import org.jvmd.vmm.pci.PciBarMapper;
import org.jvmd.vmm.pci.PciHost;
import org.jvmd.vmm.pci.VirtioPciTransport;

/**
 * A device-process device plugged into a VM (a NIC, a disk): the proxy behind a virtio-pci
 * transport on the PCI host, its BAR kept on the MMIO bus, its eventfds on KVM's
 * ioeventfd/irqfd paths.
 */
public record AttachedDevice<P extends DeviceProxy<?>>(P proxy, VirtioPciTransport transport, KvmEventfds eventfds,
                                                      int slot) implements AutoCloseable {

    /** Plugs {@code proxy} into the lowest free slot of {@code pci}; call before the vCPUs run. */
    public static <P extends DeviceProxy<?>> AttachedDevice<P> attach(Vm vm, PciHost pci, PciBarMapper bars, P proxy) {
        VirtioPciTransport t = new VirtioPciTransport(proxy, vm.interrupts());
        proxy.bind(t);
        t.addBarListener(bars);
        KvmEventfds e = new KvmEventfds(proxy.title(), vm.fd(), vm.routing(), t, proxy.kicks(), proxy.calls());
        e.attach();
        int slot = pci.attach(t);
        return new AttachedDevice<>(proxy, t, e, slot);
    }

    /** Unregisters the eventfds from KVM, then stops the device process and closes them. */
    @Override
    public void close() {
        eventfds.close();
        proxy.close();
    }
}
