package org.jvmd.vmm.blk;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskStats;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.sys.Fd;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.proc.Child;
import org.jvmd.vmm.GuestRam;
import org.jvmd.vmm.Vm;
import org.jvmd.vmm.pci.PciBarMapper;
import org.jvmd.vmm.pci.PciHost;
import org.jvmd.vmm.proxy.AttachedDevice;
import org.jvmd.vmm.proxy.DeviceProxy;

/**
 * A VM's disks (vmd's vm.c disk set-up): one vioblk-proc per disk, spawned before vmm-proc
 * sheds its privileges, each behind a virtio-blk device on the PCI host, in the order of the
 * configuration (disk 0 takes the lowest free slot, so the guest names it {@code /dev/vda}).
 * Gathers every disk's counters, a gone vioblk reported as dead, and pauses them with the VM.
 */
public final class VmDisks implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VmDisks.class.getName());
    /** How long a vioblk-proc has to answer Ready unless vmd says otherwise, as vionet's. */
    public static final long READY_TIMEOUT_MS = 60_000;

    private final List<AttachedDevice<VioblkProxy>> disks;

    private VmDisks(List<AttachedDevice<VioblkProxy>> disks) {
        this.disks = disks;
    }

    /**
     * Connects and plugs in a disk per {@code configs} entry: {@code layers.get(i)} are disk
     * i's image descriptors (layer 0 its own image, then its bases; handed over) and
     * {@code started.get(i)} its vioblk-proc from {@link VioblkProxy#startEarly} (or null to
     * spawn here; handed over). Disk i is {@code <vmTitle>/vioblk<i>} with index i. On
     * failure every vioblk started so far is stopped and every descriptor closed.
     */
    public static VmDisks attach(String vmTitle, Vm vm, PciHost pci, PciBarMapper bars, List<DiskConfig> configs,
                                 List<List<Fd>> layers, List<Child> started, String user, String chroot,
                                 VioblkProxy.DeathListener onDeath, Path output, long readyTimeoutMs) throws IOException {
        List<List<Fd>> pending = new ArrayList<>(layers);
        List<Child> early = started == null ? new ArrayList<>() : new ArrayList<>(started);
        List<AttachedDevice<VioblkProxy>> attached = new ArrayList<>();
        try {
            if (layers.size() != configs.size() || (started != null && started.size() != configs.size())) {
                throw new IOException(vmTitle + ": " + configs.size() + " disks but " + layers.size() + " images");
            }
            List<MemoryRegion> regions = DeviceProxy.regions(GuestRam.ranges(vm.ram().layout()));
            for (int i = 0; i < configs.size(); i++) {
                DiskConfig disk = configs.get(i).toBuilder().setIndex(i).build();
                List<Fd> images = pending.set(i, List.of());
                Child c = early.isEmpty() ? null : early.set(i, null);
                VioblkProxy p = VioblkProxy.connect(VioblkProxy.title(vmTitle, i), disk, onDeath, c,
                        vm.ram().memfd().dup(), images, regions, user, chroot, output, null, readyTimeoutMs);
                try {
                    attached.add(AttachedDevice.attach(vm, pci, bars, p));
                } catch (RuntimeException e) {
                    p.close();
                    throw e;
                }
            }
            return new VmDisks(attached);
        } catch (IOException | RuntimeException e) {
            pending.forEach(Fd::closeAll);
            early.stream().filter(c -> c != null).forEach(VmDisks::closeQuietly);
            attached.forEach(AttachedDevice::close);
            throw e;
        }
    }

    private static void closeQuietly(Child c) {
        try {
            c.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, c + ": " + e.getMessage());
        }
    }

    /**
     * The FD_DISK descriptors of a message for {@code configs}: for disk i, layer 0 (its own
     * image) and one per base format ({@link DiskConfig#getBaseFormatsList}); all or none.
     */
    public static List<List<Fd>> takeImages(Received<?> r, List<DiskConfig> configs) throws IOException {
        List<List<Fd>> all = new ArrayList<>();
        try {
            for (int i = 0; i < configs.size(); i++) {
                List<Fd> layers = new ArrayList<>();
                all.add(layers);
                for (int l = 0; l <= configs.get(i).getBaseFormatsCount(); l++) {
                    layers.add(take(r, i, l));
                }
            }
            return all;
        } catch (IOException e) {
            all.forEach(Fd::closeAll);
            throw e;
        }
    }

    private static Fd take(Received<?> r, int disk, int layer) throws IOException {
        List<FdSlot> slots = r.slots();
        for (int s = 0; s < slots.size(); s++) {
            FdSlot x = slots.get(s);
            if (x.getRole() == FdRole.FD_DISK && x.getIndex() == disk && x.getLayer() == layer) {
                try {
                    return r.take(s);
                } catch (IllegalStateException e) {
                    break; // taken already: the message named it twice
                }
            }
        }
        throw new IOException("no FD_DISK for disk " + disk + " layer " + layer);
    }

    public List<AttachedDevice<VioblkProxy>> disks() {
        return List.copyOf(disks);
    }

    /**
     * Every disk's counters in disk order; a disk whose vioblk is gone shows {@code dead}, one
     * that does not answer in time is left out (and logged).
     */
    public List<DiskStats> stats(long timeoutMs) {
        List<DiskStats> all = new ArrayList<>();
        for (AttachedDevice<VioblkProxy> d : disks) {
            try {
                all.add(d.proxy().diskStats(timeoutMs));
            } catch (IOException | TimeoutException e) {
                LOG.log(Level.WARNING, d.proxy().title() + ": no stats: " + e);
            }
        }
        return all;
    }

    /** Pauses every vioblk (after the vCPUs stopped): nothing touches guest memory afterwards. */
    public void pause(long timeoutMs) throws TimeoutException {
        for (AttachedDevice<VioblkProxy> d : disks) {
            d.proxy().pause(timeoutMs);
        }
    }

    /** vmctl log verbose|brief, to every vioblk. */
    public void setVerbose(boolean on) {
        for (AttachedDevice<VioblkProxy> d : disks) {
            d.proxy().setVerbose(on);
        }
    }

    public void unpause() {
        for (AttachedDevice<VioblkProxy> d : disks) {
            d.proxy().unpause();
        }
    }

    /** Stops every vioblk and releases its KVM registrations and eventfds. */
    @Override
    public void close() {
        disks.forEach(AttachedDevice::close);
    }
}
