package org.jvmd.it.sim;

import static org.jvmd.virtio.net.VirtioNetFeatures.CSUM;
import static org.jvmd.virtio.net.VirtioNetFeatures.CTRL_GUEST_OFFLOADS;
import static org.jvmd.virtio.net.VirtioNetFeatures.CTRL_VQ;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_OFFLOADS;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_UFO;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_ECN;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_TSO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_TSO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_UFO;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_USO;
import static org.jvmd.virtio.net.VirtioNetFeatures.MRG_RXBUF;
import static org.jvmd.virtio.net.VirtioNetFeatures.VERSION_1;
import static org.jvmd.virtio.net.VirtioNetFeatures.bit;
import static org.jvmd.virtio.net.VirtioNetFeatures.has;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import org.jvmd.it.transport.DeviceLink;
import org.jvmd.it.transport.MemfdRam;
import org.jvmd.it.transport.Handover;
import org.jvmd.it.transport.Simulators;
import org.jvmd.proto.DriverOk;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FeaturesAcked;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.Shutdown;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.StatsRequest;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.proto.VionetInit;
import org.jvmd.sys.Errno;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.net.Netns;
import org.jvmd.sys.net.Tap;
import org.jvmd.sys.proc.Spawner;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.RingLayout;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.net.TunFlags;
import org.jvmd.virtio.net.VirtioNetFeatures;

/**
 * The guest simulator (issue 5): a "guest" whose network stack is the Linux kernel of a
 * network namespace, connected to vionet-proc through real virtqueues.
 *
 * <p>The guest stack's tap (opened here with IFF_VNET_HDR and TUNSETOFFLOAD matching the
 * HOST_* features the driver acks) hands out exactly what a Linux virtio-net driver queues,
 * TSO super-frames with NEEDS_CSUM included, and takes what a driver receives. The simulator
 * plays
 * <ul>
 * <li>the guest driver: guest RAM in a memfd, RX/TX/control rings laid out by
 *     {@link DriverQueue}, buffers posted and reaped ({@link TxPath}, {@link RxPath});</li>
 * <li>vmm-proc's transport: it spawns vionet-proc with the memfd, the host-side tap, one
 *     kick eventfd per queue (the ioeventfds) and one call eventfd per MSI-X vector (the
 *     irqfds), and forwards FeaturesAcked, QueueReady and DriverOk;</li>
 * <li>vmd's TUNSCAP side: it applies each {@code TunCapabilities} to its own copy of the
 *     host tap with TUNSETOFFLOAD and answers {@code TunCapabilitiesReply}.</li>
 * </ul>
 *
 * <p>Queues follow virtio 1.2 §5.1.2: 0 receiveq1, 1 transmitq1, 2 controlq. MSI-X vectors
 * follow Linux virtio-pci with one vector per queue (vp_find_vqs_msix): 0 configuration,
 * 1 receive, 2 transmit; the control queue has no callback in Linux, so no vector
 * (VIRTIO_MSI_NO_VECTOR) and its completions are polled.
 */
public final class GuestSim implements AutoCloseable {
    public static final String VIONET_MAIN = org.jvmd.sys.proc.Role.VIONET.mainClass();
    public static final int RX_QUEUE = 0;
    public static final int TX_QUEUE = 1;
    public static final int CTRL_QUEUE = 2;
    static final int CONFIG_VECTOR = 0;
    static final int RX_VECTOR = 1;
    static final int TX_VECTOR = 2;
    /** VIRTIO_MSI_NO_VECTOR (virtio 1.2 §4.1.5.1.2): the queue raises no interrupt. */
    static final int NO_VECTOR = 0xffff;
    /** A transmit buffer: header + the largest GSO frame a tap hands out (64 KiB + link headers) with room. */
    static final int TX_BUFFER = 68 * 1024;

    /** virtio 1.2 §5.1.6.5: control command classes, commands and acks. */
    static final int CTRL_CLASS_GUEST_OFFLOADS = 5;
    static final int CTRL_GUEST_OFFLOADS_SET = 0;
    public static final int CTRL_OK = 0;
    public static final int CTRL_ERR = 1;

