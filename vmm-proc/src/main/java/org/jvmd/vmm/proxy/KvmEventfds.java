package org.jvmd.vmm.proxy;

import java.lang.System.Logger.Level;
import java.util.List;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.kvm.VmFd;
import org.jvmd.vmm.IrqRouting;
import org.jvmd.vmm.bus.BusDevice;
import org.jvmd.vmm.pci.MsixTable;
import org.jvmd.vmm.pci.PciDevice;
import org.jvmd.vmm.pci.VirtioPciTransport;

/**
 * Puts a device process's eventfds on KVM's fast paths, so guest kicks and interrupts
 * never pass through vmm-proc:
 * <ul>
 *   <li><b>Kicks.</b> One KVM_IOEVENTFD per queue at the queue's notify address (any
 *       write width, no data match: each queue has its own slot). The registrations follow
 *       BAR 0: removed when the guest moves or disables it, re-made at the new base.</li>
 *   <li><b>Interrupts.</b> One GSI per MSI-X vector whose MSI route carries the vector's
 *       message address/data, and KVM_IRQFD binding the vector's call eventfd to it. The
 *       route follows the guest's table writes (KVM_SET_GSI_ROUTING).</li>
 * </ul>
 *
 * <p><b>Masking</b> (PCI 3.0 §6.8.2.9: a masked vector must not send its message; an event
 * while masked sets the pending bit and the message goes out on unmask). The irqfd is
 * assigned only while the vector is deliverable (MSI-X enabled, function and vector
 * unmasked). On mask it is deassigned: a signal from the device process then stays in the
 * eventfd's counter instead of reaching KVM, which is the vector's pending state. On unmask
 * the route is updated to the current address/data and the irqfd re-assigned; KVM polls the
 * eventfd at assignment and injects at once if it was signalled meanwhile, so nothing is
 * lost and nothing is delivered while masked. (Dropping only the route instead would lose
 * events: KVM discards an irqfd signal on a GSI without a route.) Known gap: the PBA does not
 * show these eventfd-held pending bits; Linux never reads the PBA.
 *
 * <p>Called on vCPU threads from config-space and MSI-X table writes; a failing ioctl is
 * logged and counted, never thrown into the guest's access.
 */
