package org.jvmd.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An epoll instance with a reusable event buffer: {@link #waitFor} fills it, then
 * {@link #events(int)} and {@link #data(int)} read entry {@code i}. Allocates nothing per
 * wait. One waiting thread.
 */
public final class Epoll implements AutoCloseable {
    /** sizeof(struct epoll_event): packed on x86_64 (u32 events, u64 data). */
    private static final long EVENT_BYTES = 12;

    private final Fd epfd;
    private final MemorySegment events;
    private final MemorySegment ctl;
    private final int max;
    /** Looks since epoll was last polled by {@link #waitPolling(PollWindow, Poller, int)}. */
    private int looks;

    public Epoll(int maxEvents) throws SysException {
        this.epfd = LibC.epollCreate1(LibC.EPOLL_CLOEXEC);
        this.max = maxEvents;
        Arena a = Arena.ofAuto();
        this.events = a.allocate(EVENT_BYTES * maxEvents, 8);
        this.ctl = a.allocate(EVENT_BYTES, 8);
    }

    public Fd fd() {
        return epfd;
    }

    /** Watches {@code fd} for {@code events} (EPOLLIN...), reporting {@code data} back. */
    public synchronized void add(Fd fd, int events, long data) throws SysException {
        ctl(LibC.EPOLL_CTL_ADD, fd.num(), events, data);
    }

    public synchronized void modify(Fd fd, int events, long data) throws SysException {
        ctl(LibC.EPOLL_CTL_MOD, fd.num(), events, data);
    }

    public synchronized void delete(Fd fd) throws SysException {
        LibC.epollCtl(epfd.num(), LibC.EPOLL_CTL_DEL, fd.num(), MemorySegment.NULL);
    }

    private void ctl(int op, int fd, int ev, long data) throws SysException {
        ctl.set(JAVA_INT_UNALIGNED, 0, ev);
        ctl.set(JAVA_LONG_UNALIGNED, 4, data);
        LibC.epollCtl(epfd.num(), op, fd, ctl);
    }

    /**
     * Waits up to {@code timeoutMillis} (-1: forever) and returns how many events are
     * ready; 0 on timeout or when interrupted by a signal.
     */
    public int waitFor(int timeoutMillis) throws SysException {
        int r = LibC.tryEpollWait(epfd.num(), events, max, timeoutMillis);
        if (r == -Errno.EINTR) {
            return 0;
        }
        if (r < 0) {
            throw new SysException("epoll_wait", -r);
        }
        return r;
    }

    /**
     * Work a polling thread looks for beside its descriptors: a ring in shared memory whose
     * producer need not notify while the thread polls it (vhost-net's busy poll turns the
     * guest's kicks off the same way), or a non-blocking read of a descriptor whose data the
     * look takes at once, where an {@code epoll_wait} would only say it is there.
     */
    @FunctionalInterface
    public interface Poller {
        /** The poll begins: the producer may be asked not to notify (nothing, by default). */
        default void start() {}

        /**
         * True if there is work, or the look did some (a read that found data); called between
         * two polls, so a look that finds nothing costs at most one system call.
         */
        boolean ready();

        /**
         * The poll is over, however it ended (a poll that threw too): notifications are
         * asked for again. True if there is work that no notification will report (none, by
         * default).
         */
        default boolean end() {
            return false;
        }
    }

    private static final Poller NO_POLLER = () -> false;

    /**
     * Waits for events as {@link #waitFor}(-1) does, but first polls without sleeping for
     * {@code window}'s length, giving the CPU to any other runnable thread between two
     * polls (sched_yield), and tells the window how the wait went. (Ending the poll at a
     * yield that let another thread run was measured and dropped: on a request/response
     * exchange that thread is often the one that makes the reply, on the same CPU.)
     */
    public int waitPolling(PollWindow window) throws SysException {
        return waitPolling(window, NO_POLLER);
    }

    /**
     * As {@link #waitPolling(PollWindow)}, with {@code poller}'s work looked at between two
     * polls; {@link Poller#end} is called before the thread sleeps or returns. Returns the
     * number of ready events, 0 when only the poller found work.
     */
    public int waitPolling(PollWindow window, Poller poller) throws SysException {
        return waitPolling(window, poller, 1);
    }

    /**
     * As {@link #waitPolling(PollWindow, Poller)}, with the descriptors polled
     * ({@code epoll_wait(0)}) only at every {@code epollEvery}-th look: for a poller that
     * itself reads the descriptors whose latency counts, so that a look is one system call
     * and a look that finds data has already taken it. The others (a control channel) are
     * then seen within {@code epollEvery} looks, counted across waits: a thread whose every
     * wait ends at its first look still polls epoll at every {@code epollEvery}-th wait.
     */
    public int waitPolling(PollWindow window, Poller poller, int epollEvery) throws SysException {
        if (epollEvery < 1) {
            throw new IllegalArgumentException("epoll every " + epollEvery + " looks");
        }
        long start = System.nanoTime();
        long spin = window.nanos();
        if (spin > 0) {
            poller.start();
            int n = 0;
            boolean work = false;
            try {
                do {
                    if (++looks >= epollEvery) {
                        looks = 0;
                        n = waitFor(0);
                        if (n > 0) {
                            break;
                        }
                    }
                    work = poller.ready();
                    if (work) {
                        break;
                    }
                    Thread.yield();
                } while (System.nanoTime() - start < spin);
            } finally {
                work |= poller.end();   // also when a poll threw: notifications back on
            }
            if (work || n > 0) {
                window.polled();
                return n;
            }
        }
        int n = waitFor(-1);
        window.slept(System.nanoTime() - start);
        return n;
    }

    public int events(int i) {
        return events.get(JAVA_INT_UNALIGNED, i * EVENT_BYTES);
    }

    public long data(int i) {
        return events.get(JAVA_LONG_UNALIGNED, i * EVENT_BYTES + 4);
    }

    @Override
    public void close() {
        epfd.close();
    }
}
