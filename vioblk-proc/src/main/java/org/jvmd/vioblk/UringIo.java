package org.jvmd.vioblk;

import java.util.function.Consumer;
import org.jvmd.sys.Errno;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.SysException;
import org.jvmd.sys.uring.IoUring;
import org.jvmd.sys.uring.UringRings;
import org.jvmd.virtio.blk.BlockError;
import org.jvmd.virtio.blk.BlockIoException;
import org.jvmd.virtio.blk.BlockRequest;
import org.jvmd.virtio.blk.Vioblk;
import org.jvmd.virtio.device.Log;

/**
 * The io_uring data path of a raw image: reads and writes go to a confined ring
 * ({@link IoUring#confined}: only READV/WRITEV, only the image as fixed file 0) as
 * READV/WRITEV SQEs whose iovecs point straight into guest memory, many in flight; the
 * device thread fills SQEs while it pops a batch of chains and submits them with one
 * io_uring_enter ({@link #flush}, once per turn of its loop); the kernel posts completions
 * and writes the completion eventfd, shared with the I/O threads, and {@link #drain} reaps
 * them in a batch (the device then publishes the used ring and interrupts once).
 *
 * <p>Everything else (FLUSH, DISCARD, WRITE_ZEROES, and reads or writes beyond the
 * ring's slots) goes to the {@link IoPool}, as on the thread path. A short transfer is
 * continued with a new SQE from where it stopped; EAGAIN/EINTR are tried again; any other
 * error is the request's IOERR (EIO/ENOSPC counted by name, as on the thread path).
 *
 * <p>Only the device thread uses it.
 */
final class UringIo implements Vioblk.Submitter {
    /** {@code -Djvmd.vioblk.io=uring|threads}: the data path (default {@value #DEFAULT_PATH}). */
    static final String PATH_PROPERTY = "jvmd.vioblk.io";
    /**
     * The ring, by measurement: scripts/bench-blk -t 3 -w 1 -s 256 on 2 shared CPUs (load
     * average ~18), alternating runs, medians of vioblk/fio at QD 32 on tmpfs: threads (4 runs)
     * randread4k 0.30, randwrite4k 1.00, seqread1m 1.54, seqwrite1m 1.09; ring with IOSQE_ASYNC
     * (5 runs) 1.28, 1.65, 1.14, 1.09.
     */
    static final String DEFAULT_PATH = "uring";
    /** {@code -Djvmd.vioblk.uringAsync=true}: IOSQE_ASYNC on every SQE (io-wq workers; see {@link #DEFAULT_ASYNC}). */
    static final String ASYNC_PROPERTY = "jvmd.vioblk.uringAsync";
    /**
     * IOSQE_ASYNC, by measurement (same runs): without it a buffered read that hits the page
     * cache is copied inline, on the device thread, inside io_uring_enter, and 32 of them
     * serialise there: 2 runs without it, randread4k 0.46/0.58, seqread1m 0.43/0.70.
     */
    static final boolean DEFAULT_ASYNC = true;
    /** SQ entries, and so reads/writes in flight on the ring; more wait in the pool's queue. */
    static final int ENTRIES = 128;
    /** The image is the ring's fixed file 0 (the only one). */
    private static final int IMAGE = 0;

    private final IoUring ring;
    private final UringRings rings;
    private final RawBackend raw;
    private final IoPool pool;
    private final EventFd wake;
    private final int sqeFlags;
    private final int maxSpans;
    private final BlockRequest[] slots;
    private final IoVec[] iovecs;
    private final long[] moved;
    private final int[] free;
    private int freeCount;
    /** Requests that failed before reaching the ring (a guest fault in their spans), answered by the next drain. */
    private final BlockRequest[] failed;
    private int failedCount;
    private long submitErrors;

    private UringIo(IoUring ring, RawBackend raw, IoPool pool, EventFd wake, boolean async, int maxSpans) {
        this.ring = ring;
        this.rings = ring.rings();
        this.raw = raw;
        this.pool = pool;
        this.wake = wake;
        this.sqeFlags = IoUring.SQE_FIXED_FILE | (async ? IoUring.SQE_ASYNC : 0);
        this.maxSpans = maxSpans;
        int n = rings.sqEntries();
        this.slots = new BlockRequest[n];
        this.iovecs = new IoVec[n];
        this.moved = new long[n];
        this.free = new int[n];
        this.failed = new BlockRequest[n];
        for (int i = 0; i < n; i++) {
            free[freeCount++] = n - 1 - i;
        }
    }

    /**
     * The io_uring path for {@code raw}, or null (with the reason in the log line the caller
     * writes) when this host will not give a confined ring. Before the drop.
     */
    static UringIo open(RawBackend raw, IoPool pool, EventFd wake, int maxSpans, StringBuilder why) {
        String path = System.getProperty(PATH_PROPERTY, DEFAULT_PATH);
        if (!"uring".equals(path)) {
            why.append(PATH_PROPERTY).append('=').append(path);
            return null;
        }
        String disabled = IoUring.disabledReason();
        if (disabled != null) {
            why.append(disabled);
            return null;
        }
        boolean async = Boolean.parseBoolean(System.getProperty(ASYNC_PROPERTY, Boolean.toString(DEFAULT_ASYNC)));
        IoUring ring;
        try {
            ring = IoUring.confined(ENTRIES, java.util.List.of(raw.fd()), wake.fd(),
                    new int[] {IoUring.OP_READV, IoUring.OP_WRITEV}, IoUring.SQE_ASYNC);
        } catch (SysException e) {
            why.append(e.getMessage());   // ENOSYS, EPERM (a container's filter), EINVAL (no R_DISABLED/restrictions)
            return null;
        }
        return new UringIo(ring, raw, pool, wake, async, maxSpans);
    }

