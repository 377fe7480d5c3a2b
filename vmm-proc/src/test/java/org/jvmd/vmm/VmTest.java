package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jvmd.sys.kvm.Kvm;
import org.jvmd.sys.kvm.Regs;
import org.jvmd.sys.kvm.Sregs;
import org.jvmd.sys.kvm.VcpuFd;
import org.jvmd.testkit.RequiresKvm;
import org.jvmd.vmm.boot.BzImage;
import org.jvmd.vmm.boot.SyntheticBzImage;
import org.jvmd.vmm.bus.BusDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.GuestCode;
import org.junit.jupiter.api.Timeout;

/**
 * The VM core with tiny real-mode guests on this machine's /dev/kvm (kvm_pvm included):
 * exits reach the buses, pause parks every vCPU (the waiting AP too) and resume restarts
 * them, the boot loader's long-mode entry state works, a triple fault ends the VM as a
 * reboot, and stop/close release everything.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@Tag("kvm")
@RequiresKvm
class VmTest {
    private static final long CODE = 0x1000;
    private Kvm kvm;
    private Vm vm;

    @BeforeEach
    void open() throws Exception {
        kvm = Kvm.open();
    }

    @AfterEach
    void close() {
        if (vm != null) {
            vm.close();
        }
        if (kvm != null) {
            kvm.close();
        }
    }

    private void realModeGuest(int vcpus, String hex) throws Exception {
        vm = Vm.create(kvm, new Vm.Config("t", 4L << 20, vcpus));
        byte[] code = GuestCode.hex(hex);
        vm.ram().memory().write(CODE, code, 0, code.length);
        VcpuFd bsp = vm.vcpuFd(0);
        Sregs s = bsp.getSregs();
        s.cs.base = 0;
        s.cs.selector = 0;
        bsp.setSregs(s);
        Regs r = new Regs();
        r.rip = CODE;
        r.rflags = 2;
        bsp.setRegs(r);
    }

    /** A port that records writes and answers reads with 0x99. */
    private static final class Port implements BusDevice {
        final List<Long> writes = new CopyOnWriteArrayList<>();
        final AtomicLong count = new AtomicLong();

        @Override
        public long read(long offset, int size) {
            return 0x99;
        }

        @Override
        public void write(long offset, int size, long value) {
            writes.add(value);
            count.incrementAndGet();
        }
    }

    @Test
    void portExitsReachTheBusBothWays() throws Exception {
        // mov dx,0x500; mov al,0x42; out dx,al; in al,dx; out dx,al; jmp $
        realModeGuest(1, "ba0005 b042 ee ec ee ebfe");
        Port port = new Port();
        vm.pio().register(0x500, 1, port);
        vm.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (port.writes.size() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(List.of(0x42L, 0x99L), port.writes);
        vm.terminate(VmExit.stopped("test over"));
        VmExit e = vm.awaitExit(10_000);
        assertEquals(VmExit.Kind.STOPPED, e.kind());
    }

    @Test
    void residentBytesGrowAsTheGuestTouchesItsMemory() throws Exception {
        // mov bx,0x2000; l: mov es,bx; xor di,di; mov cx,0x8000; mov ax,0x5a5a; rep stosw;
        // add bx,0x1000; cmp bx,0xa000; jne l; mov dx,0x500; out dx,al; jmp $
        // (fills 0x20000-0x9ffff: 512 KiB, then says so on port 0x500)
        realModeGuest(1, "bb0020 8ec3 31ff b90080 b85a5a f3ab 81c30010 81fb00a0 75ea ba0005 ee ebfe");
        Port port = new Port();
        vm.pio().register(0x500, 1, port);
        long before = vm.ram().residentBytes();
        vm.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (port.writes.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(1, port.writes.size(), "the guest finished its writes");
        long after = vm.ram().residentBytes();
        assertTrue(after >= before + (384 << 10) && after <= 4L << 20,
                "the guest wrote 512 KiB: " + before + " -> " + after);
        vm.terminate(VmExit.stopped("test over"));
        assertEquals(VmExit.Kind.STOPPED, vm.awaitExit(10_000).kind());
    }

    @Test
    void pauseParksEveryVcpuAndResumeRunsThemAgain() throws Exception {
        // mov dx,0x500; l: inc ax; out dx,ax; jmp l
        realModeGuest(2, "ba0005 40 ef ebfc");
        Port port = new Port();
        vm.pio().register(0x500, 2, port);
        vm.start();
        waitForMore(port, 0);
        vm.pause(10_000);
        assertTrue(vm.paused());
        long frozen = port.count.get();
        Thread.sleep(200);
        assertEquals(frozen, port.count.get(), "no exits while paused");
        vm.resume();
        waitForMore(port, frozen);
        vm.terminate(VmExit.stopped("test over"));
        assertEquals(VmExit.Kind.STOPPED, vm.awaitExit(10_000).kind());
    }

    /**
     * A "kernel" whose 64-bit entry reads type_of_loader from the zero page (%rsi), writes it
     * to port 0x500, then executes ud2 with no IDT: #UD, #DF, triple fault.
     */
    private Port longModeKernel() throws Exception {
        vm = Vm.create(kvm, new Vm.Config("t", 64L << 20, 1));
        byte[] code = GuestCode.hex("66ba0005 8a8610020000 ee 0f0b");
        BzImage k = BzImage.parse(new SyntheticBzImage().initSize(8L << 20).entryCode(code).build());
        vm.loadLinux(k, org.jvmd.vmm.boot.BootFile.NONE, "tiny", vm.e820(), 0);
        Port port = new Port();
        vm.pio().register(0x500, 1, port);
        return port;
    }

    @Test
    void theLinuxLoaderEntersLongModeWithRsiAtTheZeroPageAndATripleFaultIsAReboot() throws Exception {
        Port port = longModeKernel();
        vm.start();
        VmExit e = vm.awaitExit(30_000);
        assertEquals(List.of(0xFFL), port.writes, "type_of_loader read through %rsi in 64-bit mode");
        assertEquals(VmExit.Kind.REBOOT, e.kind());
        assertTrue(e.reason().contains("triple fault"), e.reason());
    }

    @Test
    void aStopRequestTurnsTheGuestsResetIntoStopped() throws Exception {
        longModeKernel();
        vm.requestStop("stopped by vmd");
        vm.start();
        VmExit e = vm.awaitExit(30_000);
        assertEquals(VmExit.Kind.STOPPED, e.kind());
        assertTrue(e.reason().startsWith("stopped by vmd (") && e.reason().contains("triple fault"), e.reason());
    }

    @Test
    void theFirstTerminationWins() throws Exception {
        realModeGuest(1, "ebfe");
        vm.start();
        vm.terminate(VmExit.poweroff("first"));
        vm.terminate(VmExit.error("second"));
        assertEquals(VmExit.poweroff("first"), vm.awaitExit(10_000));
        assertFalse(vm.paused());
    }

    @Test
    void msiRoutesAreAllocatedFromGsi24AndCommittedToKvm() throws Exception {
        vm = Vm.create(kvm, new Vm.Config("t", 4L << 20, 1));
        IrqRouting r = vm.routing();
        int a = r.addMsi(0xFEE0_0000L, 0x41);
        int b = r.addMsi(0xFEE0_0000L, 0x42);
        assertEquals(IrqRouting.IOAPIC_PINS, a);
        assertEquals(IrqRouting.IOAPIC_PINS + 1, b);
        r.commit();
        r.updateMsi(b, 0xFEE0_1000L, 0x43);
        r.removeMsi(a);
        r.commit();
        assertEquals(a, r.addMsi(0xFEE0_0000L, 0x44), "a freed GSI is reused");
        r.commit();
    }

    private static void waitForMore(Port port, long than) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (port.count.get() <= than + 3 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(port.count.get() > than + 3, "the guest kept running: " + port.count.get());
    }
}
