package org.jvmd.vmm;

import java.security.SecureRandom;
import java.time.InstantSource;
import java.util.concurrent.locks.LockSupport;
import org.jvmd.virtio.GuestFault;
import org.jvmd.vmm.acpi.AcpiPm;
import org.jvmd.vmm.acpi.AcpiTables;
import org.jvmd.vmm.devices.CmosRtc;
import org.jvmd.vmm.devices.I8042;
import org.jvmd.vmm.devices.VirtioRng;
import org.jvmd.vmm.devices.Uart8250;
import org.jvmd.vmm.pci.PciBarMapper;
import org.jvmd.vmm.pci.PciHost;
import org.jvmd.vmm.pci.VirtioPciTransport;

/**
 * The PC platform devices a VM gets (vmd's init_emulated_hw): COM1, the i8042, the CMOS
 * RTC, the PCI host bridge and the ACPI PM block on the port-I/O bus, the ACPI tables in
 * the BIOS area, and virtio-rng (vmd's viornd) on PCI, its BAR on the MMIO bus. KVM
 * provides the PIC pair, IOAPIC, local APICs and PIT in the kernel.
 * Guest resets through the i8042 or the PCI reset control register end the VM as a
 * reboot; ACPI S5 ends it as a power-off.
 */
final class EmulatedHw implements AutoCloseable {
    /** How long the RTC timer sleeps at most when no RTC interrupt is enabled. */
    private static final long RTC_IDLE_NANOS = 1_000_000_000L;
    /** ACPI tables from the start of the BIOS area; the RSDP 64 KiB later, inside Linux's scan range (ACPI 6.5 §5.2.5.1). */
    static final long ACPI_TABLES = AcpiTables.RSDP_SCAN_START;
    static final long ACPI_RSDP = 0xF_0000L;

    final Uart8250 com1;
    final I8042 i8042;
    final CmosRtc rtc;
    final PciHost pci;
    final PciBarMapper bars;
    final AcpiPm pm;
    final VirtioPciTransport rng;
    final AcpiTables.Layout acpi;
    private final Thread rtcTimer;
    private volatile boolean closed;

    EmulatedHw(Vm vm, Uart8250.Output console) {
        com1 = new Uart8250(vm.interrupts(), Uart8250.COM1_IRQ, console);
        vm.pio().register(Uart8250.COM1_BASE, Uart8250.WINDOW, com1);
        i8042 = new I8042(vm.interrupts(), () -> vm.terminate(VmExit.reboot("guest reset through the i8042")));
        // Port 0x61 belongs to KVM's PIT: the i8042 takes 0x60 and 0x64 only.
        vm.pio().register(I8042.DATA_PORT, 1, i8042.dataPort());
        vm.pio().register(I8042.COMMAND_PORT, 1, i8042.commandPort());
        rtc = new CmosRtc(InstantSource.system(), vm.interrupts());
        MemoryLayout layout = vm.ram().layout();
        rtc.setMemorySize(layout.lowRamEnd(), layout.highRamSize());
        vm.pio().register(CmosRtc.BASE, CmosRtc.WINDOW, rtc);
        pci = new PciHost(MemoryLayout.PCI_MMIO_START, MemoryLayout.PCI_MMIO_SIZE,
                () -> vm.terminate(VmExit.reboot("guest reset through PCI reset control")));
        vm.pio().register(PciHost.CONFIG_ADDRESS_PORT, PciHost.WINDOW, pci);
        bars = new PciBarMapper(vm.mmio());
        // virtio-rng: kicks arrive as MMIO exits, interrupts leave as KVM_SIGNAL_MSI. The
        // generator is used once here so that its /dev/urandom stream is open before any chroot.
        SecureRandom random = new SecureRandom();
        random.nextBytes(new byte[1]);
        rng = new VirtioPciTransport(new VirtioRng(vm.ram().memory(), random::nextBytes), vm.interrupts());
        rng.addBarListener(bars);
        pci.attach(rng);
        pm = new AcpiPm(vm.interrupts(), AcpiPm.SCI_IRQ, System::nanoTime,
                () -> vm.terminate(VmExit.poweroff("guest powered off (ACPI S5)")));
        vm.pio().register(AcpiPm.DEFAULT_BASE, AcpiPm.WINDOW, pm);
        // The tables go in the BIOS area the e820 map reserves, the RSDP where Linux's scan looks.
        AcpiTables tables = new AcpiTables(AcpiTables.Config.pc(vm.vcpuCount(), pci.mmioBase(), pci.mmioSize()));
        try {
            acpi = tables.install(vm.ram().memory(), ACPI_RSDP, ACPI_TABLES);
        } catch (GuestFault f) {
            throw new IllegalStateException("the BIOS area is not guest RAM: " + f.getMessage(), f);
        }
        if (acpi.end() > ACPI_RSDP) {
            throw new IllegalStateException("ACPI tables overflow into the RSDP: end 0x" + Long.toHexString(acpi.end()));
        }
        rtcTimer = Thread.ofPlatform().daemon().name("vm/" + vm.name() + "/rtc").start(this::rtcLoop);
    }

    /** Drives the RTC's interrupt flags at its next event (the RTC has no thread of its own). */
    private void rtcLoop() {
        while (!closed) {
            long next = rtc.nanosUntilNextEvent();
            LockSupport.parkNanos(next < 0 ? RTC_IDLE_NANOS : Math.min(next, RTC_IDLE_NANOS));
            if (!closed) {
                rtc.poll();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(rtcTimer);
    }
}