public final class KvmEventfds implements MsixTable.VectorListener, PciDevice.BarListener, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(KvmEventfds.class.getName());
    /** KVM_IOEVENTFD length 0: any write width matches (KVM_CAP_IOEVENTFD_ANY_LENGTH). */
    static final int ANY_LENGTH = 0;

    private final String title;
    private final VmFd vm;
    private final IrqRouting routing;
    private final VirtioPciTransport transport;
    private final List<EventFd> kicks;
    private final List<EventFd> calls;
    private final int[] gsi;
    private final boolean[] assigned;
    private long kickBase = PciDevice.UNMAPPED;
    private long failures;
    private boolean closed;

    /**
     * Registers nothing yet: call {@link #attach} before the guest runs. {@code kicks} and
     * {@code calls} stay owned by the caller (the proxy) and must outlive this.
     */
    public KvmEventfds(String title, VmFd vm, IrqRouting routing, VirtioPciTransport transport,
                       List<EventFd> kicks, List<EventFd> calls) {
        if (kicks.size() != transport.device().queueCount() || calls.size() != transport.msix().vectors()) {
            throw new IllegalArgumentException(kicks.size() + " kick and " + calls.size() + " call eventfds for "
                    + transport.device().queueCount() + " queues and " + transport.msix().vectors() + " vectors");
        }
        this.title = title;
        this.vm = vm;
        this.routing = routing;
        this.transport = transport;
        this.kicks = List.copyOf(kicks);
        this.calls = List.copyOf(calls);
        this.gsi = new int[calls.size()];
        this.assigned = new boolean[calls.size()];
        java.util.Arrays.fill(gsi, -1);
    }

    /** Listens to the transport's BAR and MSI-X table and applies their current state. */
    public void attach() {
        transport.addBarListener(this);
        transport.msix().addListener(this);
        long base = transport.mappedBase(VirtioPciTransport.BAR);
        synchronized (this) {
            moveKicks(base);
        }
        for (int v = 0; v < calls.size(); v++) {
            vectorChanged(v);
        }
    }

    // ---- kicks ----

    @Override
    public void barMoved(PciDevice device, int bar, long oldBase, long newBase, long size, BusDevice handler) {
        if (bar == VirtioPciTransport.BAR) {
            synchronized (this) {
                moveKicks(newBase);
            }
        }
    }

    private void moveKicks(long newBase) {
        if (closed || newBase == kickBase) {
            return;
        }
        if (kickBase != PciDevice.UNMAPPED) {
            for (int q = 0; q < kicks.size(); q++) {
                try {
                    vm.ioeventfdDeassign(kicks.get(q), kickBase + transport.notifyOffset(q), ANY_LENGTH,
                            false, null);
                } catch (SysException e) {
                    failed("ioeventfd removal for queue " + q, e);
                }
            }
        }
        kickBase = newBase;
        if (newBase != PciDevice.UNMAPPED) {
            for (int q = 0; q < kicks.size(); q++) {
                try {
                    vm.ioeventfd(kicks.get(q), newBase + transport.notifyOffset(q), ANY_LENGTH, false, null);
                } catch (SysException e) {
                    failed("ioeventfd for queue " + q, e); // kicks then take the slow path through the transport
                }
            }
        }
    }

    /** Where the kick ioeventfds are registered (BAR 0's base), or {@link PciDevice#UNMAPPED}. */
    public synchronized long kickBase() {
        return kickBase;
    }

    // ---- interrupts ----

    @Override
    public void vectorChanged(int v) {
        MsixTable msix = transport.msix();
        if (v < 0 || v >= calls.size()) {
            return;
        }
        boolean deliverable = !msix.effectivelyMasked(v);
        long address = msix.address(v);
        int data = msix.data(v);
        synchronized (this) {
            if (closed) {
                return;
            }
            EventFd fd = calls.get(v);
            try {
                if (deliverable) {
                    if (gsi[v] < 0) {
                        gsi[v] = routing.addMsi(address, data);
                    } else {
                        routing.updateMsi(gsi[v], address, data);
                    }
                    routing.commit();
                    if (!assigned[v]) {
                        vm.irqfd(fd, gsi[v]);
                        assigned[v] = true;
                    }
                } else if (assigned[v]) {
                    vm.irqfdDeassign(fd, gsi[v]);
                    assigned[v] = false;
                }
            } catch (SysException | IllegalStateException e) {
                failed("MSI-X vector " + v + " routing", e);
            }
        }
    }

    /** The GSI of vector {@code v}'s route, or -1 if it never was deliverable. */
    public synchronized int gsi(int v) {
        return gsi[v];
    }

    /** True while vector {@code v}'s call eventfd is bound to its GSI (the vector is deliverable). */
    public synchronized boolean irqfdAssigned(int v) {
        return assigned[v];
    }

    public synchronized long failures() {
        return failures;
    }

    private void failed(String what, Exception e) {
        if (failures++ == 0) {
            LOG.log(Level.WARNING, title + ": " + what + ": " + e.getMessage());
        }
    }

    /** Removes every ioeventfd, irqfd and MSI route registered here. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        moveKicks(PciDevice.UNMAPPED);
        closed = true;
        boolean routes = false;
        for (int v = 0; v < gsi.length; v++) {
            try {
                if (assigned[v]) {
                    vm.irqfdDeassign(calls.get(v), gsi[v]);
                    assigned[v] = false;
                }
            } catch (SysException e) {
                failed("irqfd removal for vector " + v, e);
            }
            if (gsi[v] >= 0) {
                routing.removeMsi(gsi[v]);
                gsi[v] = -1;
                routes = true;
            }
        }
        if (routes) {
            try {
                routing.commit();
            } catch (SysException e) {
                failed("routing table after removal", e);
            }
        }
    }
}
