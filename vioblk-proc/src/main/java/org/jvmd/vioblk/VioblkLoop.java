package org.jvmd.vioblk;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.Locale;
import org.jvmd.proto.DiskStats;
import org.jvmd.proto.Error;
import org.jvmd.proto.FromVioblk;
import org.jvmd.proto.Paused;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.ResetDone;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.ToVioblk;
import org.jvmd.sys.Epoll;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.device.DeviceChannel;
import org.jvmd.sys.device.Irqfds;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.QueueCounters;
import org.jvmd.virtio.RingLayout;
import org.jvmd.virtio.blk.BlockCounters;
import org.jvmd.virtio.blk.Vioblk;
import org.jvmd.sys.log.Logs;

/**
 * The device thread: one epoll over the channel to vmm-proc, the request queue's kick
 * eventfd (the guest's ioeventfd) and the I/O threads' completion eventfd. Control
 * messages are served here between batches; the guest's interrupts go straight to the
 * irqfds. Everything that touches the device core ({@link Vioblk}) runs on this thread.
 */
final class VioblkLoop implements Vioblk.Interrupts, Vioblk.Listener {
    private static final System.Logger LOG = System.getLogger(VioblkLoop.class.getName());

    private static final long CHANNEL = 0;
    private static final long KICK = 1;
    private static final long DONE = 2;
    /** How long Shutdown or end of file waits for requests in flight before exiting. */
    static final long DRAIN_MS = 5_000;

    private final DeviceChannel<ToVioblk> channel;
    private final Fd kick;
    private final Irqfds calls;
    private final EventFd done;
    private final IoPool pool;
    private final Epoll epoll;
    private final int disk;
    private Vioblk vioblk;
    private UringIo uring;
    private boolean exiting;

    VioblkLoop(Channel channel, Fd kick, Fd[] calls, EventFd done, IoPool pool, int disk) throws SysException {
        this.channel = new DeviceChannel<>(channel, ToVioblk.parser(), VioblkLoop::error);
        this.kick = kick;
        this.calls = new Irqfds(calls);
        this.done = done;
        this.pool = pool;
        this.disk = disk;
        this.epoll = new Epoll(8);
        epoll.add(channel.fd(), LibC.EPOLLIN, CHANNEL);
        if (kick != null) {
            LibC.setNonBlocking(kick, true);
            epoll.add(kick, LibC.EPOLLIN, KICK);
        }
        epoll.add(done.fd(), LibC.EPOLLIN, DONE);
    }

    void attach(Vioblk v) {
        this.vioblk = v;
    }

    /** Reads and writes go to this ring ({@link UringIo}); its completions come on the same eventfd as the pool's. */
    void useUring(UringIo u) {
        this.uring = u;
    }

    /** Runs until Shutdown or end of file on the channel; returns the exit status. */
    int run() throws IOException {
        pool.start();
        while (true) {
            int n = epoll.waitFor(vioblk.hasPendingWork() ? 0 : -1);
            for (int i = 0; i < n; i++) {
                long data = epoll.data(i);
                if (data == CHANNEL) {
                    if (!onChannel()) {
                        drainBeforeExit();
                        return 0;
                    }
                } else if (data == KICK) {
                    EventFd.read(kick);
                    vioblk.kick();
                } else {
                    EventFd.read(done.fd());
                    completions();
                }
            }
            if (n == 0 && vioblk.hasPendingWork()) {
                vioblk.kick();
            }
            if (uring != null) {
                uring.flush();   // one io_uring_enter for every SQE this turn filled
            }
        }
    }

    private void completions() {
        int n = pool.drain(vioblk::complete);
        if (uring != null) {
            n += uring.drain(vioblk::complete);
        }
        if (n > 0) {
            vioblk.completionsDone();
        }
    }

