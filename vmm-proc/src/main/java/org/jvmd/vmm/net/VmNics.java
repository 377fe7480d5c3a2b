package org.jvmd.vmm.net;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.proc.Child;
import org.jvmd.vmm.GuestRam;
import org.jvmd.vmm.Vm;
import org.jvmd.vmm.pci.PciBarMapper;
import org.jvmd.vmm.pci.PciHost;
import org.jvmd.vmm.proxy.AttachedDevice;

/**
 * A VM's NICs (vmd's vm.c NIC set-up): one vionet-proc per NIC, spawned before vmm-proc
 * sheds its privileges, each behind a virtio-net device on the PCI host. Routes vmd's
 * {@code TunCapabilitiesReply} to the NIC it names and gathers every NIC's counters for
 * vmd's stats request.
 */
public final class VmNics implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VmNics.class.getName());
    /**
     * How long a vionet-proc has to answer Ready (a JVM start on a busy host) unless vmd says
     * otherwise (VmConfig.device_ready_timeout_ms, vmm-proc's --device-ready-timeout).
     */
    public static final long READY_TIMEOUT_MS = 60_000;

    private final List<AttachedDevice<VionetProxy>> nics;

    private VmNics(List<AttachedDevice<VionetProxy>> nics) {
        this.nics = nics;
    }

    /**
     * Spawns and plugs in a NIC per {@code configs} entry; {@code taps.get(i)} is NIC i's tap
     * (handed over). NIC i is {@code <vmTitle>/vionet<i>} with index i. On failure every
     * vionet started so far is stopped and every tap closed.
     */
    public static VmNics attach(String vmTitle, Vm vm, PciHost pci, PciBarMapper bars, List<NicConfig> configs,
                                List<Fd> taps, String user, String chroot, VionetProxy.TunCapRelay uplink, Path output)
            throws IOException {
        return attach(vmTitle, vm, pci, bars, configs, taps, null, user, chroot, uplink, output, READY_TIMEOUT_MS);
    }

    /**
     * {@link #attach}, where {@code started} (or null) holds NIC i's vionet-proc already started by
     * {@link VionetProxy#startEarly} under {@link #title}; handed over, closed on failure.
     */
    public static VmNics attach(String vmTitle, Vm vm, PciHost pci, PciBarMapper bars, List<NicConfig> configs,
                                List<Fd> taps, List<Child> started, String user, String chroot,
                                VionetProxy.TunCapRelay uplink, Path output, long readyTimeoutMs) throws IOException {
        List<Child> early = started == null ? new ArrayList<>() : new ArrayList<>(started);
        if (taps.size() != configs.size() || (started != null && started.size() != configs.size())) {
            Fd.closeAll(taps);
            early.forEach(VmNics::closeQuietly);
            throw new IOException(vmTitle + ": " + configs.size() + " NICs but " + taps.size() + " taps");
        }
        List<Fd> pending = new ArrayList<>(taps);
        List<MemoryRegion> regions = VionetProxy.regions(GuestRam.ranges(vm.ram().layout()));
        List<AttachedDevice<VionetProxy>> attached = new ArrayList<>();
        try {
            for (int i = 0; i < configs.size(); i++) {
                NicConfig nic = configs.get(i).toBuilder().setIndex(i).build();
                Fd tap = pending.set(i, null);
                Child c = early.isEmpty() ? null : early.set(i, null);
                VionetProxy p = VionetProxy.connect(title(vmTitle, i), nic, uplink, c, vm.ram().memfd().dup(), tap,
                        regions, user, chroot, output, null, readyTimeoutMs);
                try {
                    attached.add(AttachedDevice.attach(vm, pci, bars, p));
                } catch (RuntimeException e) {
                    p.close();
                    throw e;
                }
            }
            return new VmNics(attached);
        } catch (IOException | RuntimeException e) {
            Fd.closeAll(pending.stream().filter(t -> t != null).toList());
            early.stream().filter(c -> c != null).forEach(VmNics::closeQuietly);
            attached.forEach(AttachedDevice::close);
            throw e;
        }
    }

    /** NIC {@code index}'s vionet-proc title: {@code <vmTitle>/vionet<index>}. */
    public static String title(String vmTitle, int index) {
        return vmTitle + "/vionet" + index;
    }

    private static void closeQuietly(Child c) {
        try {
            c.close();
        } catch (SysException e) {
            LOG.log(Level.WARNING, c + ": " + e.getMessage());
        }
    }

    /** The FD_TAP descriptors of a message, NIC 0 to {@code count - 1} (index = NIC); all or none. */
    public static List<Fd> takeTaps(Received<?> r, int count) throws IOException {
        List<Fd> taps = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            try {
                taps.add(r.take(FdRole.FD_TAP, i));
            } catch (IllegalStateException | IllegalArgumentException e) {
                Fd.closeAll(taps);
                throw new IOException("no FD_TAP for NIC " + i + " (" + count + " NICs configured)");
            }
        }
        return taps;
    }

    public List<AttachedDevice<VionetProxy>> nics() {
        return List.copyOf(nics);
    }

    /** vmd's answer to NIC {@code reply.nic}'s TUNSCAP. */
    public void tuncapReply(TunCapabilitiesReply reply) {
        int i = reply.getNic();
        if (i < 0 || i >= nics.size()) {
            LOG.log(Level.WARNING, "TunCapabilitiesReply for NIC " + i + ", which this VM does not have");
            return;
        }
        nics.get(i).proxy().tuncapReply(reply);
    }

    /**
     * Every NIC's counters. A NIC whose vionet is gone is there, marked dead (an operator must
     * see it); one that is alive but silent is left out (and logged).
     */
    public StatsReply stats(long timeoutMs) {
        return stats(nics.stream().map(AttachedDevice::proxy).toList(), timeoutMs);
    }

    /** {@link #stats(long)} over the proxies of NIC 0, 1, ... */
    static StatsReply stats(List<VionetProxy> proxies, long timeoutMs) {
        StatsReply.Builder all = StatsReply.newBuilder();
        for (int i = 0; i < proxies.size(); i++) {
            VionetProxy p = proxies.get(i);
            try {
                if (p.alive()) {
                    all.addAllNics(p.stats(timeoutMs).getNicsList());
                    continue;
                }
            } catch (IOException | TimeoutException e) {
                if (p.alive()) {
                    LOG.log(Level.WARNING, p.title() + ": no stats: " + e);
                    continue;
                }
            }
            all.addNics(NicStats.newBuilder().setNic(i).setDead(true));
        }
        return all.build();
    }

    /** Stops every vionet and releases its KVM registrations and eventfds. */
    /** Pauses every vionet (after the vCPUs stopped): no frame reaches guest memory afterwards. */
    public void pause(long timeoutMs) throws java.util.concurrent.TimeoutException {
        for (AttachedDevice<VionetProxy> n : nics) {
            n.proxy().pause(timeoutMs);
        }
    }

    /** vmctl log verbose|brief, to every vionet. */
    public void setVerbose(boolean on) {
        for (AttachedDevice<VionetProxy> n : nics) {
            n.proxy().setVerbose(on);
        }
    }

    /** Every vionet serves its queues and its tap again. */
    public void unpause() {
        for (AttachedDevice<VionetProxy> n : nics) {
            n.proxy().unpause();
        }
    }

    @Override
    public void close() {
        for (AttachedDevice<VionetProxy> n : nics) {
            n.close();
        }
    }
}