    private final SimOptions o;
    private long acked;
    private byte[] mac;
    private Tap guestTap;
    private Tap hostTap;
    private MemfdRam ram;
    private MappedGuestMemory mem;
    private final EventFd[] kicks = new EventFd[3];
    private final EventFd[] calls = new EventFd[3];
    private DeviceLink<FromVionet> link;
    private DriverQueue rxq;
    private DriverQueue txq;
    private DriverQueue ctrlq;
    private long ctrlArea;
    private RxPath rx;
    private TxPath tx;
    /** The threads running the paths: one for both, or one each (receive first). */
    private final List<Thread> pathThreads = new ArrayList<>();
    private final List<SimLoop> loops = new ArrayList<>();
    private long rxOffloads;

    private final java.util.concurrent.Semaphore resetDone = new java.util.concurrent.Semaphore(0);
    private final List<TunCapabilities> tunscaps = new ArrayList<>();
    private volatile int hostTapFlags;
    private volatile int refuseTunFlags;

    private GuestSim(SimOptions o) {
        this.o = o;
    }

    /**
     * Starts the simulated guest and vionet-proc; returns once the rings are live, DriverOk
     * is sent and the first TUNSCAP has been applied, so frames flow both ways.
     */
    public static GuestSim start(SimOptions o) throws Exception {
        GuestSim sim = new GuestSim(o);
        return Simulators.start(sim, sim::boot);
    }

    static void log(String msg) {
        Simulators.log("guest-sim", msg);
    }

    private void boot() throws Exception {
        if (o.guestTap == null || o.hostTap == null) {
            throw new IllegalArgumentException("the guest and host taps are required");
        }
        mac = o.mac != null ? o.mac : IpLink.mac(o.guestNs, o.guestTap);
        IpLink.mac(o.hostNs, o.hostTap);   // refuse a missing tap: TUNSETIFF would create it
        acked = o.driverFeatures();
        if (!has(acked, VERSION_1)) {
            throw new IllegalArgumentException("the device must offer VIRTIO_F_VERSION_1");
        }
        openTaps();
        int unmet = VirtioNetFeatures.firstUnmetDependency(acked);
        if (unmet >= 0) {
            throw new IllegalArgumentException("feature " + unmet + " acked without what it requires (virtio 1.2 §5.1.3.1)");
        }
        rxOffloads = acked;
        layOutMemory();
        for (int i = 0; i < 3; i++) {
            kicks[i] = EventFd.create(true);
            calls[i] = EventFd.create(true);
        }
        spawnVionet();
        negotiate();
    }

    // ---- taps --------------------------------------------------------------------------

    private void openTaps() throws Exception {
        guestTap = openTap(o.guestNs, o.guestTap);
        int flags = guestTapFlags(acked);
        try {
            guestTap.setOffload(flags);
        } catch (SysException e) {
            if (e.errno() != Errno.EINVAL || (flags & (TunFlags.USO4 | TunFlags.USO6)) == 0) {
                throw e;
            }
            // a kernel before 6.2 knows no USO: the guest then does not ack HOST_USO
            acked &= ~bit(HOST_USO);
            guestTap.setOffload(guestTapFlags(acked));
        }
        guestTap.setNonBlocking(true);
        hostTap = openTap(o.hostNs, o.hostTap);
        hostTap.setOffload(0);   // until the guest's TUNSCAP: flags live on a persistent tap
        if (filtersTap()) {
            hostTap.filterUnicastTo(mac);   // as vmd does for a locked NIC (VmTaps)
        } else {
            hostTap.clearFilter();
        }
        hostTap.setNonBlocking(true);
    }

    private boolean filtersTap() {
        return o.lockedLladdr && o.tapFilter;
    }

    private static Tap openTap(String ns, String name) throws Exception {
        return ns == null ? Tap.open(name) : Netns.call(ns, () -> Tap.open(name));
    }

    /**
     * The TUNSETOFFLOAD flags of the guest stack's tap: what a Linux virtio-net driver lets
     * its stack transmit for the HOST_* features it acked (virtnet_probe: CSUM -> HW_CSUM,
     * HOST_TSO4/6 -> TSO/TSO6, HOST_ECN -> TSO_ECN, HOST_USO -> GSO_UDP_L4).
     */
    static int guestTapFlags(long acked) {
        if (!has(acked, CSUM)) {
            return 0;
        }
        int f = TunFlags.CSUM;
        if (has(acked, HOST_TSO4)) {
            f |= TunFlags.TSO4;
        }
        if (has(acked, HOST_TSO6)) {
            f |= TunFlags.TSO6;
        }
        if (has(acked, HOST_ECN) && (f & (TunFlags.TSO4 | TunFlags.TSO6)) != 0) {
            f |= TunFlags.TSO_ECN;
        }
        if (has(acked, HOST_UFO)) {
            f |= TunFlags.UFO;
        }
        if (has(acked, HOST_USO)) {
            f |= TunFlags.USO4 | TunFlags.USO6;
        }
        return f;
    }

