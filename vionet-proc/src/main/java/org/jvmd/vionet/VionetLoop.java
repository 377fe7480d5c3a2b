package org.jvmd.vionet;

import java.io.IOException;
import java.lang.System.Logger.Level;
import org.jvmd.proto.Error;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.Paused;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.ResetDone;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.ToVionet;
import org.jvmd.sys.Epoll;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.PollWindow;
import org.jvmd.sys.SysException;
import org.jvmd.sys.device.DeviceChannel;
import org.jvmd.sys.device.Irqfds;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.net.Tap;
import org.jvmd.virtio.RingLayout;
import org.jvmd.sys.log.Logs;

/**
 * The shell's one thread: epoll over the channel, the tap and the kicks, calling into the
 * device core ({@link Vionet}), which has no locks. The tap is polled only while the core
 * can take frames ({@link Vionet#wantsTap}); work left after a budget makes the next wait
 * non-blocking, so a busy queue cannot starve the other events. (Transmit and receive on
 * threads of their own were measured to cost 15-30 % more CPU per GB on the shared 2-CPU
 * test machine without raising throughput, docs/dev-notes/guest-sim.md item 5, and were
 * removed.)
 */
public final class VionetLoop implements VectorInterrupt, VionetUplink {
    private static final System.Logger LOG = System.getLogger(VionetLoop.class.getName());

    private static final long CHANNEL = 0;
    private static final long TAP = 1;
    private static final long KICK = 10;

    private final DeviceChannel<ToVionet> channel;
    private final Tap tap;
    private final Fd[] kicks;
    private final Irqfds calls;
    private final Epoll epoll;
    /**
     * How long the thread may poll for work before it sleeps, in microseconds, with KVM's
     * halt-polling rule (Documentation/virt/kvm/halt-polling.rst; sys PollWindow): the window
     * opens only while the device's waits are shorter than this, so an idle or sparsely used
     * NIC sleeps at once, and a poll gives the CPU to any other runnable thread between two
     * looks. Request/response traffic gains the most: each transaction wakes vionet twice (the
     * guest's request, the host's reply), and on a virtual host a wake-up of a sleeping thread
     * costs an inter-processor interrupt through the hypervisor. While it polls, the transmit
     * ring is read from guest memory and the guest is asked not to kick ({@link #POLL_RING}).
     * 100 us rather than KVM's 200: on the 2-CPU test machine 200 took CPU from the
     * small-packet and bulk rows; 50 closed the window too often on the wait for a guest's
     * next request, which spans three wake-ups: over three sittings each, request/response
     * through vionet 14,000 transactions/s at 100 against 12,900 at 50, bulk and small
     * packets the same (docs/dev-notes/net-rows-and-lab-offloads.md). Overridden by the
     * system property {@code jvmd.vionet.pollMicros}; 0 turns polling off.
     */
    static final long POLL_MICROS = 100;
    /**
     * Whether a poll reads the transmit ring itself with the guest's kicks off (vhost-net's
     * busy poll does the same): a kick saved is a system call (in a VM, an exit) off the
     * guest's transmit path and an event off vionet's. System property
     * {@code jvmd.vionet.pollRing=false} turns it off (for A/B measurements).
     */
    static final boolean POLL_RING = !"false".equals(System.getProperty("jvmd.vionet.pollRing"));

    /**
     * Whether a poll reads the tap itself (non-blocking, at every look) rather than ask epoll
     * whether it is readable, epoll then looking only at every {@link #EPOLL_EVERY}-th look
     * for the channel and the other kicks: a look that finds a frame has read it, one system
     * call fewer on each of a request/response exchange's receive hops. System property
     * {@code jvmd.vionet.pollTap=false} turns it off (for A/B measurements).
     */
    static final boolean POLL_TAP = !"false".equals(System.getProperty("jvmd.vionet.pollTap"));
    /**
     * While the tap is read by the poll's looks: epoll_wait(0) at every this many looks,
     * counted across waits (a look is ~2-3 us here, so the channel and the control queue are
     * seen within ~100 us). Property {@code jvmd.vionet.epollEvery}, for measurements.
     */
    static final int EPOLL_EVERY = Integer.getInteger("jvmd.vionet.epollEvery", 32);

    private final PollWindow poll = new PollWindow(Long.getLong("jvmd.vionet.pollMicros", POLL_MICROS) * 1000);
    private Vionet vionet;
    /**
     * The looks of a poll: the transmit ring read from guest memory, the guest's kicks off,
     * and the tap read ({@link #POLL_TAP}).
     */
    private final Epoll.Poller looks = new Epoll.Poller() {
        @Override
        public void start() {
            if (!paused) {
                vionet.startTxPoll();
            }
        }

        @Override
        public boolean ready() {
            if (paused) {
                return false;
            }
            txFound = vionet.txAvailable();
            return txFound || (POLL_TAP && tapPolled && vionet.wantsTap() && vionet.pollTap());
        }

        @Override
        public boolean end() {
            if (!paused && vionet.endTxPoll()) {
                txFound = true;
            }
            return txFound;
        }
    };
    /** The poll found transmit chains (no kick came for them). */
    private boolean txFound;
    private boolean tapPolled;
    /** vmctl pause: no queue is served, no tap read, no interrupt raised until Unpause. */
    private boolean paused;
    /** The queues kicked while paused, served at Unpause. */
    private final boolean[] kickedWhilePaused;

