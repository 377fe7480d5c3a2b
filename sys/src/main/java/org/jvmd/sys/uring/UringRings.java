package org.jvmd.sys.uring;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * The bookkeeping of an io_uring's two rings, over the memory the kernel shares with us
 * (or, in tests, over memory a test plays the kernel on): the submission queue, whose
 * tail we own and whose head the kernel moves, and the completion queue, whose tail the
 * kernel owns and whose head we move. Layouts: include/uapi/linux/io_uring.h
 * ({@code struct io_uring_sqe}, {@code struct io_uring_cqe}, {@code io_sqring_offsets},
 * {@code io_cqring_offsets}); the ordering rules: io_uring(7) "the kernel reads the SQ
 * tail with acquire semantics, the application writes it with release" and the mirror
 * for the CQ.
 *
 * <p>Pure ring arithmetic: no system call here ({@link IoUring} enters the kernel). One
 * thread uses it (the device thread); the indices are free-running 32-bit counters, as the
 * kernel's are, masked on access.
 */
public final class UringRings {
    /** sizeof(struct io_uring_sqe), sizeof(struct io_uring_cqe) without IORING_SETUP_SQE128/CQE32. */
    public static final int SQE_BYTES = 64;
    public static final int CQE_BYTES = 16;

    // offsets inside struct io_uring_sqe
    static final long SQE_OPCODE = 0;
    static final long SQE_FLAGS = 1;
    static final long SQE_IOPRIO = 2;
    static final long SQE_FD = 4;
    static final long SQE_OFF = 8;
    static final long SQE_ADDR = 16;
    static final long SQE_LEN = 24;
    static final long SQE_RW_FLAGS = 28;
    static final long SQE_USER_DATA = 32;
    // offsets inside struct io_uring_cqe
    static final long CQE_USER_DATA = 0;
    static final long CQE_RES = 8;
    static final long CQE_FLAGS = 12;

    private static final VarHandle INT = JAVA_INT.varHandle();

    /** What {@link #reap} hands each completion to. */
    @FunctionalInterface
    public interface Completion {
        void complete(long userData, int res, int flags);
    }

    private final MemorySegment sqRing;
    private final long sqHeadOff;
    private final long sqTailOff;
    private final int sqMask;
    private final int sqEntries;
    private final MemorySegment sqes;
    private final MemorySegment cqRing;
    private final long cqHeadOff;
    private final long cqTailOff;
    private final int cqMask;
    private final long cqesOff;

    /** Our SQ tail (published with {@link #publish}); entries filled but not yet handed to io_uring_enter. */
    private int sqTail;
    private int unsubmitted;
    /** Our CQ head, published after each reap. */
    private int cqHead;

    /**
     * The rings as io_uring_setup(2) described them: {@code sqRing} with its head, tail and
     * array offsets, the SQE array, {@code cqRing} (the same mapping with
     * IORING_FEAT_SINGLE_MMAP) with its head, tail and cqes offsets. The SQ array is filled
     * with the identity once (entry i is SQE i): we fill the SQEs in ring order.
     */
    public UringRings(MemorySegment sqRing, long sqHeadOff, long sqTailOff, long sqMaskOff, long sqEntriesOff,
            long sqArrayOff, MemorySegment sqes, MemorySegment cqRing, long cqHeadOff, long cqTailOff,
            long cqMaskOff, long cqesOff) {
        this.sqRing = sqRing;
        this.sqHeadOff = sqHeadOff;
        this.sqTailOff = sqTailOff;
        this.sqMask = sqRing.get(JAVA_INT, sqMaskOff);
        this.sqEntries = sqRing.get(JAVA_INT, sqEntriesOff);
        this.sqes = sqes;
        this.cqRing = cqRing;
        this.cqHeadOff = cqHeadOff;
        this.cqTailOff = cqTailOff;
        this.cqMask = cqRing.get(JAVA_INT, cqMaskOff);
        this.cqesOff = cqesOff;
        if (Integer.bitCount(sqEntries) != 1 || sqMask != sqEntries - 1 || Integer.bitCount(cqMask + 1) != 1) {
            throw new IllegalStateException("io_uring rings with " + sqEntries + " SQ entries (mask " + sqMask
                    + "), CQ mask " + cqMask + ": not powers of two");
        }
        for (int i = 0; i < sqEntries; i++) {
            sqRing.set(JAVA_INT, sqArrayOff + 4L * i, i);
        }
        this.sqTail = (int) INT.getAcquire(sqRing, sqTailOff);
        this.cqHead = (int) INT.getAcquire(cqRing, cqHeadOff);
    }

