package org.jvmd.vioblk;

import java.lang.System.Logger.Level;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.SysException;
import org.jvmd.virtio.blk.BlockRequest;

/**
 * The I/O threads: several requests in flight against the image, each a blocking
 * preadv/pwritev/fdatasync/fallocate on a thread of its own, completed back to the device
 * thread through a queue and one eventfd that the device thread polls beside its kicks.
 *
 * <p>Reads and writes go to a confined io_uring instead where the host gives one
 * ({@link UringIo}); these threads then serve FLUSH, DISCARD, WRITE_ZEROES, the qcow2 reads
 * and writes that need the library's own path (allocation, copy-on-write, compressed
 * clusters), and everything on a host without io_uring (ENOSYS, EPERM, kernel.io_uring_disabled) or
 * with {@code -Djvmd.vioblk.io=threads}: blocking positional calls on a few threads work on
 * any kernel, any file system and block devices. The eventfd is written only when the
 * device thread may be asleep (one write per batch, not per request); the ring writes the
 * same eventfd.
 */
final class IoPool {
    private static final System.Logger LOG = System.getLogger(IoPool.class.getName());

    /** {@code -Djvmd.vioblk.ioThreads=N}: I/O threads (default {@value #DEFAULT_THREADS}). */
    static final String THREADS_PROPERTY = "jvmd.vioblk.ioThreads";
    /**
     * The default number of I/O threads, whatever the number of CPUs: blocking calls in flight
     * at once, for a guest that keeps 32 or more requests queued. Measured with scripts/bench-blk
     * on 2 shared CPUs (4 KiB random reads at queue depth 32, tmpfs, alternating runs): 4
     * threads (the old default there, 2 per CPU) 128-141k IOPS, 8 threads 160-184k, 16 threads
     * 108-143k; random writes at depth 32 gained 14% (4 alternating runs). Idle threads cost a
     * parked stack each.
     */
    static final int DEFAULT_THREADS = 8;

    private final LinkedBlockingQueue<BlockRequest> work = new LinkedBlockingQueue<>();
    private final ConcurrentLinkedQueue<BlockRequest> done = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean wakePending = new AtomicBoolean();
    private final EventFd wake;
    private final Thread[] threads;
    private volatile boolean failed;

    IoPool(String name, EventFd wake, int threads) {
        this.wake = wake;
        this.threads = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(this::serve, name + "-io" + i);
            t.setDaemon(true);
            this.threads[i] = t;
        }
    }

    static int defaultThreads() {
        Integer set = Integer.getInteger(THREADS_PROPERTY);
        if (set != null) {
            return Math.max(1, Math.min(set, 64));
        }
        return DEFAULT_THREADS;
    }

    void start() {
        for (Thread t : threads) {
            t.start();
        }
    }

    /** Ends the I/O threads (the warm-up's pool); requests still queued are not run. */
    void stop() {
        for (Thread t : threads) {
            t.interrupt();
        }
    }

    int threads() {
        return threads.length;
    }

    /** Device thread: queue a request for an I/O thread. */
    void submit(BlockRequest r) {
        work.add(r);
    }

    /** Device thread, when the wake eventfd fired: hands every finished request to {@code sink}. */
    int drain(Consumer<BlockRequest> sink) {
        wakePending.set(false);   // before the poll: a request finished after it writes the eventfd again
        int n = 0;
        for (BlockRequest r; (r = done.poll()) != null; n++) {
            sink.accept(r);
        }
        return n;
    }

    private void serve() {
        try {
            while (true) {
                BlockRequest r = work.take();
                r.execute();
                done.add(r);
                if (!wakePending.getAndSet(true)) {
                    wake.signal(1);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SysException | RuntimeException e) {
            // The eventfd is ours and cannot fail; if it does, the device cannot complete.
            failed = true;
            LOG.log(Level.WARNING, "I/O thread " + Thread.currentThread().getName() + " failed: " + e);
            System.exit(1);
        }
    }

    boolean failed() {
        return failed;
    }
}
