package org.jvmd.vmd;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * vmd's warm pool: up to {@code size} processes spawned ahead of the VMs they will serve, so
 * that a start takes one that is already up instead of waiting for a JVM to start (issue 17).
 * A member holds nothing but its channel until {@link #take} hands it out; the caller then
 * treats it as a process it just spawned.
 *
 * <p>The pool's logic is {@link #refill}, one round: members that died while waiting are
 * discarded (closed and reaped), the pool is filled up to its size, and a spawn that fails,
 * or a member that dies before it was seen alive one check later, counts as a failure: the
 * next round waits {@link #backoffMillis} (1 s, doubling, at most a minute), and a streak of
 * failures is logged once. {@link #start} runs the rounds on a platform thread of its own,
 * woken by a take and every {@link #CHECK_MS} otherwise; {@link #close} ends it and every
 * member left. While a start that took a member is under way ({@link #settled} not yet
 * called) nothing is spawned. Tests drive {@link #refill} with a fake {@link Factory} and clock.
 */
final class WarmPool<M extends WarmPool.Member> implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmd");

    /** How often waiting members are checked (a death is noticed within this). */
    static final long CHECK_MS = 1_000;
    /** The first wait after a failure; each further failure in a row doubles it. */
    static final long BACKOFF_MIN_MS = 1_000;
    /** The longest wait between attempts while spawns keep failing. */
    static final long BACKOFF_MAX_MS = 60_000;

    /** A process in the pool. */
    interface Member {
        int pid();

        /** False once the process died (reaped by this call) or its channel shows it gone. */
        boolean alive();

        /** Ends the process (its channel first, so it can exit on its own) and reaps it. */
        void close();
    }

    /** Spawns a new member. */
    interface Factory<M> {
        M spawn() throws IOException;
    }

    private record Waiting<M>(M member, long spawnedNanos) {
    }

    private final String what;
    private final int size;
    private final Factory<M> factory;
    private final LongSupplier nanoTime;
    private final Deque<Waiting<M>> waiting = new ArrayDeque<>();
    private final Object lock = new Object();
    private int failures;
    private long retryAtNanos;
    private boolean closed;
    private boolean wake;
    /** Starts under way with a member taken from the pool ({@link #take} to {@link #settled}). */
    private int starting;
    private Thread refiller;

    /**
     * @param what what the members are, for the log ("vmm-proc")
     * @param size how many members to keep (0: none, the pool is off)
     */
    WarmPool(String what, int size, Factory<M> factory, LongSupplier nanoTime) {
        if (size < 0) {
            throw new IllegalArgumentException("warm pool size " + size);
        }
        this.what = what;
        this.size = size;
        this.factory = factory;
        this.nanoTime = nanoTime;
    }

    int size() {
        return size;
    }

    /** The members waiting now (oldest first). */
    List<M> members() {
        synchronized (lock) {
            return waiting.stream().map(Waiting::member).toList();
        }
    }

    /** Starts keeping the pool full on a thread of its own; nothing for a pool of size 0. */
    void start() {
        if (size == 0) {
            return;
        }
        synchronized (lock) {
            if (closed || refiller != null) {
                return;
            }
            refiller = Thread.ofPlatform().name("vmd-warm-pool").daemon(true).start(this::run);
        }
    }

    private void run() {
        while (true) {
            long waitMs;
            try {
                waitMs = refill();
            } catch (RuntimeException e) {
                // a broken invariant of this pool: say so, and keep the thread (a take spawns anyway)
                LOG.log(Level.ERROR, "warm pool: " + e, e);
                waitMs = BACKOFF_MAX_MS;
            }
            synchronized (lock) {
                if (closed) {
                    return;
                }
                if (!wake) {
                    try {
                        lock.wait(Math.max(1, waitMs));
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                wake = false;
                if (closed) {
                    return;
                }
            }
        }
    }

    /**
     * A live member, oldest first, no longer the pool's; null when none is waiting (or the pool
     * is off or closed). Dead ones met on the way are discarded. The pool refills behind it
     * once the caller said the start it serves has {@link #settled}: a JVM starting beside it
     * would take the CPU that start needs (on a 2-core host, the spawn of the replacement at
     * the take delayed the taken vmm-proc's answer by a third).
     */
    M take() {
        List<M> dead = new ArrayList<>();
        M found = null;
        synchronized (lock) {
            while (!closed && !waiting.isEmpty()) {
                Waiting<M> w = waiting.pollFirst();
                if (w.member().alive()) {
                    found = w.member();
                    starting++;
                    break;
                }
                dead.add(w.member());
                failed(null);
            }
            wake = true;
            lock.notifyAll();
        }
        dead.forEach(this::discard);
        return found;
    }

    /** The start a member was {@link #take taken} for answered (Ready or not): refill now. */
    void settled() {
        synchronized (lock) {
            starting = Math.max(0, starting - 1);
            wake = true;
            lock.notifyAll();
        }
    }

    /**
     * One round: discards the dead, then spawns until the pool is full, unless failures make it
     * wait. Returns how long to wait before the next round, in ms.
     */
    long refill() {
        List<M> dead = new ArrayList<>();
        synchronized (lock) {
            if (closed) {
                return CHECK_MS;
            }
            long now = nanoTime.getAsLong();
            for (var it = waiting.iterator(); it.hasNext(); ) {
                Waiting<M> w = it.next();
                if (!w.member().alive()) {
                    it.remove();
                    dead.add(w.member());
                    failed(null);
                } else if (now - w.spawnedNanos() >= CHECK_MS * 1_000_000L) {
                    succeeded(); // it survived a check: spawning works
                }
            }
        }
        dead.forEach(this::discard);
        while (true) {
            synchronized (lock) {
                if (closed) {
                    return CHECK_MS;
                }
                long now = nanoTime.getAsLong();
                if (failures > 0 && now - retryAtNanos < 0) {
                    return Math.min(CHECK_MS, (retryAtNanos - now + 999_999) / 1_000_000);
                }
                if (waiting.size() >= size || starting > 0) {
                    return CHECK_MS;
                }
            }
            M m;
            try {
                m = factory.spawn();
            } catch (IOException | RuntimeException e) {
                synchronized (lock) {
                    failed(e.getMessage());
                }
                continue;
            }
            boolean keep;
            synchronized (lock) {
                keep = !closed;
                if (keep) {
                    waiting.addLast(new Waiting<>(m, nanoTime.getAsLong()));
                }
            }
            if (!keep) {
                discard(m);
                return CHECK_MS;
            }
            LOG.log(Level.DEBUG, "warm pool: " + what + " " + m.pid() + " spawned");
        }
    }

    /** A failure, under the lock: the next spawn waits; only the first of a streak is a warning. */
    private void failed(String why) {
        failures++;
        long backoff = backoffMillis(failures);
        retryAtNanos = nanoTime.getAsLong() + backoff * 1_000_000L;
        String line = "warm pool: " + (why != null ? "cannot spawn a " + what + ": " + why
                : "a waiting " + what + " died") + "; next try in " + backoff / 1000 + " s";
        LOG.log(failures == 1 ? Level.WARNING : Level.DEBUG,
                failures == 1 ? line + " (then less often while this goes on)" : line);
    }

    private void succeeded() {
        if (failures >= 2) {
            LOG.log(Level.INFO, "warm pool: a " + what + " is waiting again");
        }
        failures = 0;
    }

    /** The wait after {@code failures} failures in a row: 1 s, 2 s, 4 s, ... at most a minute. */
    static long backoffMillis(int failures) {
        if (failures <= 0) {
            return 0;
        }
        int shift = Math.min(failures - 1, 16);
        return Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS << shift);
    }

    /** Failures in a row so far (for tests). */
    int failures() {
        synchronized (lock) {
            return failures;
        }
    }

    private void discard(M m) {
        LOG.log(Level.DEBUG, "warm pool: " + what + " " + m.pid() + " is gone; discarded");
        end(m);
    }

    /** Closes a member (its channel; the process is reaped), a failure only logged. */
    private void end(M m) {
        try {
            m.close();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "warm pool: " + what + " " + m.pid() + ": " + e.getMessage());
        }
    }

    /** Stops refilling and ends every member left; a take afterwards finds none. */
    @Override
    public void close() {
        List<M> left;
        Thread t;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            left = waiting.stream().map(Waiting::member).toList();
            waiting.clear();
            t = refiller;
            lock.notifyAll();
        }
        if (t != null) {
            try {
                t.join(30_000); // a spawn in progress ends, and its member is closed by the thread
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        left.forEach(this::end);
    }
}
