package org.jvmd.vmm.net;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import com.google.protobuf.MessageLite;
import org.jvmd.proto.DriverOk;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FeaturesAcked;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.Reset;
import org.jvmd.proto.Shutdown;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.StatsRequest;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.proto.VionetInit;
import org.jvmd.sys.Channel;
import org.jvmd.sys.Child;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.MappedGuestMemory;
import org.jvmd.sys.PeerClosedException;
import org.jvmd.sys.Received;
import org.jvmd.sys.Spawner;
import org.jvmd.sys.SysException;
import org.jvmd.sys.WaitStatus;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.vmm.pci.QueueConfig;
import org.jvmd.vmm.pci.VirtioDevice;
import org.jvmd.vmm.pci.VirtioInterrupt;
import org.jvmd.vmm.pci.VirtioPciTransport;
import org.jvmd.vmm.pci.VirtioTransportListener;

/**
 * virtio-net in vmm-proc: the guest-visible half of a NIC whose queues a vionet-proc
 * serves (vmd's vionet.c split vhost-user style). This side offers the features of the
 * {@link NicConfig}, answers the device configuration space ({@link NetConfigSpace}) and
 * relays the transport's control events to vionet as protobuf ({@code FeaturesAcked},
 * {@code QueueReady}, {@code DriverOk}, {@code Reset}); the data path never passes here:
 * one kick eventfd per queue and one call eventfd per MSI-X vector are handed to vionet
 * and registered with KVM by {@link KvmEventfds}.
 *
 * <p>vionet's messages are read on one relay thread: {@code TunCapabilities} go up to the
 * {@link Uplink} (vmd applies TUNSETOFFLOAD) and the replies come back down through
 * {@link #tuncapReply}; {@code StatsReply} answers {@link #stats}; {@code ResetDone} ends a
 * reset. When vionet dies the relay sees EOF at once, logs it and flags the device
 * DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2) instead of ending the VM; from then on
 * FEATURES_OK is refused, so a re-initialising driver fails cleanly.
 */
