package org.jvmd.vmm;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jvmd.sys.SysException;
import org.jvmd.sys.kvm.Cpuid;
import org.jvmd.sys.kvm.Kvm;
import org.jvmd.sys.kvm.Regs;
import org.jvmd.sys.kvm.Sregs;
import org.jvmd.sys.kvm.VcpuFd;
import org.jvmd.sys.kvm.VmFd;
import org.jvmd.vmm.boot.BootCpuState;
import org.jvmd.vmm.boot.BootException;
import org.jvmd.vmm.boot.BzImage;
import org.jvmd.vmm.boot.E820Entry;
import org.jvmd.vmm.boot.E820Map;
import org.jvmd.vmm.boot.BootFile;
import org.jvmd.vmm.boot.LinuxLoader;
import org.jvmd.vmm.boot.Segment;
import org.jvmd.vmm.bus.Bus;
import org.jvmd.vmm.bus.Interrupts;

/**
 * A KVM virtual machine (vmd's vm.c): the VM fd with its in-kernel irqchip and PIT, guest
 * RAM, the port-I/O and MMIO buses, and the vCPUs with their threads. It runs until
 * something {@linkplain #terminate terminates} it: the guest (power-off, reset, triple
 * fault), a device, the parent, or a fault; the first termination wins.
 *
 * <p>Run states: running, paused (every vCPU parked outside KVM_RUN), stopping. Changes
 * are made by setting the state and kicking every vCPU.
 */