    // ---- guest memory ------------------------------------------------------------------

    private RxPath.Layout rxLayout() {
        if (has(acked, MRG_RXBUF)) {
            return RxPath.Layout.MERGEABLE;
        }
        boolean big = has(acked, GUEST_TSO4) || has(acked, GUEST_TSO6) || has(acked, GUEST_UFO);
        return big ? RxPath.Layout.BIG : RxPath.Layout.SMALL;
    }

    private boolean indirect() {
        return Virtq.has(acked, Virtq.F_INDIRECT_DESC);
    }

    private static final int TX_MAX_INDIRECT = 4;
    private static final int CTRL_MAX_INDIRECT = 4;

    private int rxMaxIndirect() {
        return rxLayout() == RxPath.Layout.BIG ? 1 + RxPath.BIG_PAGES : 2;
    }

    private int rxChains() {
        return o.rxQueueSize / RxPath.chainDescriptors(rxLayout(), indirect());
    }

    private long[] rxBuffers;
    private long[] txBuffers;

    private void layOutMemory() throws SysException, GuestFault {
        int chainBytes = RxPath.chainBytes(rxLayout(), o.mergeableBufferSize);
        long rxStride = MemfdRam.align(chainBytes, 64);
        long need = 4096
                + ringBytes(o.rxQueueSize, rxMaxIndirect())
                + ringBytes(o.txQueueSize, TX_MAX_INDIRECT)
                + ringBytes(64, CTRL_MAX_INDIRECT) + 4096
                + rxChains() * rxStride
                + (long) o.txQueueSize * TX_BUFFER;
        ram = MemfdRam.create("guest-sim-ram", need);
        mem = ram.memory();
        alloc = ram.allocator();
        layOutRings();
    }

    private GuestAllocator alloc;

    /** Rings (zeroed) and buffers; the same guest addresses every time (after a reset too). */
    private void layOutRings() throws GuestFault {
        alloc.reset();
        long rxStride = MemfdRam.align(RxPath.chainBytes(rxLayout(), o.mergeableBufferSize), 64);
        rxq = DriverQueue.create(mem, alloc, o.rxQueueSize, acked, rxMaxIndirect());
        txq = DriverQueue.create(mem, alloc, o.txQueueSize, acked, TX_MAX_INDIRECT);
        if (has(acked, CTRL_VQ)) {
            ctrlq = DriverQueue.create(mem, alloc, 64, acked, CTRL_MAX_INDIRECT);
            ctrlArea = alloc.allocate(4096, 64);
        }
        rxBuffers = new long[rxChains()];
        for (int i = 0; i < rxBuffers.length; i++) {
            rxBuffers[i] = alloc.allocate(rxStride, 64);
        }
        txBuffers = new long[o.txQueueSize];
        for (int i = 0; i < txBuffers.length; i++) {
            txBuffers[i] = alloc.allocate(TX_BUFFER, 4096);
        }
    }

    private boolean indirectFor(int maxIndirect) {
        return indirect() && maxIndirect > 0;
    }

    private long ringBytes(int size, int maxIndirect) {
        long ring = RingLayout.linuxBytes(size, 64) + 4096;
        return ring + (indirectFor(maxIndirect) ? (long) size * maxIndirect * Virtq.DESC_SIZE + 16L * size : 0);
    }

    // ---- vionet-proc -------------------------------------------------------------------

    /**
     * vionet-proc as a VM starts it (vmm-proc's {@code VionetProxy.startEarly}: the role's
     * main class and JVM options, org.jvmd.sys.proc.Role), then the simulator's extra options.
     */
    public static Spawner vionetSpawner(SimOptions o) {
        return org.jvmd.vmm.net.VionetProxy.spawner(o.title, o.vionetLog,
                        o.vionetClasspath != null ? o.vionetClasspath : VionetClasspath.find())
                .jvmOptions(o.vionetJvmOptions.toArray(String[]::new));
    }