    /**
     * After the drop: the ring refuses an SQE it must refuse (a NOP, not allowed, on a
     * descriptor that is not a fixed file) and this process can make no new ring (the
     * seccomp filter). Either failing is a broken invariant of the sandbox: the caller exits.
     * Returns what was seen, for the log.
     */
    String checkConfined() {
        int nop = ring.probeRefused(IoUring.OP_NOP, wake.fd());
        long setup = IoUring.trySetup();
        if (nop != -Errno.EACCES || setup >= 0) {
            throw new IllegalStateException("io_uring not confined: a forbidden NOP completed with " + nop
                    + ", io_uring_setup returned " + setup);
        }
        return "forbidden SQE: " + Errno.name(-nop) + ", io_uring_setup: " + Errno.name((int) -setup);
    }

    boolean async() {
        return (sqeFlags & IoUring.SQE_ASYNC) != 0;
    }

    /** Device thread: a read or write goes to the ring while it has a slot; the rest to the pool. */
    @Override
    public void submit(BlockRequest r) {
        BlockRequest.Op op = r.op();
        if ((op != BlockRequest.Op.READ && op != BlockRequest.Op.WRITE) || freeCount == 0 || rings.sqSpace() == 0) {
            pool.submit(r);
            return;
        }
        int slot = free[--freeCount];
        slots[slot] = r;
        moved[slot] = 0;
        if (!prepare(slot)) {
            release(slot);
            fail(r);
        }
    }

    /** Fills the slot's SQE for what is left of its request; false on a guest fault (recorded in the request). */
    private boolean prepare(int slot) {
        BlockRequest r = slots[slot];
        IoVec iov = iovecs[slot];
        if (iov == null) {
            iov = new IoVec(Math.min(IoVec.MAX, Math.max(1, maxSpans)));
            iovecs[slot] = iov;
        }
        try {
            raw.fill(iov, r.data(), moved[slot]);
        } catch (BlockIoException e) {
            r.finish(e);
            return false;
        }
        int op = r.op() == BlockRequest.Op.WRITE ? IoUring.OP_WRITEV : IoUring.OP_READV;
        rings.prepare(op, sqeFlags, IMAGE, r.offset() + moved[slot], iov.address(), iov.count(), slot);
        return true;
    }

    private void fail(BlockRequest r) {
        failed[failedCount++] = r;
        try {
            wake.signal(1);
        } catch (SysException e) {
            throw new IllegalStateException("completion eventfd: " + e.getMessage(), e);
        }
    }

    private void release(int slot) {
        slots[slot] = null;
        free[freeCount++] = slot;
    }

    /** Device thread, once per turn of its loop: every SQE filled since the last call goes to the kernel. */
    void flush() {
        for (int tries = 0; rings.unsubmitted() > 0; tries++) {
            int r = ring.submit();
            if (r >= 0) {
                continue;
            }
            if ((r == -Errno.EINTR || r == -Errno.EAGAIN || r == -Errno.EBUSY) && tries < 1000) {
                continue;   // the kernel is short of memory or CQ room for a moment; the CQ is reaped next turn
            }
            submitErrors++;
            throw new IllegalStateException("io_uring_enter: " + Errno.describe(-r));
        }
    }

    /** Device thread, when the completion eventfd fired: every finished request goes to {@code sink}. */
    int drain(Consumer<BlockRequest> sink) {
        int n = 0;
        while (failedCount > 0) {
            BlockRequest r = failed[--failedCount];
            failed[failedCount] = null;
            sink.accept(r);
            n++;
        }
        this.sink = sink;
        this.finished = 0;
        rings.reap(onCqe);
        this.sink = null;
        flush();   // continuations of short transfers and retries
        return n + finished;
    }

    private Consumer<BlockRequest> sink;
    private int finished;
    private final UringRings.Completion onCqe = this::onCqe;

    private void onCqe(long userData, int res, int flags) {
        if (onCompletion((int) userData, res, sink)) {
            finished++;
        }
    }

    /** One CQE; true when its request is finished. */
    private boolean onCompletion(int slot, int res, Consumer<BlockRequest> sink) {
        if (slot < 0 || slot >= slots.length || slots[slot] == null) {
            throw new IllegalStateException("io_uring completion for slot " + slot + ", which is not in flight");
        }
        BlockRequest r = slots[slot];
        boolean write = r.op() == BlockRequest.Op.WRITE;
        BlockIoException failure = null;
        if (res == -Errno.EAGAIN || res == -Errno.EINTR) {
            if (prepare(slot)) {
                return false;
            }
            failure = null;   // the guest fault is recorded in the request
        } else if (res < 0) {
            failure = RawBackend.failure(write ? "pwritev" : "preadv", -res);
        } else if (res == 0) {
            failure = new BlockIoException(BlockError.IO_OTHER, (write ? "pwritev" : "preadv") + " at "
                    + (r.offset() + moved[slot]) + ": no progress (the image shrank?)");
        } else {
            moved[slot] += res;
            if (moved[slot] < r.data().bytes()) {
                if (prepare(slot)) {
                    return false;
                }
            } else {
                r.finish(null);
            }
        }
        if (failure != null) {
            r.finish(failure);
        }
        release(slot);
        sink.accept(r);
        return true;
    }

    /** Requests on the ring now. */
    int inFlight() {
        return slots.length - freeCount;
    }

    long submitErrors() {
        return submitErrors;
    }

    void close() {
        ring.close();
    }
}
