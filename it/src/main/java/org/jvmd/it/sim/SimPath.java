package org.jvmd.it.sim;

import org.jvmd.sys.Epoll;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.SysException;
import org.jvmd.virtio.GuestFault;

/**
 * What the simulator's two data paths share: an epoll set, a wake eventfd to stop the loop,
 * the stop flag and the failure that ended the loop.
 */
abstract class SimPath implements Runnable {
    protected final EventFd wake;
    protected final Epoll epoll;
    protected volatile boolean stop;
    private volatile Throwable failure;
    private final String name;

    SimPath(String name) throws SysException {
        this.name = name;
        this.wake = EventFd.create(true);
        this.epoll = new Epoll(4);
    }

    /** The path's event loop; returns when {@link #stop} is set. */
    protected abstract void loop() throws SysException, GuestFault;

    /** Runs after the loop ended, however it ended. */
    protected void ended() {}

    @Override
    public final void run() {
        try {
            loop();
        } catch (Throwable t) {
            failure = t;
            if (!stop) {
                GuestSim.log(name + " path stopped: " + t);
            }
        } finally {
            ended();
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
        epoll.close();
        wake.close();
    }
}
