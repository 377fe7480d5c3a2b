package org.jvmd.vmm.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import com.google.protobuf.ByteString;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.Frame;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;
import org.jvmd.virtio.net.TunFlags;
import org.jvmd.vmm.proxy.AttachedDevice;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.kvm.Kvm;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.sys.net.Netns;
import org.jvmd.sys.net.Tap;
import org.jvmd.testkit.RequiresKvm;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.vmm.MemoryLayout;
import org.jvmd.vmm.Vm;
import org.jvmd.vmm.bus.Bus;
import org.jvmd.vmm.devices.RecordingInterrupts;
import org.jvmd.vmm.pci.PciBarMapper;
import org.jvmd.vmm.pci.PciHost;
import org.jvmd.vmm.pci.VirtioPciDriver;
import org.jvmd.vmm.pci.VirtioPciTransport;

/**
 * The proxy in front of a REAL vionet-proc (a child JVM that drops privilege), with a tap
 * in a network namespace this test creates (100.64.61.0/24). The guest is the virtio-pci
 * driver model on a real transport, over a memfd both sides map. Without KVM here, kicks
 * take the transport's slow path into the proxy's kick eventfds, and interrupts are read
 * off the proxy's call eventfds (what KVM's irqfds would watch).
 */
@Tag("kvm")
@NetnsTest
class VionetProxyProcessTest {
    /**
     * How long vionet-proc has to answer Ready: vmm-proc's default, four times that in kvm-lab,
     * where a JVM start took over 60 s on a loaded host (a lab run of 2026-12-05).
     */
    static final long READY_MS = System.getenv("KVM_LAB") != null ? 4 * VmNics.READY_TIMEOUT_MS : VmNics.READY_TIMEOUT_MS;

    private static final byte[] MAC = {2, 0, 0, 0, 0x61, 2};
    private static final long FEATURES = VirtioNetFeatures.bit(VirtioNetFeatures.CSUM)
            | VirtioNetFeatures.bit(VirtioNetFeatures.GUEST_CSUM) | VirtioNetFeatures.bit(VirtioNetFeatures.MAC);
    private static final long VERSION_1 = 1L << VirtioNetFeatures.VERSION_1;
    private static final int MEM = 8 << 20;
    private static final int HDR = 12; // virtio_net_hdr with num_buffers (virtio 1.2 §5.1.6)
    private static final long T = 20_000;

