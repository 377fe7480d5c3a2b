package org.jvmd.vionet;

import java.io.IOException;
import java.net.SocketTimeoutException;
import org.jvmd.proto.Error;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.ResetDone;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.ToVionet;
import org.jvmd.sys.Channel;
import org.jvmd.sys.Epoll;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.PeerClosedException;
import org.jvmd.sys.Received;
import org.jvmd.sys.SysException;
import org.jvmd.sys.Tap;
import org.jvmd.virtio.RingLayout;

/**
 * The shell's threads: one for everything by default, or (with {@link #SPLIT_PROPERTY})
 * three. Split, the control thread (the caller of {@link #run}) waits on the
 * channel and the control queue's kick; the transmit thread on the transmit kick; the
 * receive thread on the tap and the receive kick. Each queue is served by one thread, so
 * acknowledgements for the guest are never held up behind frames for the tap; the device
 * core ({@link Vionet}) serialises the control plane against both. The tap is polled only
 * while the core can take frames ({@link Vionet#wantsTap}); work left after a budget makes
 * the next wait non-blocking, so a busy queue cannot starve its thread's other event. A
 * control message that may change what the receive path can do wakes the receive thread
 * (through its own kick eventfd, which costs the guest nothing).
 */
public final class VionetLoop implements Interrupts, Uplink {
    private static final long CHANNEL = 0;
    private static final long TAP = 1;
    private static final long KICK = 10;
    /**
     * EPOLLET (epoll_ctl(2)): the data paths watch their kick eventfds edge-triggered. Every
     * write to an eventfd wakes its waiters, so each kick is reported once without a read(2)
     * to reset the counter (a 64-bit counter that one kick at a time never fills).
     */
    private static final int EPOLLET = 1 << 31;
    /**
     * {@code -Djvmd.vionet.splitPaths=true}: transmit and receive on threads of their own.
     * Off by default: on the shared 2-CPU test machine the split cost ~15-30 % more CPU per
     * GB (more wake-ups) and did not raise throughput (docs/dev-notes/guest-sim.md, item 5).
     */
    public static final String SPLIT_PROPERTY = "jvmd.vionet.splitPaths";

    private final Channel channel;
    private final Tap tap;
    private final Fd[] kicks;
    private final Fd[] calls;
    private final Epoll epoll;
    private final Epoll txEpoll;
    private final Epoll rxEpoll;
    private final Thread txThread;
    private final Thread rxThread;
    /** Two data threads (true) or one thread for everything (false, the default). */
    private final boolean split;
    private Vionet vionet;
    private boolean tapPolled;
    private volatile boolean channelGone;
    private final boolean[] callWarned;

    /** {@code kicks[q]} and {@code calls[v]} may be null (not given). */
    public VionetLoop(Channel channel, Tap tap, Fd[] kicks, Fd[] calls) throws SysException {
        this.channel = channel;
        this.tap = tap;
        this.kicks = kicks;
        this.calls = calls;
        this.callWarned = new boolean[calls.length];
        this.split = Boolean.parseBoolean(System.getProperty(SPLIT_PROPERTY, "false"));
        this.epoll = new Epoll(16);
        this.txEpoll = split ? new Epoll(4) : epoll;
        this.rxEpoll = split ? new Epoll(4) : epoll;
        epoll.add(channel.fd().num(), LibC.EPOLLIN, CHANNEL);
        rxEpoll.add(tap.fd().num(), 0, TAP);
        for (int q = 0; q < kicks.length; q++) {
            if (kicks[q] != null) {
                LibC.setNonBlocking(kicks[q].num(), true);
                if (q == Vionet.TX || q == Vionet.RX) {
                    (q == Vionet.TX ? txEpoll : rxEpoll).add(kicks[q].num(), LibC.EPOLLIN | EPOLLET, KICK + q);
                } else {
                    epoll.add(kicks[q].num(), LibC.EPOLLIN, KICK + q);
                }
            }
        }
        tap.setNonBlocking(true);
        txThread = new Thread(new PathLoop(true), "vionet-tx");
        rxThread = new Thread(new PathLoop(false), "vionet-rx");
        txThread.setDaemon(true);
        rxThread.setDaemon(true);
    }

    public void attach(Vionet v) {
        this.vionet = v;
        if (split) {
            v.rxNudge(this::nudgeRx);
        }
    }

    /**
     * Runs until Shutdown or end of file on the channel; returns the exit status. With
     * split paths it starts the transmit and receive threads and serves the control plane.
     */
    public int run() throws IOException {
        if (!split) {
            return runSingle();
        }
        txThread.start();
        rxThread.start();
        while (true) {
            int n = epoll.waitFor(-1);
            for (int i = 0; i < n; i++) {
                long data = epoll.data(i);
                if (data == CHANNEL) {
                    if (!onChannel()) {
                        return 0;
                    }
                    nudgeRx();
                } else {
                    int q = (int) (data - KICK);
                    EventFd.read(kicks[q].num());
                    vionet.kick(q);
                    nudgeRx();
                }
                if (channelGone) {
                    Log.info("channel closed by parent (EOF), exiting");
                    return 0;
                }
            }
        }
    }

