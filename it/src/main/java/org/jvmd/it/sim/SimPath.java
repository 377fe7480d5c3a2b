package org.jvmd.it.sim;

import org.jvmd.sys.Epoll;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.SysException;
import org.jvmd.virtio.GuestFault;

/**
 * One of the simulator's two data paths, run by a {@link SimLoop} (alone, or with the other
 * path on one thread): its descriptors in the loop's epoll set, the work it does before
 * the loop sleeps, a wake eventfd to stop it, the stop flag and the failure that ended it.
 */
abstract class SimPath {
    protected final EventFd wake;
    protected volatile boolean stop;
    private volatile Throwable failure;
    private final String name;

    SimPath(String name) throws SysException {
        this.name = name;
        this.wake = EventFd.create(true);
    }

    /**
     * Adds this path's descriptors to {@code epoll}; each event's data is {@code base} plus
     * the path's own tag (below {@link SimLoop#TAGS}), which {@link #event} gets back.
     */
    protected abstract void attach(Epoll epoll, long base) throws SysException, GuestFault;

    /** Does the work that is there; true if more may have come meanwhile, to look again before sleeping. */
    protected abstract boolean turn() throws SysException, GuestFault;

    /**
     * A look between two polls of a halted thread: true if this path has work (or the look
     * did some), found without epoll: from guest memory, or by reading the descriptor whose
     * data the path waits for; one that finds nothing costs at most one system call.
     */
    protected abstract boolean look() throws SysException, GuestFault;

    /** One ready descriptor of this path, by its tag. */
    protected abstract void event(long tag) throws SysException;

    /** Runs after the loop ended, however it ended. */
    protected void ended() {}

    final void failed(Throwable t) {
        failure = t;
        if (!stop) {
            GuestSim.log(name + " path stopped: " + t);
        }
    }

    void stop() {
        stop = true;
        try {
            wake.signal();
        } catch (SysException e) {
            // closing anyway
        }
    }

    Throwable failure() {
        return failure;
    }

    void close() {
        wake.close();
    }
}
