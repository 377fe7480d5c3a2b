package org.jvmd.vmm;

import java.lang.System.Logger.Level;
import org.jvmd.sys.Errno;
import org.jvmd.sys.SysException;
import org.jvmd.sys.kvm.Regs;
import org.jvmd.sys.kvm.VcpuFd;
import org.jvmd.vmm.bus.Bus;

/**
 * One vCPU's thread: KVM_RUN until the VM ends, dispatching port I/O and MMIO exits to the
 * buses and turning the other exits into VM lifecycle events. The loop allocates nothing
 * per exit. A kick (signal + immediate_exit) brings the thread back to
 * {@link Vm#checkpoint()}, where it parks while the VM is paused and leaves when it stops.
 */
final class Vcpu implements Runnable {
    private static final System.Logger LOG = System.getLogger("org.jvmd.vmm");

    private final Vm vm;
    private final VcpuFd fd;
    private final Bus pio;
    private final Bus mmio;
    private final String title;
    private volatile Thread thread;
    private long ioExits;
    private long mmioExits;

    Vcpu(Vm vm, VcpuFd fd, Bus pio, Bus mmio) {
        this.vm = vm;
        this.fd = fd;
        this.pio = pio;
        this.mmio = mmio;
        this.title = vm.name() + "/vcpu" + fd.id();
    }

    VcpuFd fd() {
        return fd;
    }

    int id() {
        return fd.id();
    }

    void start() {
        thread = Thread.ofPlatform().name(title).start(this);
    }

    Thread thread() {
        return thread;
    }

    /** Takes the vCPU out of KVM_RUN (it then consults {@link Vm#checkpoint()}). */
    void kick() {
        try {
            fd.kick();
        } catch (SysException e) {
            LOG.log(Level.WARNING, title + ": kick failed: " + e.getMessage());
        }
    }

    @Override
    public void run() {
        try {
            fd.bindThread();
            loop();
        } catch (Throwable t) {
            vm.terminate(VmExit.error(title + ": " + t));
            LOG.log(Level.ERROR, title + " failed", t);
        } finally {
            fd.unbindThread();
        }
    }

    private void loop() throws SysException {
        while (vm.checkpoint()) {
            int r = fd.run();
            if (r < 0) {
                if (r == -Errno.EINTR || r == -Errno.EAGAIN) {
                    fd.setImmediateExit(false);
                    continue;
                }
                throw new SysException("ioctl(KVM_RUN)", -r);
            }
            if (!exit(r)) {
                return;
            }
        }
    }

    /** Handles one exit; false when the VM ends because of it. */
    private boolean exit(int reason) throws SysException {
        switch (reason) {
            case VcpuFd.EXIT_IO -> {
                ioExits++;
                io();
                return true;
            }
            case VcpuFd.EXIT_MMIO -> {
                mmioExits++;
                mmio();
                return true;
            }
            case VcpuFd.EXIT_INTR, VcpuFd.EXIT_IRQ_WINDOW_OPEN -> {
                return true;
            }
            case VcpuFd.EXIT_SHUTDOWN -> {
                // A triple fault: the CPU resets, which on a PC resets the machine.
                vm.terminate(VmExit.reboot(title + ": triple fault (" + regs() + ")"));
                return false;
            }
            case VcpuFd.EXIT_SYSTEM_EVENT -> {
                int type = fd.systemEventType();
                vm.terminate(switch (type) {
                    case VcpuFd.SYSTEM_EVENT_SHUTDOWN -> VmExit.poweroff(title + ": system event shutdown");
                    case VcpuFd.SYSTEM_EVENT_RESET -> VmExit.reboot(title + ": system event reset");
                    default -> VmExit.error(title + ": system event " + type);
                });
                return false;
            }
            case VcpuFd.EXIT_HLT -> {
                // Only without an in-kernel LAPIC (never here): a halted CPU with nothing to wake it.
                vm.terminate(VmExit.poweroff(title + ": halted"));
                return false;
            }
            case VcpuFd.EXIT_FAIL_ENTRY -> {
                vm.terminate(VmExit.error(String.format("%s: KVM_EXIT_FAIL_ENTRY, hardware reason 0x%x (%s)",
                        title, fd.failEntryReason(), regs())));
                return false;
            }
            case VcpuFd.EXIT_INTERNAL_ERROR -> {
                vm.terminate(VmExit.error(String.format("%s: KVM_EXIT_INTERNAL_ERROR, suberror %d (%s)",
                        title, fd.internalSuberror(), regs())));
                return false;
            }
            default -> {
                vm.terminate(VmExit.error(title + ": unhandled exit reason " + reason + " (" + regs() + ")"));
                return false;
            }
        }
    }

    private void io() {
        int port = fd.ioPort();
        int size = fd.ioSize();
        int count = fd.ioCount();
        if (fd.ioDirection() == VcpuFd.IO_OUT) {
            for (int i = 0; i < count; i++) {
                pio.write(port, size, fd.ioData(i));
            }
        } else {
            for (int i = 0; i < count; i++) {
                fd.setIoData(i, pio.read(port, size));
            }
        }
    }

    private void mmio() {
        long addr = fd.mmioAddress();
        int len = fd.mmioLength();
        if (len != 1 && len != 2 && len != 4 && len != 8) {
            // KVM splits accesses into these widths; anything else is a KVM bug: ignore it.
            return;
        }
        if (fd.mmioIsWrite()) {
            mmio.write(addr, len, fd.mmioData());
        } else {
            fd.setMmioData(mmio.read(addr, len));
        }
    }

    private String regs() {
        try {
            Regs r = fd.getRegs();
            return r.toString();
        } catch (SysException e) {
            return "registers unavailable: " + e.getMessage();
        }
    }

    long ioExits() {
        return ioExits;
    }

    long mmioExits() {
        return mmioExits;
    }
}
