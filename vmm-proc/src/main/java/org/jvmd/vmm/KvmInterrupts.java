package org.jvmd.vmm;

import java.util.concurrent.atomic.AtomicLong;
import org.jvmd.sys.SysException;
import org.jvmd.sys.kvm.VmFd;
import org.jvmd.vmm.bus.Interrupts;

/**
 * Device interrupts through KVM: legacy lines with KVM_IRQ_LINE (routed by the GSI table
 * to the in-kernel PIC and IOAPIC), MSIs with KVM_SIGNAL_MSI. Allocation-free. A failing
 * ioctl here means the VM is being torn down or KVM broke: it is counted and logged once,
 * never thrown into a device model.
 */
final class KvmInterrupts implements Interrupts {
    private static final System.Logger LOG = System.getLogger("org.jvmd.vmm");

    private final VmFd vm;
    private final AtomicLong failures = new AtomicLong();

    KvmInterrupts(VmFd vm) {
        this.vm = vm;
    }

    @Override
    public void setIrqLine(int gsi, boolean level) {
        try {
            vm.irqLine(gsi, level);
        } catch (SysException e) {
            failed(e);
        }
    }

    @Override
    public void signalMsi(long address, int data) {
        try {
            vm.signalMsi(address, data);
        } catch (SysException e) {
            failed(e);
        }
    }

    private void failed(SysException e) {
        if (failures.getAndIncrement() == 0) {
            LOG.log(System.Logger.Level.WARNING, "interrupt injection failed: " + e.getMessage());
        }
    }

    long failures() {
        return failures.get();
    }
}