public final class Vm implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("org.jvmd.vmm");

    /** What KVM must offer; each is used by the VMM or its device processes. */
    private static final int[][] REQUIRED = {
            {Kvm.CAP_IRQCHIP}, {Kvm.CAP_USER_MEMORY}, {Kvm.CAP_SET_TSS_ADDR}, {Kvm.CAP_EXT_CPUID},
            {Kvm.CAP_PIT2}, {Kvm.CAP_IRQ_ROUTING}, {Kvm.CAP_IRQFD}, {Kvm.CAP_IOEVENTFD}, {Kvm.CAP_SIGNAL_MSI},
            {Kvm.CAP_IMMEDIATE_EXIT}, {Kvm.CAP_SET_IDENTITY_MAP_ADDR}, {Kvm.CAP_MP_STATE}};
    private static final String[] REQUIRED_NAMES = {
            "KVM_CAP_IRQCHIP", "KVM_CAP_USER_MEMORY", "KVM_CAP_SET_TSS_ADDR", "KVM_CAP_EXT_CPUID",
            "KVM_CAP_PIT2", "KVM_CAP_IRQ_ROUTING", "KVM_CAP_IRQFD", "KVM_CAP_IOEVENTFD", "KVM_CAP_SIGNAL_MSI",
            "KVM_CAP_IMMEDIATE_EXIT", "KVM_CAP_SET_IDENTITY_MAP_ADDR", "KVM_CAP_MP_STATE"};
    /** Local APIC LVT LINT0 / LINT1 registers and delivery modes (Intel SDM Vol. 3A §11.5.1). */
    private static final int APIC_LVT_LINT0 = 0x350;
    private static final int APIC_LVT_LINT1 = 0x360;
    private static final int APIC_MODE_NMI = 0x4 << 8;
    private static final int APIC_MODE_EXTINT = 0x7 << 8;
    /** x87 control word after FNINIT (Intel SDM Vol. 1 §8.1.5) and MXCSR after reset (Vol. 1 §10.2.3.1). */
    private static final int FPU_FCW_INIT = 0x37F;
    private static final int MXCSR_INIT = 0x1F80;

    /** A VM's shape. */
    public record Config(String name, long memoryBytes, int vcpus) {
    }

    private enum RunState { RUNNING, PAUSED, STOPPING }

    private final String name;
    private final VmFd vm;
    private final GuestRam ram;
    private final Bus pio = new Bus("pio");
    private final Bus mmio = new Bus("mmio");
    private final KvmInterrupts interrupts;
    private final IrqRouting routing;
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final CompletableFuture<VmExit> exit = new CompletableFuture<>();
    private final Object stateLock = new Object();
    private volatile RunState state = RunState.RUNNING;
    private volatile String stopRequested;
    private int parked; // guarded by stateLock
    private int running; // vCPU threads started and not yet ended; guarded by stateLock
    private long startNanos;

    private Vm(String name, VmFd vm, GuestRam ram, int maxGsi) {
        this.name = name;
        this.vm = vm;
        this.ram = ram;
        this.interrupts = new KvmInterrupts(vm);
        this.routing = new IrqRouting(vm, maxGsi);
    }

    /**
     * Creates the VM on {@code kvm} (which the caller keeps): checks KVM's API and
     * capabilities, sets up the irqchip, PIT, routing, RAM and vCPUs with their CPUID.
     */
    public static Vm create(Kvm kvm, Config config) throws VmmException, SysException {
        int api = kvm.apiVersion();
        if (api != Kvm.API_VERSION) {
            throw new VmmException("kvm: API version " + api + ", jvmd needs " + Kvm.API_VERSION);
        }
        for (int i = 0; i < REQUIRED.length; i++) {
            if (kvm.checkExtension(REQUIRED[i][0]) <= 0) {
                throw new VmmException("kvm: missing capability " + REQUIRED_NAMES[i]);
            }
        }
        int maxVcpus = kvm.checkExtension(Kvm.CAP_MAX_VCPUS);
        if (maxVcpus <= 0) {
            maxVcpus = kvm.checkExtension(Kvm.CAP_NR_VCPUS);
        }
        if (config.vcpus() < 1 || config.vcpus() > Math.min(maxVcpus, 254)) {
            throw new VmmException("vcpus: " + config.vcpus() + " is outside 1.." + Math.min(maxVcpus, 254));
        }
        MemoryLayout layout;
        try {
            layout = MemoryLayout.of(config.memoryBytes());
        } catch (IllegalArgumentException e) {
            throw new VmmException("memory: " + e.getMessage());
        }
        VmFd vmfd = kvm.createVm();
        GuestRam ram = null;
        Vm vm = null;
        try {
            // Order matters: the identity map address must be set before any vCPU exists.
            vmfd.setIdentityMapAddr(MemoryLayout.KVM_IDENTITY_MAP_ADDR);
            vmfd.setTssAddr(MemoryLayout.KVM_TSS_ADDR);
            vmfd.createIrqchip();
            vmfd.createPit2(VmFd.PIT_SPEAKER_DUMMY);
            ram = GuestRam.create("vm/" + config.name(), layout, vmfd);
            vm = new Vm(config.name(), vmfd, ram, kvm.checkExtension(Kvm.CAP_IRQ_ROUTING));
            vm.routing.commit();
            Cpuid supported = kvm.supportedCpuid();
            for (int i = 0; i < config.vcpus(); i++) {
                VcpuFd v = vmfd.createVcpu(i);
                vm.vcpus.add(new Vcpu(vm, v, vm.pio, vm.mmio));
                v.setCpuid2(CpuidSetup.forVcpu(supported, i, config.vcpus()));
                initLapic(v);
            }
            return vm;
        } catch (SysException | RuntimeException e) {
            if (vm != null) {
                vm.close();
            } else {
                if (ram != null) {
                    ram.close();
                }
                vmfd.close();
            }
            throw e;
        }
    }

    /** LINT0 as ExtINT (the PIC in virtual-wire mode) and LINT1 as NMI, as PC firmware leaves them (MP spec 1.4 §3.6.2.1). */
    private static void initLapic(VcpuFd v) throws SysException {
        byte[] lapic = v.getLapic();
        putInt(lapic, APIC_LVT_LINT0, APIC_MODE_EXTINT);
        putInt(lapic, APIC_LVT_LINT1, APIC_MODE_NMI);
        v.setLapic(lapic);
    }

    private static void putInt(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
        b[off + 2] = (byte) (v >>> 16);
        b[off + 3] = (byte) (v >>> 24);
    }

    public String name() {
        return name;
    }

    public GuestRam ram() {
        return ram;
    }

    public Bus pio() {
        return pio;
    }

    public Bus mmio() {
        return mmio;
    }

    public Interrupts interrupts() {
        return interrupts;
    }

    public IrqRouting routing() {
        return routing;
    }

    public VmFd fd() {
        return vm;
    }

    public int vcpuCount() {
        return vcpus.size();
    }

    /** vCPU {@code i}'s fd, for setting its state before {@link #start()} (also the tiny-guest tests of other packages). */
    public VcpuFd vcpuFd(int i) {
        return vcpus.get(i).fd();
    }

    /** The e820 map the guest gets: the PC map of the layout, with KVM's private pages reserved. */
    public E820Map e820() {
        return E820Map.standard(ram.layout()).with(new E820Entry(MemoryLayout.KVM_IDENTITY_MAP_ADDR,
                MemoryLayout.KVM_RESERVED_END - MemoryLayout.KVM_IDENTITY_MAP_ADDR, E820Entry.RESERVED));
    }

    /**
     * Loads a Linux bzImage, initrd and command line and points the bootstrap processor at
     * its 64-bit entry; the application processors wait for the kernel's INIT/SIPI.
     */
    public LinuxLoader.Loaded loadLinux(BzImage kernel, BootFile initrd, String cmdline, E820Map e820, long acpiRsdp)
            throws BootException, SysException {
        LinuxLoader.Loaded l = LinuxLoader.load(ram.memory(), ram.layout(), e820, kernel, initrd, cmdline, acpiRsdp);
        setBootState(vcpus.get(0).fd(), l.cpu());
        return l;
    }

    private static void setBootState(VcpuFd bsp, BootCpuState cpu) throws SysException {
        Sregs s = bsp.getSregs();
        apply(s.cs, cpu.code());
        for (Sregs.Segment d : new Sregs.Segment[] {s.ds, s.es, s.fs, s.gs, s.ss}) {
            apply(d, cpu.data());
        }
        s.gdtBase = cpu.gdtBase();
        s.gdtLimit = cpu.gdtLimit();
        s.idtBase = cpu.idtBase();
        s.idtLimit = cpu.idtLimit();
        s.cr0 = cpu.cr0();
        s.cr3 = cpu.cr3();
        s.cr4 = cpu.cr4();
        s.efer = cpu.efer();
        bsp.setSregs(s);
        Regs r = new Regs();
        r.rip = cpu.rip();
        r.rsi = cpu.rsi();
        r.rsp = cpu.rsp();
        r.rbp = cpu.rsp();
        r.rflags = cpu.rflags();
        bsp.setRegs(r);
        var fpu = bsp.getFpu();
        fpu.fcw = FPU_FCW_INIT;
        fpu.mxcsr = MXCSR_INIT;
        bsp.setFpu(fpu);
    }

    private static void apply(Sregs.Segment s, Segment b) {
        s.base = b.base();
        s.limit = b.limit();
        s.selector = b.selector();
        s.type = b.type();
        s.present = b.present();
        s.dpl = b.dpl();
        s.db = b.db();
        s.s = b.s();
        s.l = b.l();
        s.g = b.g();
        s.avl = false;
        s.unusable = false;
    }

    /** Starts every vCPU thread. */
    public void start() {
        startNanos = System.nanoTime();
        synchronized (stateLock) {
            running = vcpus.size();
        }
        for (Vcpu v : vcpus) {
            v.start();
        }
    }

    public long startNanos() {
        return startNanos;
    }

    /**
     * Called by a vCPU thread outside KVM_RUN: true to run on, false to end the thread.
     * Parks the thread while the VM is paused.
     */
    boolean checkpoint() {
        RunState s = state;
        if (s == RunState.RUNNING) {
            return true;
        }
        synchronized (stateLock) {
            if (state == RunState.PAUSED) {
                parked++;
                stateLock.notifyAll();
                try {
                    while (state == RunState.PAUSED) {
                        stateLock.wait();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                } finally {
                    parked--;
                }
            }
            if (state == RunState.STOPPING) {
                running--;
                stateLock.notifyAll();
                return false;
            }
            return true;
        }
    }

    /** Pauses every vCPU; returns once all are parked (or the VM ended). */
    public void pause(long timeoutMillis) throws TimeoutException, InterruptedException {
        synchronized (stateLock) {
            if (state != RunState.RUNNING) {
                return;
            }
            state = RunState.PAUSED;
        }
        kickAll();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (stateLock) {
            while (state == RunState.PAUSED && parked < running) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new TimeoutException(parked + " of " + running + " vCPUs paused");
                }
                TimeUnit.NANOSECONDS.timedWait(stateLock, left);
            }
        }
    }

    public void resume() {
        synchronized (stateLock) {
            if (state == RunState.PAUSED) {
                state = RunState.RUNNING;
                stateLock.notifyAll();
            }
        }
    }

    public boolean paused() {
        return state == RunState.PAUSED;
    }

    /**
     * Marks a graceful stop as requested (e.g. Ctrl-Alt-Del sent): from now on, the guest
     * powering off or resetting ends the VM as {@link VmExit.Kind#STOPPED}.
     */
    public void requestStop(String reason) {
        stopRequested = reason;
    }

    /** Ends the VM with {@code why} unless it already ended; every vCPU leaves KVM_RUN. */
    public void terminate(VmExit why) {
        String stop = stopRequested;
        if (stop != null && (why.kind() == VmExit.Kind.POWEROFF || why.kind() == VmExit.Kind.REBOOT)) {
            why = VmExit.stopped(stop + " (" + why.reason() + ")");
        }
        if (!exit.complete(why)) {
            return;
        }
        VmExit ended = why;
        LOG.log(Level.DEBUG, () -> String.valueOf(ended));
        synchronized (stateLock) {
            state = RunState.STOPPING;
            stateLock.notifyAll();
        }
        kickAll();
    }

    private void kickAll() {
        for (Vcpu v : vcpus) {
            v.kick();
        }
    }

    /** How the VM ended, once it has. */
    public CompletableFuture<VmExit> exit() {
        return exit;
    }

    /** Waits for the VM to end and every vCPU thread to finish. */
    public VmExit awaitExit(long timeoutMillis) throws InterruptedException, TimeoutException {
        VmExit e;
        try {
            e = exit.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (ExecutionException x) {
            throw new IllegalStateException(x);
        }
        joinVcpus(5000);
        return e;
    }

    private void joinVcpus(long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        for (Vcpu v : vcpus) {
            Thread t = v.thread();
            if (t != null) {
                t.join(Math.max(1, deadline - System.currentTimeMillis()));
                if (t.isAlive()) {
                    v.kick();
                    t.join(Math.max(1, deadline - System.currentTimeMillis()));
                }
            }
        }
    }

    /** Stops the vCPUs if running and releases every KVM fd and the guest memory. */
    @Override
    public void close() {
        terminate(VmExit.stopped("closed"));
        boolean alive = false;
        try {
            joinVcpus(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Vcpu v : vcpus) {
            Thread t = v.thread();
            if (t != null && t.isAlive()) {
                alive = true;
            }
        }
        if (alive) {
            // A vCPU that will not leave KVM_RUN still uses its kvm_run page and the memory:
            // leak them rather than unmap under it (the process is about to exit anyway).
            LOG.log(Level.WARNING, "a vCPU thread did not stop; not unmapping");
            return;
        }
        for (Vcpu v : vcpus) {
            v.fd().close();
        }
        ram.close();
        vm.close();
    }
}
