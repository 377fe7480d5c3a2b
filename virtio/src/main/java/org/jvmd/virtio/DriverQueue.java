package org.jvmd.virtio;

import java.util.Arrays;

/**
 * The driver side of a split virtqueue, doing what a Linux guest's virtio_ring.c does, so
 * that tests, property tests, benchmarks and the vionet integration harness can play the
 * guest against a device over shared {@link GuestMemory}.
 *
 * <ul>
 * <li>Layout: descriptors, available ring and used ring in one allocation, used ring
 *     aligned to the cache line ({@link RingLayout#linux}); all of it zeroed, and the used
 *     ring's flags 0 (virtio 1.2 §2.7.10.1).</li>
 * <li>Descriptors come from a free list kept on the driver's side (as Linux's desc_extra);
 *     a chain takes them in free-list order and gives them back when used.</li>
 * <li>{@link #add()} uses an indirect table for a multi-buffer chain when
 *     VIRTIO_F_INDIRECT_DESC is negotiated (Linux virtqueue_use_indirect); each head owns a
 *     preallocated table.</li>
 * <li>Ordering (virtio 1.2 §2.7.13.3, §2.7.13.4): ring entry, then a release store of
 *     {@code avail.idx}; a full fence before reading {@code avail_event} or the used flags.</li>
 * </ul>
 *
 * <p>Building a chain: stage buffers with {@link #readable} and {@link #writable} (readable
 * first), then {@link #add()}. Nothing is allocated per chain. Not thread-safe: one driver
 * thread per queue. Driver misuse and device misbehaviour (a used id that is not in flight,
 * a used length above what the chain can hold) throw {@link IllegalStateException}: in a
 * test, the device under test is wrong.
 */
public final class DriverQueue {
    /** Returned by {@link #add()} and {@link #reap()} when there is nothing to return. */
    public static final int NONE = -1;

    private final GuestMemory memory;
    private final RingLayout layout;
    private final int size;
    private final int mask;
    private final boolean eventIdx;
    private final boolean indirect;
    private final int maxIndirect;

    private final int[] nextFree;
    /** Descriptors of the main table held by the chain at each head; 0 when not in flight. */
    private final int[] chainDescs;
    private final long[] chainWritable;
    private final long[] indirectTable;
    private int freeHead;
    private int numFree;

    private int availIdx;
    private int numAdded;
    private int lastUsed;
    private int lastLen;
    private int availFlagsShadow;

    private final long[] stagedAddr;
    private final int[] stagedLen;
    private int staged;
    private int stagedReadable;

    /**
     * A queue in a fresh Linux-style allocation from {@code allocator}; with
     * VIRTIO_F_INDIRECT_DESC, one indirect table of up to {@code maxIndirect} descriptors is
     * reserved per head.
     */
    public static DriverQueue create(GuestMemory memory, GuestAllocator allocator, int size,
                                     long features, int maxIndirect) throws GuestFault {
        long usedAlign = 64;   // SMP_CACHE_BYTES, what Linux virtio-pci modern passes to vring_init
        long base = allocator.allocate(RingLayout.linuxBytes(size, usedAlign), 4096);
        RingLayout layout = RingLayout.linux(size, base, usedAlign);
        return new DriverQueue(memory, layout, features, allocator, maxIndirect);
    }

