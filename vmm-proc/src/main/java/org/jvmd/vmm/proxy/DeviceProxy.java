package org.jvmd.vmm.proxy;

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
import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import org.jvmd.proto.DriverOk;
import org.jvmd.proto.Error;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FeaturesAcked;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.LogLevel;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.Pause;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.Reset;
import org.jvmd.proto.Shutdown;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.StatsRequest;
import org.jvmd.proto.Unpause;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Role;
import org.jvmd.sys.proc.Spawner;
import org.jvmd.sys.proc.WaitStatus;
import org.jvmd.vmm.pci.QueueConfig;
import org.jvmd.vmm.pci.VirtioDevice;
import org.jvmd.vmm.pci.VirtioInterrupt;
import org.jvmd.vmm.pci.VirtioPciTransport;

/**
 * The guest-visible half of a virtio device whose queues a device process serves (vmd's
 * vionet.c / vioblk.c split vhost-user style): what every such device shares. The
 * subclass names the device (type, features, configuration space) and the wire messages;
 * this class owns the rest of the life-cycle:
 * <ul>
 *   <li>one kick eventfd per queue and one call eventfd per MSI-X vector (queues + 1 for
 *       configuration changes, as the transport's table), handed to the device process
 *       at init and registered with KVM by {@link KvmEventfds};</li>
 *   <li>the handshake (init with its descriptors, then {@code Ready} or {@code Error});</li>
 *   <li>the {@link VirtioDevice} life-cycle, received like any in-process device and
 *       forwarded as protobuf: {@link #acceptFeatures} → {@code FeaturesAcked},
 *       {@link #queueEnabled} → {@code QueueReady}, {@link #activate} → {@code DriverOk},
 *       {@link #reset} → {@code Reset}, the last waiting for {@code ResetDone}; and stats
 *       requests answered by {@code StatsReply};</li>
 *   <li>one relay thread reading the device's messages: when the device process dies it sees
 *       EOF at once, logs it and flags the device DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2)
 *       instead of ending the VM; from then on FEATURES_OK is refused, so a
 *       re-initialising driver fails cleanly;</li>
 *   <li>teardown: {@code Shutdown}, reap, close the eventfds.</li>
 * </ul>
 *
 * @param <F> the device's message type ({@code FromVionet}, {@code FromVioblk})
 */