    private void spawnVionet() throws IOException {
        link = new DeviceLink<>("guest-sim", "vionet", o.title, FromVionet.parser(), o.chroot);
        link.adopt(vionetSpawner(o).spawn());
        NicConfig.Builder nic = NicConfig.newBuilder()
                .setIndex(0)
                .setMac(ByteString.copyFrom(mac))
                .setMtu(o.mtu)
                .setFeatures(o.deviceFeatures)
                .setLockedLladdr(o.lockedLladdr)
                .setTapFiltered(filtersTap())
                .setTapName(hostTap.name());
        if (o.localGuestAddr != null) {
            nic.setLocal(true)
                    .setLocalGuestAddr(ByteString.copyFrom(o.localGuestAddr))
                    .setLocalGatewayAddr(ByteString.copyFrom(o.localGatewayAddr))
                    .setLocalPrefixLen(o.localPrefixLen);
        }
        VionetInit init = VionetInit.newBuilder()
                .setNic(nic)
                .addRegions(MemoryRegion.newBuilder().setGuestPhys(0).setSize(mem.size()).setMemfdOffset(0))
                .setTitle(o.title)
                .setUser(o.vionetUser)
                .setChroot(link.chroot().toString())
                .build();
        Handover fds = new Handover();
        try {
            fds.add(FdRole.FD_MEMFD, 0, ram.memfd().dup());
            fds.add(FdRole.FD_TAP, 0, hostTap.fd().dup());
            for (int q = 0; q < 3; q++) {
                fds.add(FdRole.FD_KICK, q, kicks[q].fd().dup());
            }
            for (int v = 0; v < 3; v++) {
                fds.add(FdRole.FD_CALL, v, calls[v].fd().dup());
            }
        } catch (SysException e) {
            fds.close();
            throw e;
        }
        link.send(ToVionet.newBuilder().setInit(init).addAllFds(fds.slots()).build(), fds.fds());
        FromVionet ready = link.awaitReady(o.readyTimeoutMillis);
        log(o.title + " ready, pid " + link.child().pid() + " (" + ready.getReady().getProcess() + ")");
        link.listen("guest-sim-control", this::received, () -> { });
    }

    private void send(ToVionet m) throws IOException {
        link.send(m);
    }

    /** virtio 1.2 §3.1.1: FEATURES_OK, the queues, then DRIVER_OK; then the receive buffers (Linux virtnet_open). */
    private void negotiate() throws Exception {
        int tunscapsBefore = tunCapabilities().size();
        rxOffloads = acked;
        send(ToVionet.newBuilder().setFeaturesAcked(FeaturesAcked.newBuilder().setFeatures(acked)).build());
        queueReady(RX_QUEUE, rxq, RX_VECTOR);
        queueReady(TX_QUEUE, txq, TX_VECTOR);
        if (ctrlq != null) {
            queueReady(CTRL_QUEUE, ctrlq, NO_VECTOR);
        }
        send(ToVionet.newBuilder().setDriverOk(DriverOk.getDefaultInstance()).build());
        awaitTunCapabilities(tunscapsBefore + 1, 20_000);
        rx = new RxPath(rxq, mem, guestTap, kicks[RX_QUEUE].fd(), calls[RX_VECTOR].fd(), rxLayout(),
                rxBuffers, o.mergeableBufferSize, acked);
        rx.fill();
        tx = new TxPath(txq, mem, guestTap, kicks[TX_QUEUE].fd(), calls[TX_VECTOR].fd(), txBuffers,
                TX_BUFFER, o.txSplitHeader, indirect(), new FaultFrames(mem, mac));
        if (o.oneThread) {
            startLoop(new SimLoop("guest-sim", o.haltPollNanos, rx, tx));
        } else {
            startLoop(new SimLoop("guest-sim-rx", o.haltPollNanos, rx));
            startLoop(new SimLoop("guest-sim-tx", o.haltPollNanos, tx));
        }
    }

    private void startLoop(SimLoop loop) {
        loops.add(loop);
        pathThreads.add(Thread.ofPlatform().name(loop.name()).start(loop));
    }

    private void queueReady(int index, DriverQueue q, int vector) throws IOException {
        send(ToVionet.newBuilder().setQueueReady(DeviceLink.queueReady(index, q.layout(), vector)).build());
    }

    // ---- control channel: TUNSCAP, stats -----------------------------------------------