    /**
     * A queue at {@code layout}, which is zeroed here. {@code allocator} provides the
     * indirect tables when VIRTIO_F_INDIRECT_DESC is in {@code features} (may be null
     * otherwise).
     */
    public DriverQueue(GuestMemory memory, RingLayout layout, long features,
                       GuestAllocator allocator, int maxIndirect) throws GuestFault {
        layout.validate(memory);
        this.memory = memory;
        this.layout = layout;
        this.size = layout.size();
        this.mask = size - 1;
        this.eventIdx = Virtq.has(features, Virtq.F_EVENT_IDX);
        this.indirect = Virtq.has(features, Virtq.F_INDIRECT_DESC);
        this.maxIndirect = indirect ? Math.min(maxIndirect, size) : 0;
        this.nextFree = new int[size];
        this.chainDescs = new int[size];
        this.chainWritable = new long[size];
        this.indirectTable = new long[size];
        int stage = Math.max(size, this.maxIndirect);
        this.stagedAddr = new long[stage];
        this.stagedLen = new int[stage];
        for (int i = 0; i < size; i++) {
            nextFree[i] = i + 1;
        }
        numFree = size;
        if (indirect) {
            if (this.maxIndirect <= 0) {
                throw new IllegalArgumentException("maxIndirect " + maxIndirect);
            }
            for (int i = 0; i < size; i++) {
                indirectTable[i] = allocator.allocate((long) Virtq.DESC_SIZE * this.maxIndirect, Virtq.DESC_ALIGN);
            }
        }
        zero(layout.desc(), RingLayout.descBytes(size));
        zero(layout.avail(), RingLayout.availBytes(size));
        zero(layout.used(), RingLayout.usedBytes(size));
    }

    private void zero(long gpa, long bytes) throws GuestFault {
        byte[] zeros = new byte[(int) Math.min(bytes, 4096)];
        for (long done = 0; done < bytes; done += zeros.length) {
            memory.write(gpa + done, zeros, 0, (int) Math.min(zeros.length, bytes - done));
        }
    }

    public RingLayout layout() {
        return layout;
    }

    public int size() {
        return size;
    }

    public int numFree() {
        return numFree;
    }

    /** The driver's available index (what it last stored in avail.idx). */
    public int availIdx() {
        return availIdx;
    }

    /** The next used-ring index the driver will look at. */
    public int lastUsedIdx() {
        return lastUsed;
    }

    /** Stages a device-readable buffer of the next chain. */
    public DriverQueue readable(long gpa, int len) {
        if (staged > stagedReadable) {
            throw new IllegalStateException("readable buffer after a writable one");
        }
        stage(gpa, len);
        stagedReadable++;
        return this;
    }

    /** Stages a device-writable buffer of the next chain. */
    public DriverQueue writable(long gpa, int len) {
        stage(gpa, len);
        return this;
    }

    private void stage(long gpa, int len) {
        if (staged == stagedAddr.length) {
            throw new IllegalStateException("more than " + stagedAddr.length + " buffers in one chain");
        }
        stagedAddr[staged] = gpa;
        stagedLen[staged] = len;
        staged++;
    }

    /** Forgets the staged buffers. */
    public void clearStaged() {
        staged = 0;
        stagedReadable = 0;
    }

    /**
     * Adds the staged buffers as one chain, indirect if the feature is negotiated, there is
     * more than one buffer and they fit one table (Linux virtqueue_use_indirect).
     *
     * @return the head descriptor index, or {@link #NONE} if too few descriptors are free
     *         (the staged buffers are then dropped, like Linux's -ENOSPC)
     */
    public int add() throws GuestFault {
        return add(indirect && staged > 1 && staged <= maxIndirect);
    }

    /** Adds the staged buffers as one chain, through an indirect table if {@code useIndirect}. */
    public int add(boolean useIndirect) throws GuestFault {
        return add(useIndirect, null);
    }

    /**
     * Rewrites the descriptors of a chain after {@link #add(boolean, Tamper)} wrote them and
     * before the chain is published: how a hostile-guest harness makes malformed chains
     * (loops, bad indirect tables) that the device can only see whole.
     */
    @FunctionalInterface
    public interface Tamper {
        /**
         * @param table   the descriptor table holding the chain: the queue's own, or the
         *                chain's indirect table
         * @param indices the chain's descriptors in {@code table}, in chain order
         */
        void rewrite(long table, int[] indices) throws GuestFault;
    }

