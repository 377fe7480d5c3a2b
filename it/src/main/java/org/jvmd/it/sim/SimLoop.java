package org.jvmd.it.sim;

import org.jvmd.sys.Epoll;
import org.jvmd.sys.PollWindow;
import org.jvmd.sys.SysException;

/**
 * One simulator thread: runs its paths' turns, then sleeps in one epoll set until a
 * descriptor of any of them is ready. With both paths on one thread the simulator is a
 * 1-vCPU guest, whose transmit and receive (NAPI) run on the same CPU; with one path a
 * thread, each direction waits for its own wake-ups. Stops when any of its paths is
 * stopped; a path that throws ends the thread, its failure kept on that path (a failing
 * wait on every path of the thread).
 *
 * <p>Before it sleeps the thread polls its descriptors for a while, as KVM polls a halted vCPU
 * before it schedules it out (halt_poll_ns, Documentation/virt/kvm/halt-polling.rst; the same
 * adaptive rule, {@link PollWindow}): a simulated guest is woken by the interrupts and frames
 * it waits for as a KVM guest would be, not at the price of a sleeping thread's wake-up that a
 * guest's halted vCPU would not pay. The poll looks as a halted vCPU's does, without epoll:
 * at the used rings in guest memory (an interrupt's cause) and by reading the guest stack's
 * tap, a frame found being posted at once ({@link SimPath#look}).
 */
final class SimLoop implements Runnable {
    /** Tags a path may use: path i's events carry {@code i * TAGS + tag}. */
    static final long TAGS = 16;

    private final String name;
    private final SimPath[] paths;
    private final Epoll epoll;
    private final PollWindow halt;
    /** A look that threw, and its path: rethrown by the loop after the poll. */
    private Exception lookFailure;
    private SimPath lookFailed;
    /**
     * The poll's looks: each path's {@link SimPath#look} (guest memory, the guest stack's tap
     * read at once), epoll only at every {@link #EPOLL_EVERY}-th look for the wake-ups that
     * bring a path work from another thread.
     */
    private final Epoll.Poller looks = this::look;
    /**
     * epoll_wait(0) at every this many looks, counted across waits: the wake-ups of other
     * threads (a stop is seen in memory). Property {@code jvmd.sim.epollEvery}, for measurements.
     */
    static final int EPOLL_EVERY = Integer.getInteger("jvmd.sim.epollEvery", 32);
    /**
     * Whether polls look through the paths ({@link #looks}); system property
     * {@code jvmd.sim.looks=false}: every look is an epoll_wait(0), for A/B measurements.
     */
    static final boolean LOOKS = !"false".equals(System.getProperty("jvmd.sim.looks"));

    /**
     * {@code name}: its thread's; {@code haltPollNanos}: the longest poll before a sleep,
     * KVM's halt_poll_ns; 0: never poll.
     */
    SimLoop(String name, long haltPollNanos, SimPath... paths) throws SysException {
        this.name = name;
        this.halt = new PollWindow(haltPollNanos);
        this.paths = paths.clone();
        this.epoll = new Epoll(4 * paths.length);
    }

    @Override
    public void run() {
        SimPath current = paths[0];
        try {
            for (int i = 0; i < paths.length; i++) {
                current = paths[i];
                current.attach(epoll, i * TAGS);
            }
            while (!stopped()) {
                boolean again = false;
                for (SimPath p : paths) {
                    current = p;
                    again |= p.turn();
                }
                if (again) {
                    continue;
                }
                current = null;   // a failing wait is the loop's, not a path's
                int n = LOOKS ? epoll.waitPolling(halt, looks, EPOLL_EVERY) : epoll.waitPolling(halt);
                if (lookFailure != null) {
                    current = lookFailed;
                    throw lookFailure;
                }
                for (int i = 0; i < n; i++) {
                    long d = epoll.data(i);
                    current = paths[(int) (d / TAGS)];
                    current.event(d % TAGS);
                }
            }
        } catch (Throwable t) {
            if (current != null) {
                current.failed(t);
            } else {
                for (SimPath p : paths) {
                    p.failed(t);
                }
            }
        } finally {
            for (SimPath p : paths) {
                p.ended();
            }
        }
    }

    /** One look of a poll: a stop, then each path's {@link SimPath#look}; a look that throws ends the poll. */
    private boolean look() {
        if (stopped()) {
            return true;
        }
        for (SimPath p : paths) {
            try {
                if (p.look()) {
                    return true;
                }
            } catch (Exception e) {
                lookFailure = e;
                lookFailed = p;
                return true;
            }
        }
        return false;
    }

    private boolean stopped() {
        for (SimPath p : paths) {
            if (p.stop) {
                return true;
            }
        }
        return false;
    }

    String name() {
        return name;
    }

    /** Waits a poll ended. */
    long polled() {
        return halt.pollHits();
    }

    /** Waits that slept. */
    long slept() {
        return halt.sleeps();
    }

    void close() {
        epoll.close();
    }
}