public abstract class DeviceProxy<F> implements VirtioDevice, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(DeviceProxy.class.getName());
    public static final long RESET_TIMEOUT_MS = 2_000;
    static final long SHUTDOWN_WAIT_MS = 2_000;

    private final String title;
    /** The device process's name in messages ("vionet", "vioblk"). */
    protected final String process;
    private final Parser<F> parser;
    private final int queues;
    private final int vectors;
    private final List<EventFd> kicks = new ArrayList<>();
    private final List<EventFd> calls = new ArrayList<>();
    private final Object sendLock = new Object();
    private final Object statsLock = new Object();
    private final Semaphore resetDone = new Semaphore(0);
    private final Semaphore paused = new Semaphore(0);
    private volatile CompletableFuture<StatsReply> pendingStats;
    private volatile VirtioPciTransport transport;
    private volatile boolean dead;
    private volatile boolean closing;
    private Channel channel;
    private Child child;
    private Thread relayThread;
    private long sendFailures;
    private long configWrites;

    /** Creates the eventfds: one kick per queue, one call per vector ({@code queues + 1}). */
    protected DeviceProxy(String title, String process, Parser<F> parser, int queues) throws SysException {
        this.title = title;
        this.process = process;
        this.parser = parser;
        this.queues = queues;
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

    // ---- what the device supplies ----

    /** A fresh builder of the device's envelope ({@code ToVionet}, {@code ToVioblk}). */
    protected abstract Message.Builder newEnvelope();

    /** The device's first answer after init: return normally for Ready, throw otherwise. */
    protected abstract void ready(F first) throws IOException;

    /** One later message of the device; the default case goes to {@link #unexpected}. */
    protected abstract void dispatch(F m);

    /**
     * {@code control} (FeaturesAcked, QueueReady, DriverOk, Reset, StatsRequest, Shutdown, or
     * one of the device's own) in the device's envelope: the field of the envelope's oneof
     * whose type is {@code control}'s. Control messages only, never per request.
     */
    protected final Message envelope(Message control) {
        Message.Builder b = newEnvelope();
        for (Descriptors.FieldDescriptor f : b.getDescriptorForType().getFields()) {
            if (f.getRealContainingOneof() != null && f.getJavaType() == Descriptors.FieldDescriptor.JavaType.MESSAGE
                    && f.getMessageType().equals(control.getDescriptorForType())) {
                return b.setField(f, control).build();
            }
        }
        throw new IllegalArgumentException(b.getDescriptorForType().getName() + " carries no "
                + control.getDescriptorForType().getName());
    }

    // ---- spawning and the handshake ----

    /**
     * How a device process {@code title} of {@code role} is started: the role's main class and
     * JVM options ({@link Role}); {@code output} its stdout+stderr or null to inherit,
     * {@code classpath} null for this JVM's.
     */
    public static Spawner spawner(Role role, String title, Path output, String classpath) {
        Spawner s = Spawner.role(role, title);
        if (output != null) {
            s.output(output);
        }
        if (classpath != null) {
            s.classpath(classpath);
        }
        return s;
    }


    /** The init message's descriptors and their slots, in the order they travel. */
    protected static final class InitFds {
        final List<Fd> fds = new ArrayList<>();
        final List<FdSlot> slots = new ArrayList<>();

        public InitFds() {}

        /** Adds {@code fd} (handed over) as ({@code role}, {@code index}, {@code layer}). */
        public InitFds add(Fd fd, FdRole role, int index, int layer) {
            fds.add(fd);
            slots.add(FdSlot.newBuilder().setRole(role).setIndex(index).setLayer(layer).build());
            return this;
        }

        public InitFds add(Fd fd, FdRole role, int index) {
            return add(fd, role, index, 0);
        }

        public List<FdSlot> slots() {
            return List.copyOf(slots);
        }

        void close() {
            Fd.closeAll(fds);
        }
    }

    /**
     * Sends {@code init} (built by {@code build} from the slots of {@code own} followed by a
     * kick eventfd per queue and a call eventfd per vector) with those descriptors (all
     * handed over, closed on failure), waits for the device's Ready and starts the relay
     * thread. {@code child} (may be null) is reaped on close.
     */
    protected final void handshake(Channel ch, Child child, InitFds own,
                                   java.util.function.Function<List<FdSlot>, MessageLite> build,
                                   long readyTimeoutMs) throws IOException {
        this.channel = ch;
        this.child = child;
        MessageLite init;
        try {
            for (int q = 0; q < queues; q++) {
                own.add(kicks.get(q).fd().dup(), FdRole.FD_KICK, q);
            }
            for (int v = 0; v < vectors; v++) {
                own.add(calls.get(v).fd().dup(), FdRole.FD_CALL, v);
            }
            init = build.apply(own.slots());
        } catch (SysException | RuntimeException e) {
            own.close();
            throw e;
        }
        ch.send(init, own.fds);
        awaitReady(readyTimeoutMs);
        relayThread = Thread.ofPlatform().daemon().name(title + "/relay").start(this::relayLoop);
    }

    private void awaitReady(long timeoutMs) throws IOException {
        try (Received<F> r = channel.receive(parser, timeoutMs)) {
            ready(r.message());
        } catch (PeerClosedException e) {
            throw new IOException(title + ": " + process + " exited before Ready" + exitStatus(), e);
        } catch (java.net.SocketTimeoutException e) {
            throw new IOException(title + ": " + process + " did not answer Ready within " + timeoutMs + " ms", e);
        }
    }

    /** For {@link #ready}: the device answered {@code error} to init. */
    protected final IOException failed(Error error) {
        return new IOException(title + ": " + process + " failed: " + error.getMessage());
    }

    /** For {@link #ready}: the device answered something else than Ready. */
    protected final IOException notReady(Object what) {
        return new IOException(title + ": " + process + " answered " + what + " instead of Ready");
    }

    /** The init regions of guest RAM laid out as {@code ranges} (GuestRam.ranges). */
    public static List<MemoryRegion> regions(List<MappedGuestMemory.Range> ranges) {
        List<MemoryRegion> r = new ArrayList<>();
        for (MappedGuestMemory.Range x : ranges) {
            r.add(MemoryRegion.newBuilder().setGuestPhys(x.gpa()).setSize(x.size()).setMemfdOffset(x.memfdOffset()).build());
        }
        return r;
    }

    /** Tells the proxy which transport carries it: the one it flags DEVICE_NEEDS_RESET when the process dies. */
    public void bind(VirtioPciTransport t) {
        if (t.device() != this) {
            throw new IllegalArgumentException("the transport carries another device");
        }
        if (t.msix().vectors() != vectors) {
            throw new IllegalStateException("the transport has " + t.msix().vectors() + " MSI-X vectors, not " + vectors);
        }
        this.transport = t;
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

    /** The device process's id, or -1 when it was not spawned here. */
    public int pid() {
        Child c = child;
        return c == null ? -1 : c.pid();
    }

    public boolean alive() {
        return !dead;
    }

    // ---- VirtioDevice: what every proxy answers alike ----

    @Override
    public final int queueCount() {
        return queues;
    }

    /** The configuration space is read-only for the driver (virtio 1.2 §5.1.4.2, §5.2.4): counted, ignored. */
    @Override
    public final synchronized void writeConfig(int offset, int size, long value) {
        configWrites++;
    }

    // ---- VirtioDevice life-cycle, forwarded to the device process ----
    // Each runs on the vCPU thread that wrote the register, under the transport's life-cycle
    // lock and not its register lock (VirtioDevice); the sends take only sendLock.

    /**
     * FEATURES_OK: refused once the device process is gone, or when {@link #featuresServable}
     * says no; otherwise {@code FeaturesAcked} tells the device process the features.
     */
    @Override
    public final boolean acceptFeatures(long features) {
        if (dead || !featuresServable(features)) {
            return false;
        }
        send(envelope(FeaturesAcked.newBuilder().setFeatures(features).build()));
        return true;
    }

    /** Whether the device can serve {@code features} (already a valid subset of the offer); all by default. */
    protected boolean featuresServable(long features) {
        return true;
    }

    /** queue_enable: the queue's layout and vector go to the device process as {@code QueueReady}. */
    @Override
    public final void queueEnabled(QueueConfig q) {
        send(envelope(QueueReady.newBuilder().setQueue(q.index()).setSize(q.size()).setDesc(q.desc())
                .setDriver(q.driver()).setDevice(q.device()).setMsixVector(q.msixVector()).build()));
    }

    /**
     * DRIVER_OK: the device process has each queue from {@code QueueReady} already and
     * starts serving them on {@code DriverOk}; it raises interrupts through the call
     * eventfds, not through {@code interrupt}.
     */
    @Override
    public final void activate(long features, List<QueueConfig> queueConfigs, VirtioInterrupt interrupt) {
        send(envelope(DriverOk.getDefaultInstance()));
    }

    /** A kick that reached the transport (no ioeventfd matched): hand it to the device's eventfd. */
    @Override
    public final void queueNotify(int queue) {
        if (queue < 0 || queue >= queues) {
            return;
        }
        try {
            kicks.get(queue).signal();
        } catch (SysException | IllegalStateException e) {
            LOG.log(Level.WARNING, title + ": kick of queue " + queue + " lost: " + e.getMessage());
        }
    }

    /**
     * The driver reset the device: the device process must stop touching the rings before
     * the driver reuses their memory, so this sends {@code Reset} and waits (on the vCPU)
     * for {@code ResetDone}, at most {@link #RESET_TIMEOUT_MS}; not at all once the device
     * process is gone.
     */
    @Override
    public final void reset() {
        resetDone.drainPermits();
        if (dead || !send(envelope(Reset.getDefaultInstance()))) {
            return;
        }
        try {
            if (!resetDone.tryAcquire(RESET_TIMEOUT_MS, TimeUnit.MILLISECONDS) && !dead) {
                LOG.log(Level.WARNING, title + ": " + process + " did not confirm the reset within "
                        + RESET_TIMEOUT_MS + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- requests ----

    /** Asks the device process for its counters. */
    public StatsReply stats(long timeoutMs) throws IOException, TimeoutException {
        synchronized (statsLock) {
            if (dead) {
                throw new IOException(title + ": " + process + " is not running");
            }
            CompletableFuture<StatsReply> f = new CompletableFuture<>();
            pendingStats = f;
            try {
                if (!send(envelope(StatsRequest.getDefaultInstance()))) {
                    throw new IOException(title + ": cannot reach " + process);
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

    /** Sends {@code m} to the device process; false (logged once) when it cannot be reached. */
    protected final boolean send(MessageLite m) {
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
                    LOG.log(Level.WARNING, title + ": cannot reach " + process + ": " + e.getMessage());
                }
                return false;
            }
        }
    }

    // ---- the relay thread ----

    private void relayLoop() {
        while (true) {
            F m;
            try (Received<F> r = channel.receive(parser, -1)) {
                m = r.message();
            } catch (PeerClosedException e) {
                died("its channel reached EOF");
                return;
            } catch (ClosedChannelException e) {
                died("the channel was closed");
                return;
            } catch (FrameException e) {
                LOG.log(Level.WARNING, title + ": bad message from " + process + ": " + e.getMessage());
                continue;
            } catch (IOException e) {
                died("channel error: " + e.getMessage());
                return;
            }
            dispatch(m);
        }
    }

    /** For {@link #dispatch}: the answer to {@link #stats}. */
    protected final void statsArrived(StatsReply stats) {
        CompletableFuture<StatsReply> f = pendingStats;
        if (f == null || !f.complete(stats)) {
            LOG.log(Level.WARNING, title + ": unrequested StatsReply from " + process);
        }
    }

    /** For {@link #dispatch}: the device confirmed a reset. */
    /** The device process answered Pause: it touches guest memory no more. */
    protected final void pauseConfirmed() {
        paused.release();
    }

    /**
     * vmctl pause: asks the device process to finish what is in flight and stop touching guest
     * memory, and waits for {@code Paused} (at most {@code timeoutMs}). A gone device process
     * touches nothing: that counts as paused.
     */
    public final void pause(long timeoutMs) throws TimeoutException {
        paused.drainPermits();
        if (!alive() || !send(envelope(Pause.getDefaultInstance()))) {
            return;
        }
        try {
            if (!paused.tryAcquire(timeoutMs, TimeUnit.MILLISECONDS) && alive()) {
                throw new TimeoutException(title + ": " + process + " did not pause within " + timeoutMs + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** vmctl log verbose|brief: the device process's debug lines on or off. */
    public final void setVerbose(boolean on) {
        send(envelope(LogLevel.newBuilder().setVerbose(on).build()));
    }

    /** vmctl unpause: the device process serves its queues again. */
    public final void unpause() {
        send(envelope(Unpause.getDefaultInstance()));
    }

    protected final void resetConfirmed() {
        resetDone.release();
    }

    /** For {@link #dispatch}: an error the device reports while running (logged). */
    protected final void reported(Error error) {
        LOG.log(Level.WARNING, title + ": " + process + ": " + error.getMessage());
    }

    /** For {@link #dispatch}: a message the device should not send now (logged, dropped). */
    protected final void unexpected(Object what) {
        LOG.log(Level.WARNING, title + ": unexpected message from " + process + ": " + what);
    }

    private void died(String why) {
        dead = true;
        resetDone.release(); // a reset waiting for the device waits no longer
        CompletableFuture<StatsReply> f = pendingStats;
        if (f != null) {
            f.completeExceptionally(new IOException(process + " is gone"));
        }
        if (closing) {
            return;
        }
        paused.release(); // a pause waiting for the device waits no longer: a gone process touches nothing
        deviceDied();
        LOG.log(Level.WARNING, title + ": " + process + " died (" + why + ")" + exitStatus()
                + "; the device needs a reset (DEVICE_NEEDS_RESET)");
        VirtioPciTransport t = transport;
        if (t != null) {
            t.deviceNeedsReset();
        }
    }

    /**
     * Called on the relay thread once the device process is gone while the device was not
     * being closed (before the transport hears of it).
     */
    protected void deviceDied() {}

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

    /** Asks the device process to exit, then closes the channel, reaps it and closes the eventfds. */
    @Override
    public void close() {
        closing = true;
        send(envelope(Shutdown.getDefaultInstance()));
        Child c = child;
        if (c != null) {
            try {
                if (c.waitFor(SHUTDOWN_WAIT_MS) == null) {
                    LOG.log(Level.WARNING, title + ": " + process + " did not exit on Shutdown; killing it");
                }
                c.close(); // closes the channel; kills and reaps if still running
            } catch (SysException e) {
                LOG.log(Level.WARNING, title + ": reaping " + process + ": " + e.getMessage());
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

    /** Closes the eventfds (a proxy whose handshake never happened). */
    protected final void closeEventfds() {
        kicks.forEach(EventFd::close);
        calls.forEach(EventFd::close);
    }

    /** Driver writes to the read-only configuration space (ignored). */
    public synchronized long configWrites() {
        return configWrites;
    }

    public int vectors() {
        return vectors;
    }

    /**
     * Makes a proxy with {@code make} and connects its device process: {@code started} (from
     * {@link #spawner}) or one that {@code spawn} starts now, through {@code start}. On
     * failure the proxy's eventfds, the process and every descriptor in {@code handedOver}
     * are closed.
     */
    protected static <P extends DeviceProxy<?>> P connect(Step<P> make, Child started, Step<Child> spawn,
                                                          StartStep<P> start, List<Fd> handedOver)
            throws IOException {
        P p = null;
        Child c = started;
        try {
            p = make.run();
            if (c == null) {
                c = spawn.run();
            }
            start.start(p, c);
            return p;
        } catch (IOException | RuntimeException e) {
            Fd.closeAll(handedOver);
            if (c != null) {
                c.close();
            }
            if (p != null) {
                p.closeEventfds();
            }
            throw e;
        }
    }

    /** A step of {@link #connect} that may fail with an I/O or system error. */
    @FunctionalInterface
    protected interface Step<T> {
        T run() throws IOException;
    }

    @FunctionalInterface
    protected interface StartStep<P> {
        void start(P proxy, Child child) throws IOException;
    }
}