    /** What vionet sends unasked or in answer, on the link's reader thread. */
    private void received(FromVionet m) throws IOException {
        switch (m.getMsgCase()) {
            case TUNCAP -> applyTunCapabilities(m.getTuncap());
            case STATS -> link.statsReply(m.getStats());
            case ERROR -> problem("vionet reported: " + m.getError().getMessage());
            case RESET_DONE -> resetDone.release();
            default -> problem("unexpected message from vionet: " + m.getMsgCase());
        }
    }

    private void problem(String what) {
        link.problem(what);
    }

    /** vmd's side of TUNSCAP: TUNSETOFFLOAD on our copy of the tap, then the answer. */
    private void applyTunCapabilities(TunCapabilities t) throws IOException {
        int flags = t.getTunFlags();
        if (!TunFlags.acceptedByLinux(flags)) {
            problem("TunCapabilities tun_flags 0x" + Integer.toHexString(flags) + " is no word a guest's features give");
        }
        TunCapabilitiesReply.Builder reply = TunCapabilitiesReply.newBuilder().setNic(t.getNic());
        if ((flags & refuseTunFlags) != 0) {
            reply.setOk(false).setAppliedFlags(hostTapFlags).setError(org.jvmd.proto.Error.newBuilder()
                    .setMessage("ioctl(TUNSETOFFLOAD): EINVAL (simulated refusal)").setErrno(Errno.EINVAL));
        } else {
            try {
                hostTap.setOffload(flags);
                hostTapFlags = flags;
                reply.setOk(true).setAppliedFlags(flags);
            } catch (SysException e) {
                reply.setOk(false).setAppliedFlags(hostTapFlags).setError(org.jvmd.proto.Error.newBuilder()
                        .setMessage(e.getMessage()).setErrno(e.errno()));
            }
        }
        synchronized (tunscaps) {
            tunscaps.add(t);
            tunscaps.notifyAll();
        }
        send(ToVionet.newBuilder().setTuncapReply(reply).build());
    }