    /** Lets the requests in flight finish (their writes reach the image) before the process exits. */
    private void drainBeforeExit() throws SysException {
        exiting = true;
        vioblk.pause();
        long deadline = System.nanoTime() + DRAIN_MS * 1_000_000;
        while (vioblk.inFlight() > 0 && System.nanoTime() < deadline) {
            LibC.poll(done.fd(), LibC.POLLIN, 100);
            EventFd.read(done.fd());
            completions();
            if (uring != null) {
                uring.flush();
            }
        }
        if (vioblk.inFlight() > 0) {
            LOG.log(Level.WARNING, vioblk.inFlight() + " requests still in flight at exit");
        }
    }

    /** One control message; false when vioblk should exit. */
    private boolean onChannel() throws IOException {
        ToVioblk m = channel.receive();
        if (m == null) {
            return !channel.closed();
        }
        switch (m.getMsgCase()) {
            case FEATURES_ACKED -> {
                vioblk.featuresAcked(m.getFeaturesAcked().getFeatures());
                LOG.log(Level.DEBUG, "features acked 0x" + Long.toHexString(vioblk.acked()));
            }
            case QUEUE_READY -> {
                QueueReady q = m.getQueueReady();
                String bad = vioblk.queueReady(q.getQueue(),
                        new RingLayout(q.getSize(), q.getDesc(), q.getDriver(), q.getDevice()), q.getMsixVector());
                if (bad != null) {
                    LOG.log(Level.WARNING, "queue " + q.getQueue() + " stays disabled: " + bad);
                }
            }
            case DRIVER_OK -> vioblk.driverOk();
            case RESET -> vioblk.reset();                 // ResetDone once nothing is in flight
            case PAUSE -> vioblk.pause();                 // Paused once nothing is in flight
            case UNPAUSE -> vioblk.unpause();
            case LOG -> {
                Logs.verbose(m.getLog().getVerbose());
                LOG.log(Level.DEBUG, "debug logging on");
            }
            case STATS -> channel.send(FromVioblk.newBuilder()
                    .setStats(StatsReply.newBuilder().addDisks(stats(vioblk, disk))).build());
            case SHUTDOWN -> {
                LOG.log(Level.INFO, "shutdown");
                return false;
            }
            default -> channel.unexpected(m.getMsgCase());
        }
        return !channel.gone();
    }

    /** The DiskStats of {@code v}: its counters, the queue's dropped chains among the errors. */
    static DiskStats stats(Vioblk v, int disk) {
        BlockCounters c = v.counters();
        DiskStats.Builder b = DiskStats.newBuilder().setDisk(disk)
                .setReads(c.reads()).setWrites(c.writes()).setFlushes(c.flushes()).setDiscards(c.discards())
                .setWriteZeroes(c.writeZeroes()).setGetIds(c.getIds()).setReadBytes(c.readBytes())
                .setWriteBytes(c.writeBytes()).setUnsupported(c.unsupported()).putAllErrors(c.errorMap());
        QueueCounters q = v.ringCounters();
        for (GuestFault.Reason r : GuestFault.Reason.values()) {
            if (q.get(r) != 0) {
                b.putErrors(r.name().toLowerCase(Locale.ROOT), q.get(r));
            }
        }
        return b.build();
    }

    static FromVioblk error(String message) {
        return FromVioblk.newBuilder().setError(Error.newBuilder().setMessage(message)).build();
    }

    @Override
    public void resetDone() {
        LOG.log(Level.DEBUG, "reset done");
        channel.send(FromVioblk.newBuilder().setResetDone(ResetDone.getDefaultInstance()).build());
    }

    @Override
    public void paused() {
        if (exiting) {
            return;
        }
        LOG.log(Level.DEBUG, "paused");
        channel.send(FromVioblk.newBuilder().setPaused(Paused.getDefaultInstance()).build());
    }

    @Override
    public void signal(int vector) {
        calls.signal(vector);
    }

    void close() {
        epoll.close();
    }
}