public final class VionetProxy implements VirtioDevice, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VionetProxy.class.getName());

    /** virtio 1.2 §5: device ID 1, network card. */
    public static final int DEVICE_TYPE = 1;
    public static final String MAIN_CLASS = "org.jvmd.vionet.VionetMain";
    /**
     * vionet's JVM options. Its data path wants C2, which the JVM's default (tiered) gives:
     * no -XX:TieredStopAtLevel here, so that JAVA_TOOL_OPTIONS may still lower it (the lab
     * does, see scripts/lab-test). ErrorFileToStderr: vionet runs chrooted in an empty
     * directory, where a JVM crash report (hs_err) could not be written; on stderr it lands
     * in vmm-proc's log.
     */
    static final String[] JVM_OPTIONS = {"-Xmx256m", "-XX:+ErrorFileToStderr"};
    public static final int QUEUE_SIZE = 256;
    public static final int RX = 0;
    public static final int TX = 1;
    public static final int CTRL = 2;
    static final long RESET_TIMEOUT_MS = 2_000;
    static final long SHUTDOWN_WAIT_MS = 2_000;

    /** Where vionet's TUNSCAP goes: vmd, through vmm-proc's channel ({@code FromVmm{tuncap}}). */
    public interface Uplink {
        void tunCapabilities(TunCapabilities caps);
    }

    private final String title;
    private final NicConfig nic;
    private final Uplink uplink;
    private final NetConfigSpace config;
    private final long offered;
    private final int queues;
    private final int vectors;
    private final List<EventFd> kicks = new ArrayList<>();
    private final List<EventFd> calls = new ArrayList<>();
    private final Object sendLock = new Object();
    private final Object statsLock = new Object();
    private final Semaphore resetDone = new Semaphore(0);
    private volatile CompletableFuture<StatsReply> pendingStats;
    private volatile VirtioPciTransport transport;
    private volatile boolean dead;
    private volatile boolean closing;
    private Channel channel;
    private Child child;
    private Thread relayThread;
    private final VirtioTransportListener events = new TransportEvents();
    private long sendFailures;
    private long configWrites;

    /** Creates the device and its eventfds; {@link #start} or {@link #spawn} connects vionet. */
    public VionetProxy(String title, NicConfig nic, Uplink uplink) throws SysException {
        this.title = title;
        this.nic = nic;
        this.uplink = uplink;
        this.config = new NetConfigSpace(nic.getMac().toByteArray(), nic.getMtu());
        this.offered = NetConfigSpace.offeredFeatures(nic.getFeatures());
        this.queues = VirtioNetFeatures.has(offered, VirtioNetFeatures.CTRL_VQ) ? 3 : 2;
        this.vectors = queues + 1; // one per queue plus configuration changes, as the transport's table
        try {
            for (int q = 0; q < queues; q++) {
                kicks.add(EventFd.create(true));
            }
            for (int v = 0; v < vectors; v++) {
                calls.add(EventFd.create(true));
            }
        } catch (SysException e) {
            closeEventfds();
            throw e;
        }
    }

    /**
     * Spawns vionet-proc {@code title} and connects it ({@link #start}). {@code memfd} and
     * {@code tap} are handed over (closed in every case). {@code output}: vionet's
     * stdout+stderr, or null to inherit. {@code classpath}: null for this JVM's.
     */
    public static VionetProxy spawn(String title, NicConfig nic, Uplink uplink, Fd memfd, Fd tap,
                                    List<MemoryRegion> regions, String user, String chroot, Path output,
                                    String classpath, long readyTimeoutMs) throws IOException {
        return connect(title, nic, uplink, null, memfd, tap, regions, user, chroot, output, classpath, readyTimeoutMs);
    }

    /**
     * The vionet-proc {@code title}, started at once and connected later by {@link #connect}:
     * its JVM starts while the VM is being set up (vionet waits for its init message).
     */
    public static Child startEarly(String title, Path output, String classpath) throws IOException {
        Spawner s = Spawner.java(title, MAIN_CLASS).jvmOptions(JVM_OPTIONS);
        if (output != null) {
            s.output(output);
        }
        if (classpath != null) {
            s.classpath(classpath);
        }
        return s.spawn();
    }

    /**
     * {@link #spawn}, or, when {@code started} is not null, the same with that vionet-proc
     * from {@link #startEarly} (handed over: closed on failure).
     */
    public static VionetProxy connect(String title, NicConfig nic, Uplink uplink, Child started, Fd memfd, Fd tap,
                                      List<MemoryRegion> regions, String user, String chroot, Path output,
                                      String classpath, long readyTimeoutMs) throws IOException {
        VionetProxy p = null;
        Child c = started;
        try {
            p = new VionetProxy(title, nic, uplink);
            if (c == null) {
                c = startEarly(title, output, classpath);
            }
            p.start(c.channel(), c, memfd, tap, regions, user, chroot, readyTimeoutMs);
            return p;
        } catch (IOException | RuntimeException e) {
            memfd.close();
            tap.close();
            if (c != null) {
                c.close();
            }
            if (p != null) {
                p.closeEventfds();
            }
            throw e;
        }
    }

    /**
     * Sends {@code VionetInit} over {@code ch} with the memfd, the tap, a kick eventfd per
     * queue and a call eventfd per vector (all handed over), waits for {@code Ready} and
     * starts the relay thread. {@code child} (may be null) is reaped on close.
     */
    public void start(Channel ch, Child child, Fd memfd, Fd tap, List<MemoryRegion> regions, String user,
                      String chroot, long readyTimeoutMs) throws IOException {
        this.channel = ch;
        this.child = child;
        List<Fd> fds = new ArrayList<>();
        ToVionet.Builder m = ToVionet.newBuilder().setInit(VionetInit.newBuilder()
                .setNic(nic).addAllRegions(regions).setTitle(title).setUser(user).setChroot(chroot));
        try {
            add(m, fds, memfd, FdRole.FD_MEMFD, 0);
            add(m, fds, tap, FdRole.FD_TAP, 0);
            for (int q = 0; q < queues; q++) {
                add(m, fds, kicks.get(q).fd().dup(), FdRole.FD_KICK, q);
            }
            for (int v = 0; v < vectors; v++) {
                add(m, fds, calls.get(v).fd().dup(), FdRole.FD_CALL, v);
            }
        } catch (SysException | RuntimeException e) {
            Fd.closeAll(fds);
            memfd.close();
            tap.close();
            throw e;
        }
        ch.send(m.build(), fds);
        awaitReady(readyTimeoutMs);
        relayThread = Thread.ofPlatform().daemon().name(title + "/relay").start(this::relayLoop);
    }

    /** The {@code VionetInit} regions of guest RAM laid out as {@code ranges} (GuestRam.ranges). */
    public static List<MemoryRegion> regions(List<MappedGuestMemory.Range> ranges) {
        List<MemoryRegion> r = new ArrayList<>();
        for (MappedGuestMemory.Range x : ranges) {
            r.add(MemoryRegion.newBuilder().setGuestPhys(x.gpa()).setSize(x.size()).setMemfdOffset(x.memfdOffset()).build());
        }
        return r;
    }

    private static void add(ToVionet.Builder m, List<Fd> fds, Fd fd, FdRole role, int index) {
        fds.add(fd);
        m.addFds(FdSlot.newBuilder().setRole(role).setIndex(index));
    }

    private void awaitReady(long timeoutMs) throws IOException {
        try (Received<FromVionet> r = channel.receive(FromVionet.parser(), timeoutMs)) {
            FromVionet m = r.message();
            switch (m.getMsgCase()) {
                case READY -> LOG.log(Level.DEBUG, () -> title + ": vionet ready, pid " + m.getReady().getPid());
                case ERROR -> throw new IOException(title + ": vionet failed: " + m.getError().getMessage());
                default -> throw new IOException(title + ": vionet answered " + m.getMsgCase() + " instead of Ready");
            }
        } catch (PeerClosedException e) {
            throw new IOException(title + ": vionet exited before Ready" + exitStatus(), e);
        } catch (java.net.SocketTimeoutException e) {
            throw new IOException(title + ": vionet did not answer Ready within " + timeoutMs + " ms", e);
        }
    }

    /** Tells the proxy which transport carries it (for DEVICE_NEEDS_RESET) and listens to it. */
    public void bind(VirtioPciTransport t) {
        if (t.device() != this) {
            throw new IllegalArgumentException("the transport carries another device");
        }
        if (t.msix().vectors() != vectors) {
            throw new IllegalStateException("the transport has " + t.msix().vectors() + " MSI-X vectors, not " + vectors);
        }
        this.transport = t;
        t.addListener(events);
    }

    public String title() {
        return title;
    }

    /** The kick eventfds (queue order), owned here; KVM ioeventfds are registered on them. */
    public List<EventFd> kicks() {
        return List.copyOf(kicks);
    }

    /** The call eventfds (vector order), owned here; KVM irqfds are registered on them. */
    public List<EventFd> calls() {
        return List.copyOf(calls);
    }

    /** vionet's process id, or -1 when it was not spawned here. */
    public int pid() {
        Child c = child;
        return c == null ? -1 : c.pid();
    }

    public boolean alive() {
        return !dead;
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
    public int queueCount() {
        return queues;
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

    @Override
    public synchronized void writeConfig(int offset, int size, long value) {
        configWrites++; // read-only for the driver (virtio 1.2 §5.1.4.2)
    }

    /** Refuses every set once vionet is gone, and sets breaking §5.1.3.1's dependencies. */
    @Override
    public boolean acceptFeatures(long features) {
        return !dead && VirtioNetFeatures.firstUnmetDependency(features) < 0;
    }

    /** The queues reach vionet as {@code QueueReady} when enabled; {@code DriverOk} follows. */
    @Override
    public void activate(long features, List<QueueConfig> queueConfigs, VirtioInterrupt interrupt) {}

    /** A kick that reached the transport (no ioeventfd matched): hand it to vionet's eventfd. */
    @Override
    public void queueNotify(int queue) {
        if (queue < 0 || queue >= queues) {
            return;
        }
        try {
            kicks.get(queue).signal();
        } catch (SysException | IllegalStateException e) {
            LOG.log(Level.WARNING, title + ": kick of queue " + queue + " lost: " + e.getMessage());
        }
    }

    /** Nothing here: the listener's {@link #reset()} relays it once the transport is reset. */
    @Override
    public void reset() {}

    // ---- transport events, relayed to vionet ----

    /** Called on the vCPU thread after the transport's state changed (outside its lock). */
    private final class TransportEvents implements VirtioTransportListener {

        @Override
        public void featuresAcked(long features) {
            send(ToVionet.newBuilder().setFeaturesAcked(FeaturesAcked.newBuilder().setFeatures(features)).build());
        }

        @Override
        public void queueReady(QueueConfig q) {
            send(ToVionet.newBuilder().setQueueReady(QueueReady.newBuilder().setQueue(q.index()).setSize(q.size())
                    .setDesc(q.desc()).setDriver(q.driver()).setDevice(q.device()).setMsixVector(q.msixVector())).build());
        }

        @Override
        public void driverOk() {
            send(ToVionet.newBuilder().setDriverOk(DriverOk.getDefaultInstance()).build());
        }

        /**
         * The driver reset the device: vionet must stop touching the rings before the driver
         * reuses their memory, so this waits (on the vCPU) for {@code ResetDone}, at most
         * {@link #RESET_TIMEOUT_MS}.
         */
        @Override
        public void reset() {
            resetDone.drainPermits();
            if (dead || !send(ToVionet.newBuilder().setReset(Reset.getDefaultInstance()).build())) {
                return;
            }
            try {
                if (!resetDone.tryAcquire(RESET_TIMEOUT_MS, TimeUnit.MILLISECONDS) && !dead) {
                    LOG.log(Level.WARNING, title + ": vionet did not confirm the reset within " + RESET_TIMEOUT_MS + " ms");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---- requests from vmd ----

    /** vmd's answer to a {@code TunCapabilities}, passed down to vionet. */
    public void tuncapReply(TunCapabilitiesReply reply) {
        send(ToVionet.newBuilder().setTuncapReply(reply).build());
    }

    /** Asks vionet for its counters. */
    public StatsReply stats(long timeoutMs) throws IOException, TimeoutException {
        synchronized (statsLock) {
            if (dead) {
                throw new IOException(title + ": vionet is not running");
            }
            CompletableFuture<StatsReply> f = new CompletableFuture<>();
            pendingStats = f;
            try {
                if (!send(ToVionet.newBuilder().setStats(StatsRequest.getDefaultInstance()).build())) {
                    throw new IOException(title + ": cannot reach vionet");
                }
                return f.get(timeoutMs, TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                throw new IOException(title + ": " + e.getCause().getMessage(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(title + ": interrupted", e);
            } finally {
                pendingStats = null;
            }
        }
    }

    private boolean send(MessageLite m) {
        Channel ch = channel;
        if (ch == null || dead) {
            return false;
        }
        synchronized (sendLock) {
            try {
                ch.send(m);
                return true;
            } catch (IOException e) {
                if (sendFailures++ == 0 && !closing) {
                    LOG.log(Level.WARNING, title + ": cannot reach vionet: " + e.getMessage());
                }
                return false;
            }
        }
    }

    // ---- the relay thread ----

    private void relayLoop() {
        while (true) {
            FromVionet m;
            try (Received<FromVionet> r = channel.receive(FromVionet.parser(), -1)) {
                m = r.message();
            } catch (PeerClosedException e) {
                died("its channel reached EOF");
                return;
            } catch (ClosedChannelException e) {
                died("the channel was closed");
                return;
            } catch (FrameException e) {
                LOG.log(Level.WARNING, title + ": bad message from vionet: " + e.getMessage());
                continue;
            } catch (IOException e) {
                died("channel error: " + e.getMessage());
                return;
            }
            dispatch(m);
        }
    }

    private void dispatch(FromVionet m) {
        switch (m.getMsgCase()) {
            case TUNCAP -> uplink.tunCapabilities(m.getTuncap());
            case STATS -> {
                CompletableFuture<StatsReply> f = pendingStats;
                if (f == null || !f.complete(m.getStats())) {
                    LOG.log(Level.WARNING, title + ": unrequested StatsReply from vionet");
                }
            }
            case RESET_DONE -> resetDone.release();
            case ERROR -> LOG.log(Level.WARNING, title + ": vionet: " + m.getError().getMessage());
            default -> LOG.log(Level.WARNING, title + ": unexpected message from vionet: " + m.getMsgCase());
        }
    }

    private void died(String why) {
        dead = true;
        resetDone.release(); // a reset waiting for vionet waits no longer
        CompletableFuture<StatsReply> f = pendingStats;
        if (f != null) {
            f.completeExceptionally(new IOException("vionet is gone"));
        }
        if (closing) {
            return;
        }
        LOG.log(Level.WARNING, title + ": vionet died (" + why + ")" + exitStatus()
                + "; the NIC needs a reset (DEVICE_NEEDS_RESET)");
        VirtioPciTransport t = transport;
        if (t != null) {
            t.deviceNeedsReset();
        }
    }

    private String exitStatus() {
        Child c = child;
        if (c == null) {
            return "";
        }
        try {
            WaitStatus s = c.waitFor(1_000);
            return s == null ? "" : ", " + s.describe();
        } catch (SysException e) {
            return "";
        }
    }

    // ---- teardown ----

    /** Asks vionet to exit, then closes the channel, reaps it and closes the eventfds. */
    @Override
    public void close() {
        closing = true;
        send(ToVionet.newBuilder().setShutdown(Shutdown.getDefaultInstance()).build());
        Child c = child;
        if (c != null) {
            try {
                if (c.waitFor(SHUTDOWN_WAIT_MS) == null) {
                    LOG.log(Level.WARNING, title + ": vionet did not exit on Shutdown; killing it");
                }
                c.close(); // closes the channel; kills and reaps if still running
            } catch (SysException e) {
                LOG.log(Level.WARNING, title + ": reaping vionet: " + e.getMessage());
            }
        } else if (channel != null) {
            channel.close();
        }
        Thread r = relayThread;
        if (r != null) {
            try {
                r.join(1_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        closeEventfds();
    }

    private void closeEventfds() {
        kicks.forEach(EventFd::close);
        calls.forEach(EventFd::close);
    }

    /** Driver writes to the read-only configuration space (ignored). */
    public synchronized long configWrites() {
        return configWrites;
    }

    int vectors() {
        return vectors;
    }

}