    /** Waits until vionet has sent at least {@code count} TunCapabilities in all; the last one. */
    public TunCapabilities awaitTunCapabilities(int count, long timeoutMillis) throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (tunscaps) {
            while (tunscaps.size() < count) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0 || link.eof()) {
                    throw new TimeoutException("vionet sent " + tunscaps.size() + " TunCapabilities, expected "
                            + count + " within " + timeoutMillis + " ms");
                }
                tunscaps.wait(Math.min(left, 200));
            }
            return tunscaps.get(tunscaps.size() - 1);
        }
    }

    /** Every TunCapabilities vionet sent, in order. */
    public List<TunCapabilities> tunCapabilities() {
        synchronized (tunscaps) {
            return List.copyOf(tunscaps);
        }
    }

    /** The TUN_F_* flags last applied to the host tap. */
    public int hostTapFlags() {
        return hostTapFlags;
    }

    /** Answer TUNSETOFFLOADs that include any of these flags with EINVAL, as an old kernel would. */
    public void refuseTunFlags(int flags) {
        refuseTunFlags = flags;
    }

    /** vionet's counters for the NIC (a Stats request). */
    public NicStats stats() throws IOException, InterruptedException {
        return stats(10_000);
    }

    /** {@link #stats()}, waiting at most {@code timeoutMillis} for the answer. */
    public NicStats stats(long timeoutMillis) throws IOException, InterruptedException {
        StatsReply r = link.stats(ToVionet.newBuilder().setStats(StatsRequest.getDefaultInstance()).build(), timeoutMillis);
        if (r.getNicsCount() != 1) {
            throw new IOException("StatsReply with " + r.getNicsCount() + " NICs, expected 1");
        }
        return r.getNics(0);
    }

    // ---- control queue -----------------------------------------------------------------

    /**
     * Sends one control command (virtio 1.2 §5.1.6.5: class, command, data, then a
     * device-writable ack) and polls for its completion as Linux virtnet_send_command does.
     *
     * @return the ack byte (VIRTIO_NET_OK 0, VIRTIO_NET_ERR 1)
     */
    public synchronized int controlCommand(int cls, int cmd, byte[] data) throws IOException, GuestFault {
        if (ctrlq == null) {
            throw new IllegalStateException("no control queue (VIRTIO_NET_F_CTRL_VQ not acked)");
        }
        long hdr = ctrlArea;
        long body = ctrlArea + 64;
        long ack = ctrlArea + 1024;
        mem.writeByte(hdr, (byte) cls);
        mem.writeByte(hdr + 1, (byte) cmd);
        mem.write(body, data, 0, data.length);
        mem.writeByte(ack, (byte) 0xff);
        ctrlq.readable(hdr, 2);
        if (data.length > 0) {
            ctrlq.readable(body, data.length);
        }
        ctrlq.writable(ack, 1);
        int head = ctrlq.add();
        if (head == DriverQueue.NONE) {
            throw new IllegalStateException("control queue full");
        }
        if (ctrlq.kick()) {
            kicks[CTRL_QUEUE].signal();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (ctrlq.reap() == DriverQueue.NONE) {
            if (System.nanoTime() > deadline || link.eof()) {
                throw new IOException("vionet did not complete control command " + cls + "/" + cmd + " within 10 s");
            }
            LockSupport.parkNanos(200_000);
        }
        if (ctrlq.usedLen() != 1) {
            problem("control command " + cls + "/" + cmd + " used with length " + ctrlq.usedLen() + ", expected 1");
        }
        return mem.readByte(ack) & 0xff;
    }

    /**
     * VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET (virtio 1.2 §5.1.6.5.6): the guest switches its
     * receive offloads to {@code offloads} (GUEST_* feature bits) at run time.
     */
    public int setGuestOffloads(long offloads) throws IOException, GuestFault {
        if (!has(acked, CTRL_GUEST_OFFLOADS)) {
            throw new IllegalStateException("VIRTIO_NET_F_CTRL_GUEST_OFFLOADS not acked");
        }
        long next = (acked & ~GUEST_OFFLOADS) | (offloads & GUEST_OFFLOADS);
        rx.offloadsChanging(rxOffloads | next);
        byte[] le64 = new byte[8];
        for (int i = 0; i < 8; i++) {
            le64[i] = (byte) (offloads >>> (8 * i));
        }
        int result = controlCommand(CTRL_CLASS_GUEST_OFFLOADS, CTRL_GUEST_OFFLOADS_SET, le64);
        if (result == CTRL_OK) {
            rxOffloads = next;
        }
        rx.offloadsChanged(rxOffloads, mem.readShortAcquire(rxq.layout().usedIdx()) & 0xffff);
        return result;
    }

    /**
     * Plays a guest VLAN interface: from now on every transmitted frame carries an 802.1Q
     * tag with {@code tci} inline, csum_start and hdr_len moved past it (-1: stop tagging).
     */
    public void tagTransmittedFrames(int tci) {
        tx.tagFrames(tci);
    }

    // ---- reset -------------------------------------------------------------------------

    /**
     * A device reset in the middle of whatever traffic runs (virtio 1.2 §2.4: the driver
     * writes 0 to device_status; the transport forwards {@code Reset}): both paths stop,
     * vionet answers ResetDone (after a TunCapabilities with no offloads), and the driver
     * starts over with fresh rings at the same addresses, acks, DRIVER_OK and new buffers.
     */
    public synchronized void reset() throws Exception {
        stopPaths();
        int tunscapsBefore = tunCapabilities().size();
        resetDone.drainPermits();
        send(ToVionet.newBuilder().setReset(org.jvmd.proto.Reset.getDefaultInstance()).build());
        if (!resetDone.tryAcquire(10, TimeUnit.SECONDS)) {
            throw new IOException("vionet did not answer Reset with ResetDone within 10 s");
        }
        awaitTunCapabilities(tunscapsBefore + 1, 10_000);
        layOutRings();
        negotiate();
    }

    private void stopPaths() {
        if (tx != null) {
            tx.stop();
        }
        if (rx != null) {
            rx.stop();
        }
        for (Thread t : pathThreads) {
            DeviceLink.join(t);
        }
        pathThreads.clear();
        for (SimLoop l : loops) {
            l.close();
        }
        loops.clear();
        if (tx != null) {
            tx.close();
        }
        if (rx != null) {
            rx.close();
        }
    }

    // ---- fault injection ---------------------------------------------------------------

    /**
     * Posts one malformed transmit chain per fault and waits until vionet has used them all;
     * returns the used length of each (a device must answer a bad chain with 0).
     */
    public int[] injectTx(List<TxFault> faults, long timeoutMillis) throws Exception {
        TxPath.Injection inj = new TxPath.Injection(faults);
        tx.submit(inj);
        try {
            return inj.result.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IOException("injection failed: " + e.getCause(), e.getCause());
        }
    }

    // ---- observations ------------------------------------------------------------------

    /** The features the simulated driver acked. */
    public long ackedFeatures() {
        return acked;
    }

    public byte[] mac() {
        return mac.clone();
    }

    public int vionetPid() {
        return link.child().pid();
    }

    /** The host tap (vionet's); the simulator keeps this copy for TUNSETOFFLOAD. */
    public String hostTapName() {
        return hostTap.name();
    }

    /** True once vionet's channel has closed. */
    public boolean vionetGone() {
        return link != null && link.eof();
    }

    /** What went wrong so far: device errors seen by the receive path, protocol problems, a stopped path. */
    public List<String> problems() {
        List<String> all = new ArrayList<>(link == null ? List.of() : link.problems());
        if (rx != null && rx.deviceErrors > 0) {
            all.add(rx.deviceErrors + " receive-side device errors, first: " + rx.firstDeviceError());
        }
        if (rx != null && rx.failure() != null) {
            all.add("receive path stopped: " + rx.failure());
        }
        if (tx != null && tx.failure() != null) {
            all.add("transmit path stopped: " + tx.failure());
        }
        return all;
    }

    /** Each simulator thread's waits so far: those its halt poll ended, and those that slept. */
    public List<Waits> haltWaits() {
        List<Waits> out = new ArrayList<>();
        for (SimLoop l : loops) {
            out.add(new Waits(l.name(), l.polled(), l.slept()));
        }
        return out;
    }

    /** One simulator thread's waits. */
    public record Waits(String thread, long polled, long slept) {
        @Override
        public String toString() {
            return thread + " polled=" + polled + " slept=" + slept;
        }
    }

    /** The simulator's own counters. */
    public Counters counters() {
        return new Counters(tx == null ? 0 : tx.frames, tx == null ? 0 : tx.bytes, tx == null ? 0 : tx.gsoFrames,
                tx == null ? 0 : tx.csumFrames, tx == null ? 0 : tx.vlanCsumFrames, tx == null ? 0 : tx.kicks,
                rx == null ? 0 : rx.frames, rx == null ? 0 : rx.bytes, rx == null ? 0 : rx.gsoFrames,
                rx == null ? 0 : rx.csumFrames, rx == null ? 0 : rx.validFrames, rx == null ? 0 : rx.mergedFrames,
                rx == null ? 0 : rx.kicks, rx == null ? 0 : rx.tapErrors, rx == null ? 0 : rx.deviceErrors);
    }

    /** Transmit (guest to vionet) and receive (vionet to guest) counters of the simulated driver. */
    public record Counters(long txFrames, long txBytes, long txGso, long txNeedsCsum, long txVlanNeedsCsum,
                           long txKicks, long rxFrames, long rxBytes, long rxGso, long rxNeedsCsum,
                           long rxDataValid, long rxMerged, long rxKicks, long rxTapErrors, long rxDeviceErrors) {
        @Override
        public String toString() {
            return "tx frames=" + txFrames + " bytes=" + txBytes + " gso=" + txGso + " needs_csum=" + txNeedsCsum
                    + " vlan_needs_csum=" + txVlanNeedsCsum + " kicks=" + txKicks
                    + " | rx frames=" + rxFrames + " bytes=" + rxBytes + " gso=" + rxGso + " needs_csum=" + rxNeedsCsum
                    + " data_valid=" + rxDataValid + " merged=" + rxMerged + " kicks=" + rxKicks
                    + " tap_errors=" + rxTapErrors + " device_errors=" + rxDeviceErrors;
        }
    }

    // ---- shutdown ----------------------------------------------------------------------

    /** Stops both directions, asks vionet to shut down (kills it after 3 s), and frees everything. */
    @Override
    public void close() {
        stopPaths();
        if (link != null) {
            link.close(link.eof() ? null : ToVionet.newBuilder().setShutdown(Shutdown.getDefaultInstance()).build());
        }
        for (int i = 0; i < 3; i++) {
            if (kicks[i] != null) {
                kicks[i].close();
            }
            if (calls[i] != null) {
                calls[i].close();
            }
        }
        if (guestTap != null) {
            guestTap.close();
        }
        if (hostTap != null) {
            hostTap.close();
        }
        if (ram != null) {
            ram.close();
        }
    }
}