    public int sqEntries() {
        return sqEntries;
    }

    public int cqEntries() {
        return cqMask + 1;
    }

    /** Free SQ entries: the ring's size less what the kernel has not consumed yet. */
    public int sqSpace() {
        int head = (int) INT.getAcquire(sqRing, sqHeadOff);
        return sqEntries - (sqTail - head);
    }

    /** Entries filled since the last {@link #submitted}: what io_uring_enter's to_submit should say. */
    public int unsubmitted() {
        return unsubmitted;
    }

    /**
     * Fills the next SQE for a readv/writev-like operation ({@code addr}/{@code len} as the
     * opcode reads them) and advances our private tail; {@link #publish} shows it to the kernel.
     * The caller checked {@link #sqSpace}.
     */
    public void prepare(int opcode, int flags, int fd, long offset, long addr, int len, long userData) {
        if (sqSpace() <= 0) {
            throw new IllegalStateException("io_uring SQ full (" + sqEntries + " entries)");
        }
        long at = (long) (sqTail & sqMask) * SQE_BYTES;
        MemorySegment sqe = sqes.asSlice(at, SQE_BYTES);
        sqe.fill((byte) 0);
        sqe.set(JAVA_BYTE, SQE_OPCODE, (byte) opcode);
        sqe.set(JAVA_BYTE, SQE_FLAGS, (byte) flags);
        sqe.set(JAVA_SHORT, SQE_IOPRIO, (short) 0);
        sqe.set(JAVA_INT, SQE_FD, fd);
        sqe.set(JAVA_LONG, SQE_OFF, offset);
        sqe.set(JAVA_LONG, SQE_ADDR, addr);
        sqe.set(JAVA_INT, SQE_LEN, len);
        sqe.set(JAVA_INT, SQE_RW_FLAGS, 0);
        sqe.set(JAVA_LONG, SQE_USER_DATA, userData);
        sqTail++;
        unsubmitted++;
    }

    /** Stores our tail with release semantics: every SQE filled before is visible to the kernel first. */
    public void publish() {
        INT.setRelease(sqRing, sqTailOff, sqTail);
    }

    /** io_uring_enter said it consumed {@code n} entries. */
    public void submitted(int n) {
        if (n < 0 || n > unsubmitted) {
            throw new IllegalStateException("io_uring_enter consumed " + n + " of " + unsubmitted + " entries");
        }
        unsubmitted -= n;
    }

    /** Completions posted and not yet reaped. */
    public int cqReady() {
        return (int) INT.getAcquire(cqRing, cqTailOff) - cqHead;
    }

    /**
     * Hands every posted completion to {@code sink}, in order, then releases their slots to
     * the kernel (one release store of the head per call). Returns how many.
     */
    public int reap(Completion sink) {
        int tail = (int) INT.getAcquire(cqRing, cqTailOff);
        int n = 0;
        while (cqHead != tail) {
            long at = cqesOff + (long) (cqHead & cqMask) * CQE_BYTES;
            long userData = cqRing.get(JAVA_LONG, at + CQE_USER_DATA);
            int res = cqRing.get(JAVA_INT, at + CQE_RES);
            int flags = cqRing.get(JAVA_INT, at + CQE_FLAGS);
            cqHead++;
            n++;
            sink.complete(userData, res, flags);
        }
        if (n > 0) {
            INT.setRelease(cqRing, cqHeadOff, cqHead);
        }
        return n;
    }
}
