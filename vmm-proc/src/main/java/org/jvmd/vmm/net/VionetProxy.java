package org.jvmd.vmm.net;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.List;
import com.google.protobuf.Message;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.proto.VionetInit;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Role;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.vmm.proxy.DeviceProxy;

/**
 * virtio-net in vmm-proc: the guest-visible half of a NIC whose queues a vionet-proc
 * serves (vmd's vionet.c split vhost-user style). This side offers the features of the
 * {@link NicConfig} and answers the device configuration space ({@link NetConfigSpace});
 * the forwarding of the VirtioDevice life-cycle, stats and vionet's death are the shared
 * {@link DeviceProxy}'s. Besides those, vionet's {@code TunCapabilities} go up to the
 * {@link TunCapRelay} (vmd applies TUNSETOFFLOAD) and the replies come back down through
 * {@link #tuncapReply}.
 */
public final class VionetProxy extends DeviceProxy<FromVionet> {
    private static final System.Logger LOG = System.getLogger(VionetProxy.class.getName());
    /** virtio 1.2 §5: device ID 1, network card. */
    public static final int DEVICE_TYPE = 1;
    public static final String MAIN_CLASS = Role.VIONET.mainClass();
    public static final int QUEUE_SIZE = 256;
    public static final int RX = 0;
    public static final int TX = 1;
    public static final int CTRL = 2;
    static final long RESET_TIMEOUT_MS = DeviceProxy.RESET_TIMEOUT_MS;

    /** Relays vionet's TUNSCAP on to vmd, through vmm-proc's channel ({@code FromVmm{tuncap}}). */
    public interface TunCapRelay {
        void tunCapabilities(TunCapabilities caps);
    }

    private final NicConfig nic;
    private final TunCapRelay uplink;
    private final NetConfigSpace config;
    private final long offered;

    /** Creates the device and its eventfds; {@link #start} or {@link #spawn} connects vionet. */
    public VionetProxy(String title, NicConfig nic, TunCapRelay uplink) throws SysException {
        this(title, nic, uplink, NetConfigSpace.offeredFeatures(nic.getFeatures()));
    }

    private VionetProxy(String title, NicConfig nic, TunCapRelay uplink, long offered) throws SysException {
        super(title, "vionet", FromVionet.parser(),
                VirtioNetFeatures.has(offered, VirtioNetFeatures.CTRL_VQ) ? 3 : 2);
        this.nic = nic;
        this.uplink = uplink;
        this.config = new NetConfigSpace(nic.getMac().toByteArray(), nic.getMtu());
        this.offered = offered;
    }

    /**
     * Spawns vionet-proc {@code title} and connects it ({@link #start}). {@code memfd} and
     * {@code tap} are handed over (closed in every case). {@code output}: vionet's
     * stdout+stderr, or null to inherit. {@code classpath}: null for this JVM's.
     */
    public static VionetProxy spawn(String title, NicConfig nic, TunCapRelay uplink, Fd memfd, Fd tap,
                                    List<MemoryRegion> regions, String user, String chroot, Path output,
                                    String classpath, long readyTimeoutMs) throws IOException {
        return connect(title, nic, uplink, null, memfd, tap, regions, user, chroot, output, classpath, readyTimeoutMs);
    }

    /**
     * The vionet-proc {@code title}, started at once and connected later by {@link #connect}:
     * its JVM starts while the VM is being set up (vionet waits for its init message).
     */
    public static Child startEarly(String title, Path output, String classpath) throws IOException {
        return spawner(title, output, classpath).spawn();
    }

    /** How {@link #startEarly} starts vionet-proc {@code title} (the role's row, {@link Role#VIONET}). */
    public static org.jvmd.sys.proc.Spawner spawner(String title, Path output, String classpath) {
        return spawner(Role.VIONET, title, output, classpath);
    }

    /**
     * {@link #spawn}, or, when {@code started} is not null, the same with that vionet-proc
     * from {@link #startEarly} (handed over: closed on failure).
     */
    public static VionetProxy connect(String title, NicConfig nic, TunCapRelay uplink, Child started, Fd memfd, Fd tap,
                                      List<MemoryRegion> regions, String user, String chroot, Path output,
                                      String classpath, long readyTimeoutMs) throws IOException {
        return connect(() -> new VionetProxy(title, nic, uplink), started,
                () -> startEarly(title, output, classpath),
                (p, c) -> p.start(c.channel(), c, memfd, tap, regions, user, chroot, readyTimeoutMs),
                List.of(memfd, tap));
    }

    /**
     * Sends {@code VionetInit} over {@code ch} with the memfd, the tap, a kick eventfd per
     * queue and a call eventfd per vector (all handed over), waits for {@code Ready} and
     * starts the relay thread. {@code child} (may be null) is reaped on close.
     */
    public void start(Channel ch, Child child, Fd memfd, Fd tap, List<MemoryRegion> regions, String user,
                      String chroot, long readyTimeoutMs) throws IOException {
        InitFds fds = new InitFds().add(memfd, FdRole.FD_MEMFD, 0).add(tap, FdRole.FD_TAP, 0);
        handshake(ch, child, fds, slots -> ToVionet.newBuilder().setInit(VionetInit.newBuilder()
                        .setNic(nic).addAllRegions(regions).setTitle(title()).setUser(user).setChroot(chroot))
                .addAllFds(slots).build(), readyTimeoutMs);
    }

    /** The {@code VionetInit} regions of guest RAM laid out as {@code ranges} (GuestRam.ranges). */
    public static List<MemoryRegion> regions(List<MappedGuestMemory.Range> ranges) {
        return DeviceProxy.regions(ranges);
    }

    @Override
    protected void ready(FromVionet m) throws IOException {
        switch (m.getMsgCase()) {
            case READY -> LOG.log(Level.DEBUG, () -> title() + ": vionet ready, pid " + m.getReady().getPid());
            case ERROR -> throw failed(m.getError());
            default -> throw notReady(m.getMsgCase());
        }
    }

    @Override
    protected Message.Builder newEnvelope() {
        return ToVionet.newBuilder();
    }

    @Override
    protected void dispatch(FromVionet m) {
        switch (m.getMsgCase()) {
            case TUNCAP -> uplink.tunCapabilities(m.getTuncap());
            case STATS -> statsArrived(m.getStats());
            case RESET_DONE -> resetConfirmed();
            case PAUSED -> pauseConfirmed();
            case ERROR -> reported(m.getError());
            default -> unexpected(m.getMsgCase());
        }
    }

    // ---- VirtioDevice ----

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return offered;
    }

    @Override
    public int maxQueueSize(int queue) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return NetConfigSpace.SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        return config.read(offset, size);
    }

    /** Refuses sets breaking §5.1.3.1's dependencies (a gone vionet refuses every set: {@link DeviceProxy}). */
    @Override
    protected boolean featuresServable(long features) {
        return VirtioNetFeatures.firstUnmetDependency(features) < 0;
    }

    /** vmd's answer to a {@code TunCapabilities}, passed down to vionet. */
    public void tuncapReply(TunCapabilitiesReply reply) {
        send(ToVionet.newBuilder().setTuncapReply(reply).build());
    }
}