    /** Everything on this thread: the channel, the tap and every kick. */
    private int runSingle() throws IOException {
        while (true) {
            syncTapPolling();
            boolean pending = vionet.txHasPendingWork() || vionet.rxHasPendingWork();
            int n = epoll.waitFor(pending ? 0 : -1);
            for (int i = 0; i < n; i++) {
                long data = epoll.data(i);
                if (data == CHANNEL) {
                    if (!onChannel()) {
                        return 0;
                    }
                } else if (data == TAP) {
                    vionet.tapReadable();
                } else {
                    int q = (int) (data - KICK);
                    if (q == Vionet.CTRL) {
                        EventFd.read(kicks[q].num());   // the TX and RX kicks are edge-triggered
                    }
                    vionet.kick(q);
                }
                if (channelGone) {
                    Log.info("channel closed by parent (EOF), exiting");
                    return 0;
                }
            }
            if (vionet.txHasPendingWork()) {
                vionet.runPendingTx();
            }
            if (vionet.rxHasPendingWork()) {
                vionet.runPendingRx();
            }
        }
    }

    /** One data path's thread: transmit (kick) or receive (tap and kick). */
    private final class PathLoop implements Runnable {
        private final boolean transmit;

        PathLoop(boolean transmit) {
            this.transmit = transmit;
        }

        @Override
        public void run() {
            try {
                if (transmit) {
                    transmitLoop();
                } else {
                    receiveLoop();
                }
            } catch (Throwable t) {
                Log.warn("fatal in the " + (transmit ? "transmit" : "receive") + " path: " + t);
                t.printStackTrace();
                System.exit(1);
            }
        }
    }

    private void transmitLoop() throws SysException {
        while (true) {
            int n = txEpoll.waitFor(vionet.txHasPendingWork() ? 0 : -1);
            for (int i = 0; i < n; i++) {
                vionet.kick(Vionet.TX);   // edge-triggered: no read of the eventfd
            }
            if (vionet.txHasPendingWork()) {
                vionet.runPendingTx();
            }
        }
    }

    private void receiveLoop() throws SysException {
        while (true) {
            syncTapPolling();
            int n = rxEpoll.waitFor(vionet.rxHasPendingWork() ? 0 : -1);
            for (int i = 0; i < n; i++) {
                if (rxEpoll.data(i) == TAP) {
                    vionet.tapReadable();
                } else {
                    vionet.kick(Vionet.RX);   // edge-triggered: no read of the eventfd
                }
            }
            if (vionet.rxHasPendingWork()) {
                vionet.runPendingRx();
            }
        }
    }

    /** Wakes the receive thread so that it looks at its queue and the tap again. */
    private void nudgeRx() {
        try {
            EventFd.signal(kicks[Vionet.RX].num(), 1);
        } catch (SysException e) {
            Log.warn("waking the receive path: " + e.getMessage());
        }
    }

    private void syncTapPolling() throws SysException {
        boolean want = vionet.wantsTap();
        if (want != tapPolled) {
            rxEpoll.modify(tap.fd().num(), want ? LibC.EPOLLIN : 0, TAP);
            tapPolled = want;
        }
    }

    /** One control message; false when vionet should exit. */
    private boolean onChannel() throws IOException {
        ToVionet m;
        try (Received<ToVionet> r = channel.receive(ToVionet.parser(), 0)) {
            m = r.message();
        } catch (SocketTimeoutException e) {
            return true;
        } catch (PeerClosedException e) {
            Log.info("channel closed by parent (EOF), exiting");
            return false;
        } catch (org.jvmd.proto.FrameException e) {
            Log.warn("bad frame on the channel: " + e.getMessage());
            send(error("bad frame: " + e.getMessage()));
            return true;
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
                send(FromVionet.newBuilder().setResetDone(ResetDone.getDefaultInstance()).build());
            }
            case TUNCAP_REPLY -> vionet.tunCapReply(m.getTuncapReply());
            case STATS -> send(FromVionet.newBuilder()
                    .setStats(StatsReply.newBuilder().addNics(vionet.stats())).build());
            case SHUTDOWN -> {
                Log.info("shutdown");
                return false;
            }
            default -> {
                Log.warn("unexpected message " + m.getMsgCase() + " (answered with an error)");
                send(error("unexpected message " + m.getMsgCase()));
            }
        }
        return !channelGone;
    }

    static FromVionet error(String message) {
        return FromVionet.newBuilder().setError(Error.newBuilder().setMessage(message)).build();
    }

    private synchronized void send(FromVionet m) {
        try {
            channel.send(m);
        } catch (PeerClosedException e) {
            channelGone = true;
        } catch (IOException e) {
            Log.warn("channel send failed: " + e.getMessage());
        }
    }

    @Override
    public void tunCap(org.jvmd.proto.TunCapabilities caps) {
        send(FromVionet.newBuilder().setTuncap(caps).build());
    }

    @Override
    public void signal(int vector) {
        Fd fd = vector >= 0 && vector < calls.length ? calls[vector] : null;
        if (fd == null) {
            if (vector >= 0 && vector < callWarned.length && !callWarned[vector]) {
                callWarned[vector] = true;
                Log.warn("no irqfd for MSI-X vector " + vector);
            } else if (vector >= callWarned.length) {
                return;
            }
            return;
        }
        try {
            EventFd.signal(fd.num(), 1);
        } catch (SysException e) {
            if (!callWarned[vector]) {
                callWarned[vector] = true;
                Log.warn("irqfd of vector " + vector + ": " + e.getMessage());
            }
        }
    }

    public void close() {
        epoll.close();
        if (split) {
            txEpoll.close();
            rxEpoll.close();
        }
    }
}
