package org.jvmd.vmm.blk;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import com.google.protobuf.Message;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskStats;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FromVioblk;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.ToVioblk;
import org.jvmd.proto.VioblkInit;
import org.jvmd.proto.VioblkReady;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Role;
import org.jvmd.virtio.blk.VirtioBlk;
import org.jvmd.vmm.proxy.DeviceProxy;

/**
 * virtio-blk in vmm-proc: the guest-visible half of a disk whose request queue a
 * vioblk-proc serves (vmd's vioblk.c split vhost-user style). This side offers the disk's
 * features and answers the configuration space ({@link BlkConfigSpace}) from the geometry
 * vioblk reports in {@code VioblkReady}; the forwarding of the VirtioDevice life-cycle, stats and
 * vioblk's death, and pause (vmctl pause: vioblk finishes its requests in flight and stops
 * touching guest memory) are the shared {@link DeviceProxy}'s.
 */
public final class VioblkProxy extends DeviceProxy<FromVioblk> {
    private static final System.Logger LOG = System.getLogger(VioblkProxy.class.getName());

    public static final String MAIN_CLASS = Role.VIOBLK.mainClass();
    /** The request queue's size: room for 256 requests in flight (a power of two, virtio 1.2 §2.7). */
    public static final int QUEUE_SIZE = 256;
    static final long PAUSE_TIMEOUT_MS = 5_000;

    /** Told once when the disk's vioblk is gone while the VM runs. */
    public interface DeathListener {
        void died(VioblkProxy disk);
    }

    private final DiskConfig disk;
    private final DeathListener onDeath;
    private volatile BlkConfigSpace config;

    /** Creates the device and its eventfds; {@link #start} or {@link #connect} connects vioblk. */
    public VioblkProxy(String title, DiskConfig disk, DeathListener onDeath) throws SysException {
        super(title, "vioblk", FromVioblk.parser(), 1);
        this.disk = disk;
        this.onDeath = onDeath;
    }

    /** Disk {@code index}'s vioblk-proc title: {@code <vmTitle>/vioblk<index>}. */
    public static String title(String vmTitle, int index) {
        return vmTitle + "/vioblk" + index;
    }

    /**
     * The vioblk-proc {@code title}, started at once and connected later by {@link #connect}:
     * its JVM starts while the VM is being set up (vioblk waits for its init message).
     */
    public static Child startEarly(String title, Path output, String classpath) throws IOException {
        return spawner(title, output, classpath).spawn();
    }

    /** How {@link #startEarly} starts vioblk-proc {@code title} (the role's row, {@link Role#VIOBLK}). */
    public static org.jvmd.sys.proc.Spawner spawner(String title, Path output, String classpath) {
        return spawner(Role.VIOBLK, title, output, classpath);
    }

    /**
     * Connects vioblk-proc {@code started} (from {@link #startEarly}), or one spawned now when
     * it is null, through {@link #start}. {@code memfd} and {@code layers} are handed over
     * (closed on failure, as is the process).
     */
    public static VioblkProxy connect(String title, DiskConfig disk, DeathListener onDeath, Child started,
                                      Fd memfd, List<Fd> layers, List<MemoryRegion> regions, String user,
                                      String chroot, Path output, String classpath, long readyTimeoutMs)
            throws IOException {
        List<Fd> handedOver = new ArrayList<>(layers);
        handedOver.add(memfd);
        return connect(() -> new VioblkProxy(title, disk, onDeath), started,
                () -> startEarly(title, output, classpath),
                (p, c) -> p.start(c.channel(), c, memfd, layers, regions, user, chroot, readyTimeoutMs),
                handedOver);
    }

    /**
     * Sends {@code VioblkInit} over {@code ch} with the memfd, the image of every layer
     * ({@code layers.get(0)} the disk's own image, then its bases), the kick eventfd and a
     * call eventfd per vector (all handed over), waits for {@code VioblkReady} and starts the
     * relay thread. {@code child} (may be null) is reaped on close.
     */
    public void start(Channel ch, Child child, Fd memfd, List<Fd> layers, List<MemoryRegion> regions, String user,
                      String chroot, long readyTimeoutMs) throws IOException {
        InitFds fds = new InitFds().add(memfd, FdRole.FD_MEMFD, 0);
        for (int l = 0; l < layers.size(); l++) {
            fds.add(layers.get(l), FdRole.FD_DISK, disk.getIndex(), l);
        }
        handshake(ch, child, fds, slots -> ToVioblk.newBuilder().setInit(VioblkInit.newBuilder()
                        .setDisk(disk).addAllRegions(regions).setTitle(title()).setUser(user).setChroot(chroot))
                .addAllFds(slots).build(), readyTimeoutMs);
    }

    @Override
    protected void ready(FromVioblk m) throws IOException {
        switch (m.getMsgCase()) {
            case READY -> {
                VioblkReady r = m.getReady();
                config = new BlkConfigSpace(r, disk.getReadOnly());
                LOG.log(Level.DEBUG, () -> title() + ": vioblk ready, pid " + r.getReady().getPid() + ", "
                        + r.getCapacitySectors() + " sectors" + (config.readOnly() ? ", read-only" : ""));
            }
            case ERROR -> throw failed(m.getError());
            default -> throw notReady(m.getMsgCase());
        }
    }

    @Override
    protected Message.Builder newEnvelope() {
        return ToVioblk.newBuilder();
    }

    @Override
    protected void dispatch(FromVioblk m) {
        switch (m.getMsgCase()) {
            case STATS -> statsArrived(m.getStats());
            case RESET_DONE -> resetConfirmed();
            case PAUSED -> pauseConfirmed();
            case ERROR -> reported(m.getError());
            default -> unexpected(m.getMsgCase());
        }
    }

    @Override
    protected void deviceDied() {
        if (onDeath != null) {
            onDeath.died(this);
        }
    }

    public DiskConfig disk() {
        return disk;
    }

    // ---- VirtioDevice ----

    @Override
    public int deviceType() {
        return VirtioBlk.DEVICE_TYPE;
    }

    /** Before vioblk's Ready: the features the configuration promises. */
    @Override
    public long deviceFeatures() {
        BlkConfigSpace c = config;
        return c == null ? BlkConfigSpace.offeredFeatures(disk.getReadOnly()) : c.features();
    }

    @Override
    public int maxQueueSize(int queue) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return VirtioBlk.CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        BlkConfigSpace c = config;
        return c == null ? 0 : c.read(offset, size);
    }

    // ---- requests from vmd ----

    /**
     * This disk's counters, as vioblk keeps them, or {@code dead = true} when vioblk is
     * gone. A vioblk that does not answer within {@code timeoutMs} throws.
     */
    public DiskStats diskStats(long timeoutMs) throws IOException, TimeoutException {
        DiskStats gone = DiskStats.newBuilder().setDisk(disk.getIndex()).setDead(true).build();
        if (!alive()) {
            return gone;
        }
        StatsReply r;
        try {
            r = stats(timeoutMs);
        } catch (IOException e) {
            if (!alive()) {
                return gone;
            }
            throw e;
        }
        if (r.getDisksCount() != 1) {
            throw new IOException(title() + ": vioblk answered " + r.getDisksCount() + " disk counters, not 1");
        }
        return r.getDisks(0).toBuilder().setDisk(disk.getIndex()).setDead(false).build();
    }
}