    /**
     * As {@link #add(boolean)}, then lets {@code tamper} (may be null) rewrite the chain's
     * descriptors before it is published. The driver's own bookkeeping is unchanged: the
     * chain frees the same descriptors when the device uses its head. Allocates the index
     * array; for hostile-guest tests, not for a data path.
     */
    public int add(boolean useIndirect, Tamper tamper) throws GuestFault {
        if (staged == 0) {
            throw new IllegalStateException("no buffers staged");
        }
        if (useIndirect && (!indirect || staged > maxIndirect)) {
            throw new IllegalStateException("indirect chain of " + staged + " buffers not possible");
        }
        int needed = useIndirect ? 1 : staged;
        if (numFree < needed) {
            clearStaged();
            return NONE;
        }
        int head = freeHead;
        if (useIndirect) {
            addIndirect(head);
        } else {
            addDirect(head);
        }
        long writable = 0;
        for (int i = stagedReadable; i < staged; i++) {
            writable += Integer.toUnsignedLong(stagedLen[i]);
        }
        chainWritable[head] = writable;
        chainDescs[head] = needed;
        numFree -= needed;
        int count = staged;
        clearStaged();
        if (tamper != null) {
            int[] indices = new int[useIndirect ? count : needed];
            for (int k = 0, i = head; k < indices.length; k++) {
                indices[k] = useIndirect ? k : i;
                if (!useIndirect && k + 1 < indices.length) {
                    i = nextFree[i];   // an indirect chain's entries are 0..count-1 of its table
                }
            }
            tamper.rewrite(useIndirect ? indirectTable[head] : layout.desc(), indices);
        }
        expose(head);
        return head;
    }

    private void addDirect(int head) throws GuestFault {
        int i = head;
        for (int k = 0; k < staged; k++) {
            int flags = (k + 1 < staged ? Virtq.DESC_F_NEXT : 0) | (k >= stagedReadable ? Virtq.DESC_F_WRITE : 0);
            writeDescriptor(memory, layout.desc(), i, stagedAddr[k], stagedLen[k], flags, nextFree[i]);
            if (k + 1 < staged) {
                i = nextFree[i];
            }
        }
        freeHead = nextFree[i];
    }

    private void addIndirect(int head) throws GuestFault {
        long table = indirectTable[head];
        for (int k = 0; k < staged; k++) {
            int flags = (k + 1 < staged ? Virtq.DESC_F_NEXT : 0) | (k >= stagedReadable ? Virtq.DESC_F_WRITE : 0);
            writeDescriptor(memory, table, k, stagedAddr[k], stagedLen[k], flags, k + 1);
        }
        writeDescriptor(memory, layout.desc(), head, table, staged * Virtq.DESC_SIZE,
                Virtq.DESC_F_INDIRECT, nextFree[head]);
        freeHead = nextFree[head];
    }

    /** Puts {@code head} in the next available slot and publishes it with a release store of avail.idx. */
    private void expose(int head) throws GuestFault {
        memory.writeShort(layout.availRing(availIdx & mask), (short) head);
        availIdx = (availIdx + 1) & 0xffff;
        memory.writeShortRelease(layout.availIdx(), (short) availIdx);
        numAdded++;
    }

    /** Writes one 16-byte descriptor (virtio 1.2 §2.7.5) at {@code table[index]}. */
    public static void writeDescriptor(GuestMemory memory, long table, int index, long addr, int len,
                                       int flags, int next) throws GuestFault {
        long d = table + (long) Virtq.DESC_SIZE * index;
        memory.writeLong(d, addr);
        memory.writeLong(d + 8, Integer.toUnsignedLong(len) | ((long) (flags & 0xffff) << 32)
                | ((long) (next & 0xffff) << 48));
    }

    /**
     * Whether the device wants a notification for the chains added since the last kick
     * (Linux virtqueue_kick_prepare_split): with EVENT_IDX if {@code avail_event} was
     * passed, otherwise unless the device set VIRTQ_USED_F_NO_NOTIFY (virtio 1.2 §2.7.10.1).
     */
    public boolean kick() throws GuestFault {
        if (numAdded == 0) {
            return false;
        }
        int old = (availIdx - numAdded) & 0xffff;
        numAdded = 0;
        memory.fullFence();   // avail.idx store before reading the suppression field (§2.7.13.4)
        if (eventIdx) {
            return Virtq.needEvent(memory.readShort(layout.availEvent()) & 0xffff, availIdx, old);
        }
        return (memory.readShort(layout.usedFlags()) & Virtq.USED_F_NO_NOTIFY) == 0;
    }