    @Test
    void proxyRelaysARealVionetAndFlagsNeedsResetWhenItDies(NetNs ns) throws Exception {
        Path empty = Files.createTempDirectory("jvmd-vmmnet-empty");
        Path log = Path.of("target", "vmmnet-vionet.log");
        Files.deleteIfExists(log);
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        BlockingQueue<TunCapabilities> uplink = new LinkedBlockingQueue<>();
        NicConfig nic = NicConfig.newBuilder().setIndex(0).setMac(ByteString.copyFrom(MAC)).setMtu(1500)
                .setFeatures(FEATURES).setTapName("vmn0").build();
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open("vmn0"));
             Fd memfd = Memfd.create("guest", MEM);
             MappedGuestMemory mem = MappedGuestMemory.map(memfd, MEM);
             VionetProxy proxy = VionetProxy.spawn("vm/test/vionet0", nic, uplink::add, memfd.dup(), tap.fd().dup(),
                     List.of(MemoryRegion.newBuilder().setGuestPhys(0).setSize(MEM).build()), "_vmd",
                     empty.toString(), log, cp, READY_MS)) {
            ns.ip("addr", "add", "100.64.61.1/24", "dev", "vmn0");
            ns.ip("link", "set", "vmn0", "up");
            assertTrue(proxy.pid() > 0);

            RecordingInterrupts irqs = new RecordingInterrupts();
            VirtioPciTransport transport = new VirtioPciTransport(proxy, irqs);
            proxy.bind(transport);
            Bus mmio = new Bus("mmio");
            transport.addBarListener(new PciBarMapper(mmio));
            transport.setBarAddress(VirtioPciTransport.BAR, 0xC000_0000L);
            VirtioPciDriver driver = new VirtioPciDriver(transport, mmio).probe();

            // The guest driver: features, MSI-X, an RX and a TX queue, DRIVER_OK.
            assertTrue(driver.negotiate(VERSION_1 | FEATURES));
            driver.enableMsix(3);
            driver.write(0x10, 2, 0); // msix_config = vector 0 (virtio 1.2 §4.1.4.3)
            GuestAllocator alloc = new GuestAllocator(mem, 0x10000, MEM);
            DriverQueue rx = DriverQueue.create(mem, alloc, 64, 0, 0);
            DriverQueue tx = DriverQueue.create(mem, alloc, 64, 0, 0);
            driver.setupQueue(VionetProxy.RX, 64, rx.layout().desc(), rx.layout().avail(), rx.layout().used(), 1);
            driver.setupQueue(VionetProxy.TX, 64, tx.layout().desc(), tx.layout().avail(), tx.layout().used(), 2);
            long[] rxBufs = new long[16];
            for (int i = 0; i < rxBufs.length; i++) {
                rxBufs[i] = alloc.allocate(2048, 64);
                rx.writable(rxBufs[i], 2048).add();
            }
            rx.kick();
            driver.setStatus(driver.status() | VirtioPciTransport.STATUS_DRIVER_OK);

            // TUNSCAP: vionet's requests come up through the proxy (one at the initial reset with no
            // offloads, one at DRIVER_OK with GUEST_CSUM); vmd's answer to each goes down.
            TunCapabilities caps;
            do {
                caps = uplink.poll(T, TimeUnit.MILLISECONDS);
                assertNotNull(caps, "no TunCapabilities relayed; vionet log:\n" + readLog(log));
                tap.setOffload(caps.getTunFlags());
                proxy.tuncapReply(TunCapabilitiesReply.newBuilder().setOk(true).setAppliedFlags(caps.getTunFlags())
                        .build());
            } while ((caps.getTunFlags() & TunFlags.CSUM) == 0);
            assertEquals(0, caps.getTunFlags() & TunFlags.TSO4, "GUEST_TSO4 was not acked");

            // Guest -> tap: an ARP request; the kick goes through the transport to vionet's eventfd.
            byte[] arp = arpRequest();
            long txBuf = alloc.allocate(arp.length, 64);
            mem.write(txBuf, arp, 0, arp.length);
            assertNotEquals(DriverQueue.NONE, tx.readable(txBuf, arp.length).add());
            tx.kick();
            driver.kick(VionetProxy.TX);

            // Tap -> guest: the namespace's ARP reply, announced on the RX vector's call eventfd.
            EventFd rxCall = proxy.calls().get(1);
            byte[] reply = null;
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(T);
            while (reply == null && System.nanoTime() < deadline) {
                LibC.poll(rxCall.fd(), LibC.POLLIN, 200);
                rxCall.read();
                for (int head; (head = rx.reap()) != DriverQueue.NONE; ) {
                    byte[] f = new byte[rx.usedLen()];
                    mem.read(rxBufs[head], f, 0, f.length);
                    if (f.length >= HDR + 42 && (f[HDR + 12] & 0xff) == 0x08 && f[HDR + 13] == 0x06 && f[HDR + 21] == 2) {
                        reply = f;
                    }
                }
            }
            assertNotNull(reply, "no ARP reply reached the guest; vionet log:\n" + readLog(log));
            for (int i = 0; i < 6; i++) {
                assertEquals(MAC[i], reply[HDR + i], "the reply is addressed to the guest");
            }

            NicStats st = proxy.stats(T).getNics(0);
            assertEquals(1, st.getTxFrames());
            assertTrue(st.getRxFrames() >= 1);

            // vionet dies: the device asks for a reset, the VM goes on.
            LibC.kill(proxy.pid(), LibC.SIGKILL);
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(T);
            while ((driver.status() & VirtioPciTransport.STATUS_NEEDS_RESET) == 0 && System.nanoTime() < until) {
                Thread.sleep(5);
            }
            assertTrue((driver.status() & VirtioPciTransport.STATUS_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
            assertFalse(proxy.alive());
            // The status bit is set before the configuration-change MSI is sent: wait for both.
            RecordingInterrupts.Msi configChange = new RecordingInterrupts.Msi(VirtioPciDriver.MSI_ADDRESS, 0x40);
            boolean sent = false;
            while (!sent && System.nanoTime() < until) {
                synchronized (irqs) {
                    sent = irqs.msis.contains(configChange);
                }
                if (!sent) {
                    Thread.sleep(5);
                }
            }
            synchronized (irqs) {
                assertTrue(sent, "configuration change MSI: " + irqs.msis);
            }
        } finally {
            Files.deleteIfExists(empty);
        }
    }

    /** VmmChild's path: a vionet-proc per NIC spawned and plugged into a real KVM VM's PCI host, torn down with it. */
    @Test
    @RequiresKvm
    void vmNicsSpawnsAVionetPerNicPlugsItInAndReapsItOnClose(NetNs ns) throws Exception {
        Path empty = Files.createTempDirectory("jvmd-vmmnet-empty");
        Path log = Path.of("target", "vmmnet-vmnics.log");
        NicConfig nic = NicConfig.newBuilder().setMac(ByteString.copyFrom(MAC)).setMtu(1500).setFeatures(FEATURES)
                .setTapName("vmn1").build();
        int pid;
        try (Kvm kvm = Kvm.open(); Vm vm = Vm.create(kvm, new Vm.Config("nics", 2L << 20, 1))) {
            PciHost pci = new PciHost(MemoryLayout.PCI_MMIO_START, MemoryLayout.PCI_MMIO_SIZE, () -> {});
            Tap tap = Netns.call(ns.name(), () -> Tap.open("vmn1"));
            List<Fd> taps = new java.util.ArrayList<>(List.of(tap.fd().dup()));
            tap.close();
            try (VmNics nics = VmNics.attach("vm/nics", vm, pci, new PciBarMapper(vm.mmio()), List.of(nic), taps,
                    null, "_vmd", empty.toString(), caps -> {}, log, READY_MS)) {
                assertEquals(1, nics.nics().size());
                AttachedDevice<VionetProxy> n = nics.nics().get(0);
                assertEquals("vm/nics/vionet0", n.proxy().title());
                assertEquals(1, n.slot());
                assertEquals(n.transport(), pci.device(1));
                assertEquals(VirtioPciTransport.DEVICE_ID_BASE + VionetProxy.DEVICE_TYPE,
                        (int) pci.device(1).readConfig(2, 2));
                pid = n.proxy().pid();
                assertTrue(Files.exists(Path.of("/proc/" + pid)));
                List<NicStats> stats = nics.stats(T).getNicsList();
                assertEquals(1, stats.size());
                assertEquals(0, stats.get(0).getNic());
                nics.tuncapReply(TunCapabilitiesReply.newBuilder().setNic(7).build()); // no such NIC: logged, ignored
            }
            assertFalse(Files.exists(Path.of("/proc/" + pid)), "vionet was reaped with the VM's NICs");
        } finally {
            Files.deleteIfExists(empty);
        }
    }

    private static String readLog(Path log) throws IOException {
        return Files.exists(log) ? Files.readString(log) : "(none)";
    }

    /** A zero virtio_net_hdr and an ARP request 100.64.61.2 -> who has 100.64.61.1. */
    /** An ARP request (RFC 826) for 100.64.61.1 from MAC at 100.64.61.2, after the 12-byte virtio_net_hdr. */
    private static byte[] arpRequest() {
        return Frame.ethernet(new byte[] {-1, -1, -1, -1, -1, -1}, MAC).headroom(HDR)
                .arp(1, MAC, new byte[] {100, 64, 61, 2}, new byte[6], new byte[] {100, 64, 61, 1}).build();
    }
}
