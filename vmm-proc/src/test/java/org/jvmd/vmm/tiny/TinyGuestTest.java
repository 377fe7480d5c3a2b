package org.jvmd.vmm.tiny;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.kvm.Kvm;
import org.jvmd.vmm.MemoryLayout;
import org.jvmd.vmm.Vm;
import org.jvmd.vmm.VmExit;
import org.jvmd.vmm.devices.VirtioRng;
import org.jvmd.vmm.pci.PciBarMapper;
import org.jvmd.vmm.pci.PciHost;
import org.jvmd.vmm.pci.VirtioPciTransport;

/**
 * Tiny guests under this machine's plain /dev/kvm (kvm_pvm emulates: a few hundred
 * instructions only) negotiate a virtio-pci device through the modern transport with
 * MSI-X and take the queue interrupt through the in-kernel LAPIC. See {@link TinyGuest}.
 */
class TinyGuestTest {
    static final long RAM = 2L << 20;
    static final long TIMEOUT_MS = 15_000;
    static final byte ENTROPY = 0x5a;

    /** The in-process path: MMIO exit for the kick, VirtioRng serves, KVM_SIGNAL_MSI delivers. */
    @Test
    void tinyGuestNegotiatesVirtioAndReceivesMsix() throws Exception {
        TinyGuest.assumeKvm();
        try (Kvm kvm = Kvm.open(); Vm vm = Vm.create(kvm, new Vm.Config("tiny", RAM, 1))) {
            PciHost pci = new PciHost(MemoryLayout.PCI_MMIO_START, MemoryLayout.PCI_MMIO_SIZE,
                    () -> vm.terminate(VmExit.reboot("PCI reset")));
            vm.pio().register(PciHost.CONFIG_ADDRESS_PORT, PciHost.WINDOW, pci);
            VirtioRng rng = new VirtioRng(vm.ram().memory(), b -> Arrays.fill(b, ENTROPY));
            VirtioPciTransport t = new VirtioPciTransport(rng, vm.interrupts());
            t.addBarListener(new PciBarMapper(vm.mmio()));
            pci.attach(t);
            TinyGuest guest = new TinyGuest(vm);
            guest.load();
            guest.diagnostics = () -> "notifies " + t.notifies() + ", MSIs " + t.msix().delivered() + ", served "
                    + rng.bytesServed() + ", faults " + rng.faults() + ", MSI-X enabled " + t.msix().enabled()
                    + ", status 0x" + Integer.toHexString(t.status());

            VmExit exit = guest.run(TIMEOUT_MS);

            assertEquals(TinyGuest.DONE_OK, guest.done, () -> "guest ended with " + exit + ", reports " + hex(guest.reports));
            List<Long> r = guest.reports;
            assertEquals(8, r.size(), () -> hex(r));
            assertEquals(VirtioPciTransport.VENDOR | (long) (VirtioPciTransport.DEVICE_ID_BASE + VirtioRng.DEVICE_TYPE) << 16,
                    r.get(0), "vendor/device id found on bus 0");
            assertEquals(0L, r.get(1), "common configuration at BAR offset 0");
            assertEquals((long) t.notifyOffset(0), r.get(2), "notify region offset from the notify capability");
            assertEquals(0L, r.get(3) % 0x1000, "MSI-X table on its own page");
            assertEquals(1L, r.get(4), "device features 63:32 = VERSION_1");
            assertEquals(0x0fL, r.get(5), "ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK");
            assertEquals(1L, r.get(6), "used.idx seen by the interrupt handler");
            assertEquals((long) TinyGuest.BUF_LEN, r.get(7), "used.len seen by the interrupt handler");
            assertEquals(TinyGuest.BAR, t.barAddress(VirtioPciTransport.BAR), "the guest's BAR0");
            assertEquals(TinyGuest.BAR, t.mappedBase(VirtioPciTransport.BAR));
            assertEquals(1L << 32, t.driverFeatures());
            assertEquals(1, t.msix().delivered(), "one MSI through KVM_SIGNAL_MSI");
            assertEquals(1, t.notifies());
            byte[] buf = new byte[TinyGuest.BUF_LEN];
            vm.ram().memory().read(TinyGuest.BUF, buf, 0, buf.length);
            byte[] want = new byte[TinyGuest.BUF_LEN];
            Arrays.fill(want, ENTROPY);
            assertArrayEquals(want, buf, "the device filled the guest's buffer");
            assertTrue(guest.codeSize() < 1024);
        }
    }

    static String hex(List<Long> values) {
        return values.stream().map(v -> "0x" + Long.toHexString(v)).toList().toString();
    }
}