    /** True if the device has published used elements the driver has not reaped. */
    public boolean hasUsed() throws GuestFault {
        return (memory.readShortAcquire(layout.usedIdx()) & 0xffff) != lastUsed;
    }

    /**
     * Takes the next used element (Linux virtqueue_get_buf): returns its head and frees the
     * chain's descriptors; {@link #usedLen()} then gives the length the device wrote. With
     * EVENT_IDX and interrupts enabled, moves {@code used_event} along.
     *
     * @return the head, or {@link #NONE} if the device has published nothing new
     */
    public int reap() throws GuestFault {
        if (!hasUsed()) {
            return NONE;
        }
        long elem = layout.usedElem(lastUsed & mask);
        int id = memory.readInt(elem);
        int len = memory.readInt(elem + 4);
        if (id < 0 || id >= size || chainDescs[id] == 0) {
            throw new IllegalStateException("device returned id " + id + ", which is not in flight");
        }
        if (Integer.toUnsignedLong(len) > chainWritable[id]) {
            throw new IllegalStateException("device used " + Integer.toUnsignedLong(len) + " bytes of chain "
                    + id + ", which has " + chainWritable[id] + " writable");
        }
        free(id);
        lastLen = len;
        lastUsed = (lastUsed + 1) & 0xffff;
        if (eventIdx && (availFlagsShadow & Virtq.AVAIL_F_NO_INTERRUPT) == 0) {
            memory.writeShort(layout.usedEvent(), (short) lastUsed);
            memory.fullFence();
        }
        return id;
    }

    private void free(int head) {
        int last = head;
        for (int k = 1; k < chainDescs[head]; k++) {
            last = nextFree[last];
        }
        nextFree[last] = freeHead;
        freeHead = head;
        numFree += chainDescs[head];
        chainDescs[head] = 0;
    }

    /** The length the device reported for the element last returned by {@link #reap()}. */
    public int usedLen() {
        return lastLen;
    }

    /**
     * Suppresses used-buffer notifications (Linux virtqueue_disable_cb_split): the flag
     * without EVENT_IDX; with it, Linux parks {@code used_event} at 0.
     */
    public void disableInterrupts() throws GuestFault {
        if ((availFlagsShadow & Virtq.AVAIL_F_NO_INTERRUPT) != 0) {
            return;
        }
        availFlagsShadow |= Virtq.AVAIL_F_NO_INTERRUPT;
        if (eventIdx) {
            memory.writeShort(layout.usedEvent(), (short) 0);
        } else {
            memory.writeShort(layout.availFlags(), (short) availFlagsShadow);
        }
    }

    /**
     * Re-enables used-buffer notifications for the next used element (Linux
     * virtqueue_enable_cb_prepare + virtqueue_poll), re-checking the used ring after a full
     * fence (virtio 1.2 §2.7.14).
     *
     * @return true if used elements are already pending, so the caller should reap instead
     *         of waiting for an interrupt
     */
    public boolean enableInterrupts() throws GuestFault {
        if ((availFlagsShadow & Virtq.AVAIL_F_NO_INTERRUPT) != 0) {
            availFlagsShadow &= ~Virtq.AVAIL_F_NO_INTERRUPT;
            if (!eventIdx) {
                memory.writeShort(layout.availFlags(), (short) availFlagsShadow);
            }
        }
        if (eventIdx) {
            memory.writeShort(layout.usedEvent(), (short) lastUsed);
        }
        memory.fullFence();
        return hasUsed();
    }

    /** Chains added and not yet reaped. */
    public int inFlight() {
        int n = 0;
        for (int d : chainDescs) {
            n += d == 0 ? 0 : 1;
        }
        return n;
    }

    @Override
    public String toString() {
        return "DriverQueue" + layout + " free " + numFree + " avail " + availIdx + " used " + lastUsed
                + " in flight " + Arrays.stream(chainDescs).filter(d -> d != 0).count();
    }
}
