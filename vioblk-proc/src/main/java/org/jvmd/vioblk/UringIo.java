package org.jvmd.vioblk;

import java.io.IOException;
import java.util.List;
import java.util.function.Consumer;
import org.jvmd.qcow2.DiskImage;
import org.jvmd.qcow2.Extent;
import org.jvmd.qcow2.Mapping;
import org.jvmd.sys.Fd;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.blk.GuestSpans;
import org.jvmd.virtio.blk.VirtioBlk;
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

/**
 * The io_uring data path: reads and writes go to a confined ring ({@link IoUring#confined}:
 * only READV/WRITEV, only the disk's layers as fixed files) as READV/WRITEV SQEs whose iovecs
 * point straight into guest memory, many in flight; the device thread fills SQEs while it
 * pops a batch of chains and submits them with one io_uring_enter ({@link #flush}, once per
 * turn of its loop); the kernel posts completions and writes the completion eventfd, shared
 * with the I/O threads, and {@link #drain} reaps them in a batch (the device then publishes
 * the used ring and interrupts once).
 *
 * <p>A raw image is fixed file 0 and a request one extent of it. A qcow2 image (and its base
 * chain: fixed file n is layer n) is asked first where the request's bytes lie
 * ({@link DiskImage#map}): data extents are transferred one after the other by SQEs on their
 * layer's file, zero extents are zeroed in guest memory; the mapping pins its clusters until
 * the request ends (see {@link org.jvmd.qcow2.Qcow2Image#map}). A request that needs the
 * qcow2 library's own path (a write into a cluster not yet allocated or shared, a
 * compressed cluster, the image busy) goes whole to the {@link IoPool}, where allocation
 * and copy-on-write keep their write ordering. A qcow2 read that meets the end of its
 * layer's file reads zeros for the rest of the extent, as the library does.
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
    /** prepare's answers: an SQE is filled; the request is done (every byte moved); it failed (recorded in it). */
    private static final int SQE = 0;
    private static final int DONE = 1;
    private static final int FAULT = 2;

    private final IoUring ring;
    private final UringRings rings;
    private final MappedGuestMemory memory;
    /** The qcow2 image whose mapping says where a request's bytes lie; null: a raw image, fixed file 0. */
    private final DiskImage image;
    private final IoPool pool;
    private final EventFd wake;
    private final int sqeFlags;
    private final int maxSpans;
    private final BlockRequest[] slots;
    private final IoVec[] iovecs;
    /** Bytes of each slot's request moved so far. */
    private final long[] moved;
    /** Each slot's qcow2 mapping (null on a raw image), its current extent and where that extent ends in the request. */
    private final Mapping[] mappings;
    private final int[] extent;
    private final long[] extentEnd;
    /** The current data extent's fixed file, and its file position minus its start in the request. */
    private final int[] extentFile;
    private final long[] extentBase;
    private final int[] free;
    private int freeCount;
    /** Requests finished before reaching the ring (a guest fault in their spans, or only zeros), answered by the next drain. */
    private final BlockRequest[] failed;
    private int failedCount;
    private long submitErrors;
    /** Reads and writes the ring served; those a qcow2 mapping sent to the pool (the library's own path). */
    private long onRing;
    private long toLibrary;

    private UringIo(IoUring ring, MappedGuestMemory memory, DiskImage image, IoPool pool, EventFd wake,
            boolean async, int maxSpans) {
        this.ring = ring;
        this.rings = ring.rings();
        this.memory = memory;
        this.image = image;
        this.pool = pool;
        this.wake = wake;
        this.sqeFlags = IoUring.SQE_FIXED_FILE | (async ? IoUring.SQE_ASYNC : 0);
        this.maxSpans = maxSpans;
        int n = rings.sqEntries();
        this.slots = new BlockRequest[n];
        this.iovecs = new IoVec[n];
        this.moved = new long[n];
        this.mappings = new Mapping[n];
        this.extent = new int[n];
        this.extentEnd = new long[n];
        this.extentFile = new int[n];
        this.extentBase = new long[n];
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
        return open(List.of(raw.fd()), null, raw.memory(), pool, wake, maxSpans, why);
    }

    /**
     * The io_uring path for a disk whose layers are {@code files} (layer 0 the disk's own
     * image, then its bases, each the ring's fixed file of its number), a qcow2 {@code image}
     * over them (null: a raw image, files its one file), or null (with the reason in the log
     * line the caller writes) when this host will not give a confined ring. Before the drop.
     */
    static UringIo open(List<Fd> files, DiskImage image, MappedGuestMemory memory, IoPool pool, EventFd wake,
            int maxSpans, StringBuilder why) {
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
            ring = IoUring.confined(ENTRIES, files, wake.fd(),
                    new int[] {IoUring.OP_READV, IoUring.OP_WRITEV}, IoUring.SQE_ASYNC);
        } catch (SysException e) {
            why.append(e.getMessage());   // ENOSYS, EPERM (a container's filter), EINVAL (no R_DISABLED/restrictions)
            return null;
        }
        return new UringIo(ring, memory, image, pool, wake, async, maxSpans);
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

    /**
     * Device thread: a read or write goes to the ring while it has a slot (a qcow2 one where
     * the image maps it whole); the rest to the pool.
     */
    @Override
    public void submit(BlockRequest r) {
        BlockRequest.Op op = r.op();
        if ((op != BlockRequest.Op.READ && op != BlockRequest.Op.WRITE) || freeCount == 0 || rings.sqSpace() == 0) {
            pool.submit(r);
            return;
        }
        long bytes = r.data().bytes();
        Mapping m = null;
        if (image != null) {
            try {
                m = image.map(r.offset(), bytes, op == BlockRequest.Op.WRITE);
                if (!m.complete()) {
                    m.close();   // the pool's path serves it whole
                    m = null;
                }
            } catch (IOException e) {
                m = null;   // the pool's path meets the same problem and answers it
            }
            if (m == null) {
                toLibrary++;
                pool.submit(r);
                return;
            }
        }
        onRing++;
        int slot = free[--freeCount];
        slots[slot] = r;
        moved[slot] = 0;
        mappings[slot] = m;
        extent[slot] = -1;
        if (m == null) {
            extentEnd[slot] = bytes;
            extentFile[slot] = 0;
            extentBase[slot] = r.offset();
        } else {
            extentEnd[slot] = 0;
        }
        int p = prepare(slot);
        if (p != SQE) {
            if (p == DONE) {
                r.finish(null);
            }
            end(slot, r);
            ready(r);
        }
    }

    /**
     * Fills the slot's SQE for what is left of its current extent, moving on to the next
     * extent (zeroing zero extents in guest memory) where the current one is done: SQE, DONE
     * (nothing left to move) or FAULT (a guest fault, recorded in the request).
     */
    private int prepare(int slot) {
        BlockRequest r = slots[slot];
        long total = r.data().bytes();
        try {
            while (moved[slot] < total) {
                if (moved[slot] >= extentEnd[slot]) {
                    Extent x = mappings[slot].extents().get(++extent[slot]);
                    long start = extentEnd[slot];
                    extentEnd[slot] = start + x.length();
                    if (x instanceof Extent.Data d) {
                        extentFile[slot] = d.layer();
                        extentBase[slot] = d.position() - start;
                    } else {
                        zero(r.data(), start, extentEnd[slot]);   // Extent.Zero (a complete mapping has no Sync)
                        moved[slot] = extentEnd[slot];
                        continue;
                    }
                }
                IoVec iov = iovecs[slot];
                if (iov == null) {
                    iov = new IoVec(Math.min(IoVec.MAX, Math.max(1, maxSpans)));
                    iovecs[slot] = iov;
                }
                RawBackend.fill(memory, iov, r.data(), moved[slot], extentEnd[slot]);
                int op = r.op() == BlockRequest.Op.WRITE ? IoUring.OP_WRITEV : IoUring.OP_READV;
                rings.prepare(op, sqeFlags, extentFile[slot], extentBase[slot] + moved[slot], iov.address(),
                        iov.count(), slot);
                return SQE;
            }
            return DONE;
        } catch (BlockIoException e) {
            r.finish(e);
            return FAULT;
        }
    }

    /** Zeros bytes [from, to) of the request's spans in guest memory (a qcow2 zero extent, or past a layer's end). */
    private void zero(GuestSpans spans, long from, long to) throws BlockIoException {
        long at = 0;
        try {
            for (int i = 0; i < spans.count() && at < to; i++) {
                long len = spans.length(i);
                long a = Math.max(from, at);
                long b = Math.min(to, at + len);
                if (a < b) {
                    memory.zero(spans.address(i) + (a - at), b - a);
                }
                at += len;
            }
        } catch (GuestFault f) {
            throw new BlockIoException(BlockError.GUEST_FAULT, f.getMessage());
        }
    }

    /** A request finished without a completion of the ring: answered by the next drain. */
    private void ready(BlockRequest r) {
        failed[failedCount++] = r;
        try {
            wake.signal(1);
        } catch (SysException e) {
            throw new IllegalStateException("completion eventfd: " + e.getMessage(), e);
        }
    }

    /**
     * The slot's request has ended (finished, or failed): its mapping's pin ends (a failure
     * there is the request's, if it has none), the slot is free again.
     */
    private void end(int slot, BlockRequest r) {
        Mapping m = mappings[slot];
        mappings[slot] = null;
        slots[slot] = null;
        free[freeCount++] = slot;
        if (m != null) {
            try {
                m.close();
            } catch (IOException e) {
                if (r.status() == VirtioBlk.S_OK) {
                    r.finish(Qcow2Backend.failure(e));
                }
            }
        }
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
        int p;
        if (res == -Errno.EAGAIN || res == -Errno.EINTR) {
            p = prepare(slot);
        } else if (res < 0) {
            r.finish(RawBackend.failure(write ? "pwritev" : "preadv", -res));
            p = FAULT;
        } else if (res == 0 && (write || mappings[slot] == null)) {
            r.finish(new BlockIoException(BlockError.IO_OTHER, (write ? "pwritev" : "preadv") + " at "
                    + (extentBase[slot] + moved[slot]) + ": no progress (the image shrank?)"));
            p = FAULT;
        } else {
            if (res == 0) {
                // a qcow2 layer's file ends inside a data extent: the rest reads as zeros
                try {
                    zero(r.data(), moved[slot], extentEnd[slot]);
                    moved[slot] = extentEnd[slot];
                } catch (BlockIoException e) {
                    r.finish(e);
                }
            } else {
                moved[slot] += res;
            }
            p = r.status() == VirtioBlk.S_OK ? prepare(slot) : FAULT;
        }
        if (p == SQE) {
            return false;
        }
        if (p == DONE) {
            r.finish(null);
        }
        end(slot, r);
        sink.accept(r);
        return true;
    }

    /** Requests on the ring now. */
    int inFlight() {
        return slots.length - freeCount;
    }

    /** For the log at exit: how many reads and writes went where. */
    String summary() {
        return onRing + " reads/writes on the ring"
                + (image == null ? "" : ", " + toLibrary + " through the qcow2 library on the I/O threads");
    }

    long submitErrors() {
        return submitErrors;
    }

    void close() {
        ring.close();
    }
}
