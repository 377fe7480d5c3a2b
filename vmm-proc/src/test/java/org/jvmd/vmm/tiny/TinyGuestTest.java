package org.jvmd.vmm.tiny;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import com.google.protobuf.ByteString;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.ToVionet;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.kvm.Kvm;
import org.jvmd.vmm.GuestRam;
import org.jvmd.vmm.IrqRouting;
import org.jvmd.vmm.proxy.AttachedDevice;
import org.jvmd.vmm.net.VionetPeer;
import org.jvmd.vmm.net.VionetProxy;
import org.jvmd.sys.memory.MappedGuestMemory;
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
@Tag("kvm")
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

    /**
     * The device-process path: the guest's kick is swallowed by KVM into the queue's
     * ioeventfd (no exit), the vionet end of the channel completes the buffer in the memfd
     * it was handed and signals the vector's call eventfd, and KVM delivers the MSI through
     * the irqfd and the GSI route that follows the guest's MSI-X table entry.
     */
    @Test
    void tinyGuestKicksVionetThroughIoeventfdAndTakesIrqfdInterrupt() throws Exception {
        TinyGuest.assumeKvm();
        NicConfig nicConfig = NicConfig.newBuilder().setIndex(0).setTapName("tiny0").setMtu(1500)
                .setMac(ByteString.copyFrom(new byte[] {(byte) 0xfe, (byte) 0xe1, (byte) 0xba, 0, 0, 1})).build();
        Channel[] ch = Channel.pair();
        try (Kvm kvm = Kvm.open(); Vm vm = Vm.create(kvm, new Vm.Config("tiny", RAM, 1));
             VionetPeer peer = new VionetPeer(ch[1])) {
            PciHost pci = new PciHost(MemoryLayout.PCI_MMIO_START, MemoryLayout.PCI_MMIO_SIZE,
                    () -> vm.terminate(VmExit.reboot("PCI reset")));
            vm.pio().register(PciHost.CONFIG_ADDRESS_PORT, PciHost.WINDOW, pci);
            VionetProxy proxy = new VionetProxy("vm/tiny/vionet0", nicConfig, caps -> {});
            proxy.start(ch[0], null, vm.ram().memfd().dup(), LibC.open("/dev/null", LibC.O_RDWR),
                    VionetProxy.regions(GuestRam.ranges(vm.ram().layout())), "", "", 5_000);
            ToVionet init = peer.next(ToVionet.MsgCase.INIT, 5_000);
            try (AttachedDevice<VionetProxy> nic = AttachedDevice.attach(vm, pci, new PciBarMapper(vm.mmio()), proxy);
                 MappedGuestMemory deviceView = peer.mapMemory(init)) {
                TinyGuest guest = new TinyGuest(vm);
                guest.load();
                List<ToVionet> control = new CopyOnWriteArrayList<>();
                AtomicReference<Throwable> deviceFailure = new AtomicReference<>();
                Thread device = Thread.ofPlatform().name("tiny-device").start(() -> {
                    try {
                        serveOneRxBuffer(peer, control, deviceView);
                    } catch (Throwable e) {
                        deviceFailure.set(e);
                    }
                });
                guest.diagnostics = () -> "transport notifies " + nic.transport().notifies() + ", status 0x"
                        + Integer.toHexString(nic.transport().status()) + ", kick base 0x"
                        + Long.toHexString(nic.eventfds().kickBase()) + ", irqfd " + nic.eventfds().irqfdAssigned(0)
                        + ", eventfd failures " + nic.eventfds().failures() + ", control " + control
                        + ", device failure " + deviceFailure.get();

                VmExit exit = guest.run(TIMEOUT_MS);
                device.join(5_000);

                assertEquals(null, deviceFailure.get());
                assertEquals(TinyGuest.DONE_OK, guest.done, () -> "guest ended with " + exit + ", reports " + hex(guest.reports));
                List<Long> r = guest.reports;
                assertEquals(VirtioPciTransport.VENDOR
                        | (long) (VirtioPciTransport.DEVICE_ID_BASE + VionetProxy.DEVICE_TYPE) << 16, r.get(0));
                assertEquals(List.of(1L, 0x0fL, 1L, (long) TinyGuest.BUF_LEN), r.subList(4, 8),
                        "features 63:32, status, used.idx, used.len");
                assertEquals(0, nic.transport().notifies(), "the kick never left KVM (ioeventfd)");
                assertEquals(0, nic.transport().msix().delivered(), "no KVM_SIGNAL_MSI: the interrupt came by irqfd");
                assertEquals(TinyGuest.BAR, nic.eventfds().kickBase());
                assertTrue(nic.eventfds().irqfdAssigned(0));
                assertTrue(nic.eventfds().gsi(0) >= IrqRouting.IOAPIC_PINS);
                assertEquals(0, nic.eventfds().failures());
                assertEquals(ToVionet.MsgCase.FEATURES_ACKED, control.get(control.size() - 3).getMsgCase());
                assertEquals(1L << 32, control.get(control.size() - 3).getFeaturesAcked().getFeatures());
                assertEquals(QueueReady.newBuilder().setQueue(0).setSize(TinyGuest.QUEUE_SIZE).setDesc(TinyGuest.DESC)
                        .setDriver(TinyGuest.AVAIL).setDevice(TinyGuest.USED).setMsixVector(0).build(),
                        control.get(control.size() - 2).getQueueReady());
                assertTrue(control.get(control.size() - 1).hasDriverOk());
            }
        }
    }

    /**
     * The vionet end's part in the test: after DriverOk, waits for the kick on queue 0's
     * eventfd, completes descriptor 0 with {@link TinyGuest#BUF_LEN} bytes in the used ring
     * (virtio 1.2 §2.7.8) and signals the call eventfd of the queue's vector.
     */
    private static void serveOneRxBuffer(VionetPeer peer, List<ToVionet> control, MappedGuestMemory mem)
            throws Exception {
        ToVionet m;
        int vector = -1;
        do {
            m = peer.next(TIMEOUT_MS);
            control.add(m);
            if (m.hasQueueReady() && m.getQueueReady().getQueue() == 0) {
                vector = m.getQueueReady().getMsixVector();
            }
        } while (!m.hasDriverOk());
        Fd kick = peer.fd(FdRole.FD_KICK, 0);
        short revents = LibC.poll(kick, LibC.POLLIN, (int) TIMEOUT_MS);
        if ((revents & LibC.POLLIN) == 0) {
            throw new AssertionError("no kick on queue 0's eventfd");
        }
        EventFd.read(kick);
        mem.writeInt(TinyGuest.USED + 4, 0); // used.ring[0].id: descriptor 0
        mem.writeInt(TinyGuest.USED + 8, TinyGuest.BUF_LEN); // used.ring[0].len
        mem.writeShortRelease(TinyGuest.USED + 2, (short) 1); // used.idx
        EventFd.signal(peer.fd(FdRole.FD_CALL, vector), 1);
    }

    static String hex(List<Long> values) {
        return values.stream().map(v -> "0x" + Long.toHexString(v)).toList().toString();
    }
}
