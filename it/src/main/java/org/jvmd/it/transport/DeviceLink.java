package org.jvmd.it.transport;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.StatsReply;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.WaitStatus;
import org.jvmd.virtio.RingLayout;

/**
 * A simulator's end of one device process, as vmm-proc's transport holds it: the empty root
 * the process is told to chroot into (a fresh temporary one unless given, removed at close),
 * the child and its channel (sends serialised), the thread that reads the channel and what
 * went wrong on it, Stats requests, and the shutdown (Shutdown, reaped, killed after 3 s).
 *
 * <p>Threads: the simulator's threads send; the reader thread hands each message to the
 * simulator's {@link Handler}.
 *
 * @param <F> the device's message to its parent (FromVioblk, FromVionet)
 */
public final class DeviceLink<F> {
    /** What the simulator does with each message from the device, on the reader thread. */
    @FunctionalInterface
    public interface Handler<F> {
        void handle(F message) throws IOException;
    }

    private final String sim;
    private final String device;
    private final String title;
    private final Parser<F> parser;
    private final Path chroot;
    private final boolean ownChroot;
    private final Object sendLock = new Object();
    private final Object statsLock = new Object();
    private final LinkedBlockingQueue<StatsReply> statsReplies = new LinkedBlockingQueue<>();
    private final List<String> problems = new ArrayList<>();
    private Child child;
    private Thread reader;
    private volatile boolean closing;
    private volatile boolean eof;
    private volatile boolean ended;

    /**
     * A link for device process {@code title} ({@code device}: "vioblk", "vionet", in what it
     * reports) of simulator {@code sim} (the prefix of its log lines); {@code chroot} null:
     * a fresh directory "jvmd-{device}-root-..." under the temporary directory.
     */
    public DeviceLink(String sim, String device, String title, Parser<F> parser, Path chroot) throws IOException {
        this.sim = sim;
        this.device = device;
        this.title = title;
        this.parser = parser;
        this.ownChroot = chroot == null;
        this.chroot = chroot != null ? chroot : Files.createTempDirectory("jvmd-" + device + "-root-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    }

    /** The empty directory the device is told to chroot into. */
    public Path chroot() {
        return chroot;
    }

    /** Takes over the spawned device process (reaped by {@link #close}). */
    public void adopt(Child c) {
        this.child = c;
    }

    public Child child() {
        return child;
    }

    public void send(MessageLite m, List<Fd> fds) throws IOException {
        synchronized (sendLock) {
            child.channel().send(m, fds);
        }
    }

    public void send(MessageLite m) throws IOException {
        send(m, List.of());
    }

    /** The device's first message, which must be its Ready (see {@link Child#awaitReady}). */
    public F awaitReady(long timeoutMillis) throws IOException {
        return child.awaitReady(parser, timeoutMillis);
    }

    /**
     * Starts the reader thread {@code name}: each message goes to {@code handler} until the
     * channel ends (EOF: the device exited) or fails; then {@code ended} runs.
     */
    public void listen(String name, Handler<F> handler, Runnable onEnd) {
        reader = Thread.ofPlatform().name(name).daemon().start(() -> read(handler, onEnd));
    }

    private void read(Handler<F> handler, Runnable onEnd) {
        while (!closing) {
            try (Received<F> r = child.channel().receive(parser, -1)) {
                handler.handle(r.message());
            } catch (PeerClosedException e) {
                eof = true;
                if (!closing) {
                    problem(device + " closed its channel (it exited)");
                }
                break;
            } catch (FrameException e) {
                problem("bad frame from " + device + ": " + e.getMessage());
            } catch (IOException | RuntimeException e) {
                if (!closing) {
                    problem("control channel failed: " + e);
                }
                break;
            }
        }
        ended = true;
        onEnd.run();
    }

    /** The reader thread has seen the channel's end of file: the device exited. */
    public boolean eof() {
        return eof;
    }

    /** The reader thread has stopped: end of file, or the channel failed. */
    public boolean ended() {
        return ended;
    }

    /** The device answered a Stats request: for {@link #stats}. */
    public void statsReply(StatsReply r) {
        statsReplies.add(r);
    }

    /** Sends {@code request} (a Stats request) and waits at most {@code timeoutMillis} for the reply. */
    public StatsReply stats(MessageLite request, long timeoutMillis) throws IOException, InterruptedException {
        synchronized (statsLock) {
            statsReplies.clear();
            send(request);
            StatsReply r = statsReplies.poll(timeoutMillis, TimeUnit.MILLISECONDS);
            if (r == null) {
                throw new IOException(title + " did not answer a Stats request within " + timeoutMillis + " ms");
            }
            return r;
        }
    }

    /** Logs {@code what} and keeps it for {@link #problems}. */
    public void problem(String what) {
        log(what);
        synchronized (problems) {
            problems.add(what);
        }
    }

    /** What went wrong so far. */
    public List<String> problems() {
        synchronized (problems) {
            return List.copyOf(problems);
        }
    }

    public void log(String msg) {
        Simulators.log(sim, msg);
    }

    /** QueueReady for queue {@code queue} laid out as {@code l}, its interrupts on MSI-X {@code vector}. */
    public static QueueReady queueReady(int queue, RingLayout l, int vector) {
        return QueueReady.newBuilder().setQueue(queue).setSize(l.size()).setDesc(l.desc()).setDriver(l.avail())
                .setDevice(l.used()).setMsixVector(vector).build();
    }

    /**
     * Sends {@code shutdown} (null: none, the device is gone), reaps the device (killed if it
     * has not exited within 3 s), stops the reader and removes a chroot it made.
     */
    public void close(MessageLite shutdown) {
        closing = true;
        if (child != null) {
            try {
                if (shutdown != null) {
                    send(shutdown);
                }
            } catch (IOException e) {
                // it is gone already
            }
            try {
                WaitStatus s = child.waitFor(3000);
                if (s == null) {
                    log(title + " did not exit within 3 s of Shutdown: killed");
                }
                child.close();
            } catch (SysException e) {
                log("reaping " + title + ": " + e.getMessage());
            }
        }
        join(reader);
        if (ownChroot) {
            try {
                Files.deleteIfExists(chroot);
            } catch (IOException e) {
                log("removing " + chroot + ": " + e.getMessage());
            }
        }
    }

    /** Waits up to 3 s for {@code t} (null: nothing to wait for). */
    public static void join(Thread t) {
        if (t == null) {
            return;
        }
        try {
            t.join(3000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
