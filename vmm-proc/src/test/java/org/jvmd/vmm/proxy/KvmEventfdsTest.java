package org.jvmd.vmm.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.kvm.Kvm;
import org.jvmd.testkit.RequiresKvm;
import org.jvmd.vmm.IrqRouting;
import org.jvmd.vmm.Vm;
import org.jvmd.vmm.devices.VirtioRng;
import org.jvmd.vmm.pci.PciBarMapper;
import org.jvmd.vmm.pci.PciDevice;
import org.jvmd.vmm.pci.VirtioPciDriver;
import org.jvmd.vmm.pci.VirtioPciTransport;

/**
 * {@link KvmEventfds} on a real KVM VM (no vCPU runs: KVM's irqfd injection lands in the
 * in-kernel LAPIC's IRR, which the test reads back). Checks the masking contract: while a
 * vector is masked an irqfd signal does not reach the LAPIC; it is delivered on unmask with
 * the message the guest programmed meanwhile (PCI 3.0 §6.8.2.9).
 */
class KvmEventfdsTest {
    static final long BAR = 0xC000_0000L;
    static final int APIC_SVR = 0xF0;
    static final int APIC_IRR = 0x200;

    @Test
    @RequiresKvm
    void maskedVectorHoldsItsInterruptUntilUnmaskedAndKicksFollowTheBar() throws Exception {
        try (Kvm kvm = Kvm.open(); Vm vm = Vm.create(kvm, new Vm.Config("eventfds", 2L << 20, 1));
             EventFd kick = EventFd.create(true); EventFd call0 = EventFd.create(true);
             EventFd call1 = EventFd.create(true)) {
            enableLapic(vm);
            VirtioPciTransport t = new VirtioPciTransport(new VirtioRng(vm.ram().memory(), b -> {}), vm.interrupts());
            t.addBarListener(new PciBarMapper(vm.mmio()));
            try (KvmEventfds e = new KvmEventfds("vm/eventfds", vm.fd(), vm.routing(), t, List.of(kick),
                    List.of(call0, call1))) {
                e.attach();
                assertEquals(PciDevice.UNMAPPED, e.kickBase());
                t.setBarAddress(VirtioPciTransport.BAR, BAR);
                VirtioPciDriver driver = new VirtioPciDriver(t, vm.mmio()).probe(); // enables memory decoding
                assertEquals(BAR, e.kickBase(), "kick ioeventfds follow BAR 0");
                assertFalse(e.irqfdAssigned(1), "MSI-X is still disabled");

                driver.enableMsix(2); // vector v: LAPIC 0, vector 0x40 + v, unmasked
                assertTrue(e.irqfdAssigned(1));
                assertTrue(e.gsi(1) >= IrqRouting.IOAPIC_PINS);
                call1.signal();
                awaitIrr(vm, 0x41);
                clearIrr(vm);

                long entry1 = BAR + msixTableOffset(t) + 16;
                vm.mmio().write(entry1 + 12, 4, 1); // mask vector 1
                vm.mmio().write(entry1 + 8, 4, 0x52); // and move it to vector 0x52 while masked
                assertFalse(e.irqfdAssigned(1));
                call1.signal();
                Thread.sleep(200); // an injection would land in microseconds
                assertFalse(irr(vm, 0x52) || irr(vm, 0x41), "delivered while masked");

                vm.mmio().write(entry1 + 12, 4, 0); // unmask: the held signal goes out with the new message
                assertTrue(e.irqfdAssigned(1));
                awaitIrr(vm, 0x52);

                t.writeConfig(PciDevice.COMMAND, 2, 0); // memory decoding off: the kicks leave KVM
                assertEquals(PciDevice.UNMAPPED, e.kickBase());
                assertEquals(0, e.failures());
            }
        }
    }

    private static int msixTableOffset(VirtioPciTransport t) {
        int cap = (int) t.readConfig(PciDevice.CAPABILITY_POINTER, 1);
        while (cap != 0) {
            if (t.readConfig(cap, 1) == 0x11) { // MSI-X (PCI 3.0 §6.8.2)
                return (int) (t.readConfig(cap + 4, 4) & ~7L);
            }
            cap = (int) t.readConfig(cap + 1, 1);
        }
        throw new AssertionError("no MSI-X capability");
    }

    /** Software-enables the LAPIC (SVR bit 8) so it accepts fixed interrupts. */
    private static void enableLapic(Vm vm) throws SysException {
        byte[] l = vm.vcpuFd(0).getLapic();
        l[APIC_SVR + 1] |= 1;
        vm.vcpuFd(0).setLapic(l);
    }

    private static void clearIrr(Vm vm) throws SysException {
        byte[] l = vm.vcpuFd(0).getLapic();
        for (int i = 0; i < 8; i++) {
            for (int b = 0; b < 4; b++) {
                l[APIC_IRR + i * 16 + b] = 0;
            }
        }
        vm.vcpuFd(0).setLapic(l);
    }

    private static boolean irr(Vm vm, int vector) throws SysException {
        byte[] l = vm.vcpuFd(0).getLapic();
        int word = l[APIC_IRR + (vector / 32) * 16 + (vector % 32) / 8];
        return (word & (1 << (vector % 8))) != 0;
    }

    private static void awaitIrr(Vm vm, int vector) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!irr(vm, vector)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("vector 0x" + Integer.toHexString(vector) + " never reached the LAPIC");
            }
            Thread.sleep(2);
        }
    }
}