    /** {@code kicks[q]} and {@code calls[v]} may be null (not given). */
    public VionetLoop(Channel channel, Tap tap, Fd[] kicks, Fd[] calls) throws SysException {
        this.channel = new DeviceChannel<>(channel, ToVionet.parser(), VionetLoop::error);
        this.tap = tap;
        this.kicks = kicks;
        this.calls = new Irqfds(calls);
        this.kickedWhilePaused = new boolean[kicks.length];
        this.epoll = new Epoll(16);
        epoll.add(channel.fd(), LibC.EPOLLIN, CHANNEL);
        epoll.add(tap.fd(), 0, TAP);
        for (int q = 0; q < kicks.length; q++) {
            if (kicks[q] != null) {
                LibC.setNonBlocking(kicks[q], true);
                boolean data = q == Vionet.TX || q == Vionet.RX;
                epoll.add(kicks[q], data ? LibC.EPOLLIN | LibC.EPOLLET : LibC.EPOLLIN, KICK + q);
            }
        }
        tap.setNonBlocking(true);
    }

    public void attach(Vionet v) {
        this.vionet = v;
    }

    /** Runs until Shutdown or end of file on the channel; returns the exit status. */
    public int run() throws IOException {
        while (true) {
            syncTapPolling();
            boolean pending = !paused && (vionet.txHasPendingWork() || vionet.rxHasPendingWork());
            txFound = false;
            int n = pending ? epoll.waitFor(0)
                    : POLL_RING ? epoll.waitPolling(poll, looks, tapPolled && POLL_TAP ? EPOLL_EVERY : 1)
                    : epoll.waitPolling(poll);
            if (txFound) {
                vionet.kick(Vionet.TX);
            }
            for (int i = 0; i < n; i++) {
                long data = epoll.data(i);
                if (data == CHANNEL) {
                    if (!onChannel()) {
                        return 0;
                    }
                } else if (data == TAP) {
                    if (!paused) {
                        vionet.tapReadable();
                    }
                } else {
                    int q = (int) (data - KICK);
                    if (q == Vionet.CTRL) {
                        EventFd.read(kicks[q]);   // the TX and RX kicks are edge-triggered
                    }
                    if (paused) {
                        kickedWhilePaused[q] = true;
                    } else {
                        vionet.kick(q);
                    }
                }
                if (channel.gone()) {
                    LOG.log(Level.INFO, "channel closed by parent (EOF), exiting");
                    return 0;
                }
            }
            if (!paused && vionet.txHasPendingWork()) {
                vionet.runPendingTx();
            }
            if (!paused && vionet.rxHasPendingWork()) {
                vionet.runPendingRx();
            }
        }
    }

    private void syncTapPolling() throws SysException {
        boolean want = !paused && vionet.wantsTap();
        if (want != tapPolled) {
            epoll.modify(tap.fd(), want ? LibC.EPOLLIN : 0, TAP);
            tapPolled = want;
        }
    }

    /** One control message; false when vionet should exit. */
    private boolean onChannel() throws IOException {
        ToVionet m = channel.receive();
        if (m == null) {
            return !channel.closed();
        }
        switch (m.getMsgCase()) {
            case FEATURES_ACKED -> vionet.featuresAcked(m.getFeaturesAcked().getFeatures());
            case QUEUE_READY -> {
                QueueReady q = m.getQueueReady();
                vionet.queueReady(q.getQueue(), new RingLayout(q.getSize(), q.getDesc(), q.getDriver(), q.getDevice()),
                        q.getMsixVector());
            }
            case DRIVER_OK -> vionet.driverOk();
            case RESET -> {
                vionet.reset();
                channel.send(FromVionet.newBuilder().setResetDone(ResetDone.getDefaultInstance()).build());
            }
            case TUNCAP_REPLY -> vionet.tunCapReply(m.getTuncapReply());
            case STATS -> channel.send(FromVionet.newBuilder()
                    .setStats(StatsReply.newBuilder().addNics(vionet.stats().toBuilder()
                            .setWaitsPolled(poll.pollHits()).setWaitsSlept(poll.sleeps()))).build());
            case PAUSE -> {
                // this thread does all the device's work: between two turns nothing is in flight
                paused = true;
                LOG.log(Level.DEBUG, "paused");
                channel.send(FromVionet.newBuilder().setPaused(Paused.getDefaultInstance()).build());
            }
            case UNPAUSE -> {
                paused = false;
                LOG.log(Level.DEBUG, "unpaused");
                for (int q = 0; q < kickedWhilePaused.length; q++) {
                    if (kickedWhilePaused[q]) {
                        kickedWhilePaused[q] = false;
                        vionet.kick(q);
                    }
                }
            }
            case LOG -> {
                Logs.verbose(m.getLog().getVerbose());
                LOG.log(Level.DEBUG, "debug logging on");
            }
            case SHUTDOWN -> {
                LOG.log(Level.INFO, "shutdown");
                return false;
            }
            default -> channel.unexpected(m.getMsgCase());
        }
        return !channel.gone();
    }

    static FromVionet error(String message) {
        return FromVionet.newBuilder().setError(Error.newBuilder().setMessage(message)).build();
    }

    @Override
    public void tunCap(org.jvmd.proto.TunCapabilities caps) {
        channel.send(FromVionet.newBuilder().setTuncap(caps).build());
    }

    @Override
    public void signal(int vector) {
        calls.signal(vector);
    }

    public void close() {
        epoll.close();
    }
}
