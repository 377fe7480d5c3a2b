package org.jvmd.virtio;

import org.jvmd.virtio.GuestFault.Reason;

/**
 * The device side of a split virtqueue (virtio 1.2 §2.7).
 *
 * <p>Life cycle: {@link #activate} when the driver enables the queue (the layout is checked
 * once there), {@link #reset} when the driver resets the device or the queue. In between,
 * one device thread runs the data path:
 *
 * <pre>
 * for (;;) {
 *     queue.disableNotifications();
 *     while (queue.pop(chain)) {
 *         try { int written = handle(chain); queue.push(chain.head(), written); }
 *         catch (GuestFault f) { queue.drop(chain, f.reason()); }
 *     }
 *     queue.publish();
 *     if (queue.needsInterrupt()) irq.signal();
 *     if (!queue.enableNotifications()) break;   // re-checks for buffers added meanwhile
 * }
 * </pre>
 *
 * <p>Guest input is hostile. Every descriptor walk is bounded by the queue size (a loop
 * ends as {@code CHAIN_LOOP}, an over-long chain as {@code CHAIN_TOO_LONG}); a bad chain is
 * completed with length 0 inside {@link #pop} and counted in {@link #counters()}, so it
 * neither stalls the driver nor reaches the device. Only a bogus {@code avail.idx} (more than
 * a queue's worth of new entries) escapes, as a {@link GuestFault}: there is no chain to
 * complete then, and the device may mark itself as needing reset (virtio 1.2 §2.1.2).
 *
 * <p>Memory ordering (virtio 1.2 §2.7.13, §2.7.14): {@code avail.idx} is read with acquire
 * before the ring entries and descriptors it publishes; used elements are written plainly
 * and {@code used.idx} is stored with release in {@link #publish}; a full fence separates
 * our index stores from the reads of the driver's suppression fields, and our suppression
 * stores from the re-read of {@code avail.idx}.
 *
 * <p>Nothing is allocated per request. Not thread-safe: one device thread per queue.
 */
public final class SplitQueue {
    private final GuestMemory memory;
    private final int maxSize;
    private final QueueCounters counters;

    private RingLayout layout;
    private boolean ready;
    private int size;
    private int mask;
    private boolean eventIdx;
    private boolean indirect;

    /** Free-running 16-bit indices, kept in ints masked with 0xffff. */
    private int lastAvail;
    private int availShadow;
    private int usedIdx;
    private int publishedUsed;
    private int signalledUsed;

    private boolean notifications = true;
    /** Chains handed out by pop and not yet pushed: guards against device bugs. */
    private int outstanding;

    /**
     * @param maxSize the largest queue size the device offers (the transport's queue_size
     *                maximum); {@link #newChain()} chains hold that many segments
     */
    public SplitQueue(GuestMemory memory, int maxSize, QueueCounters counters) {
        if (maxSize <= 0 || maxSize > Virtq.MAX_SIZE || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("max queue size " + maxSize);
        }
        this.memory = memory;
        this.maxSize = maxSize;
        this.counters = counters;
    }

    /** A chain big enough for any chain of this queue; allocate once, reuse for every pop. */
    public DescriptorChain newChain() {
        return new DescriptorChain(maxSize);
    }

    /**
     * Enables the queue with the layout and the negotiated features the driver chose.
     * Indices start at 0 (virtio 1.2 §2.7.6, §2.7.8).
     *
     * @throws GuestFault BAD_QUEUE_LAYOUT if the size or an address is invalid; the queue
     *                    then stays disabled
     */
    public void activate(RingLayout layout, long features) throws GuestFault {
        reset();
        layout.validate(memory);
        if (layout.size() > maxSize) {
            throw new GuestFault(Reason.BAD_QUEUE_LAYOUT,
                    "queue size " + layout.size() + " above the offered maximum " + maxSize);
        }
        this.layout = layout;
        this.size = layout.size();
        this.mask = size - 1;
        this.eventIdx = Virtq.has(features, Virtq.F_EVENT_IDX);
        this.indirect = Virtq.has(features, Virtq.F_INDIRECT_DESC);
        this.ready = true;
    }

    /** Disables the queue and forgets all ring state; the rings in guest memory are untouched. */
    public void reset() {
        ready = false;
        layout = null;
        size = 0;
        mask = 0;
        eventIdx = false;
        indirect = false;
        lastAvail = 0;
        availShadow = 0;
        usedIdx = 0;
        publishedUsed = 0;
        signalledUsed = 0;
        notifications = true;
        outstanding = 0;
    }

    public boolean isReady() {
        return ready;
    }

    public int size() {
        return size;
    }

    public RingLayout layout() {
        return layout;
    }

    public QueueCounters counters() {
        return counters;
    }

    /** The next available-ring index the device will read. */
    public int lastAvailIdx() {
        return lastAvail;
    }

    /** The used index including pushed but unpublished elements. */
    public int usedIdx() {
        return usedIdx;
    }

    /** Chains popped and not yet pushed. */
    public int outstanding() {
        return outstanding;
    }

    /**
     * Takes the next good chain from the available ring into {@code chain}. Bad chains met
     * on the way are completed with length 0 (visible after the next {@link #publish}) and
     * counted. At most one queue's worth of entries is examined per call, so a guest that
     * keeps adding bad chains cannot hold the device thread here; entries left then are
     * reported by {@link #enableNotifications()} (or found by the next call), as in the
     * loop in the class comment.
     *
     * @return false if no chain is available, the per-call bound was reached, or the queue
     *         is not ready
     * @throws GuestFault BAD_AVAIL_INDEX if {@code avail.idx} moved more than the queue size
     *                    ahead of the device (also counted); nothing is consumed then
     */
    public boolean pop(DescriptorChain chain) throws GuestFault {
        if (!ready) {
            return false;
        }
        for (int examined = 0; examined < size; examined++) {
            if (lastAvail == availShadow && !refreshAvail()) {
                return false;
            }
            int head = memory.readShort(layout.availRing(lastAvail & mask)) & 0xffff;
            lastAvail = (lastAvail + 1) & 0xffff;
            if (notifications && eventIdx) {
                memory.writeShort(layout.availEvent(), (short) lastAvail);
            }
            Reason bad = walk(head, chain);
            if (bad == null) {
                outstanding++;
                return true;
            }
            counters.count(bad);
            if (head < size) {
                writeUsed(head, 0);
            }
            // A head index outside the table names no chain: there is nothing to complete.
        }
        return false;
    }

    /** Reads avail.idx again; with notifications on, closes the race with the driver's kick check. */
    private boolean refreshAvail() throws GuestFault {
        readAvailIdx();
        if (availShadow != lastAvail || !notifications) {
            return availShadow != lastAvail;
        }
        // Our avail_event / flags store must be visible before we conclude the ring is
        // empty, or a driver adding now may skip its kick (virtio 1.2 §2.7.13.4).
        memory.fullFence();
        readAvailIdx();
        return availShadow != lastAvail;
    }

    private void readAvailIdx() throws GuestFault {
        int idx = memory.readShortAcquire(layout.availIdx()) & 0xffff;
        // The driver can expose at most a queue's worth of heads (virtio 1.2 §2.7.13: the
        // ring is as big as the descriptor table, so it cannot wrap past the device).
        if (((idx - lastAvail) & 0xffff) > size) {
            counters.count(Reason.BAD_AVAIL_INDEX);
            throw new GuestFault(Reason.BAD_AVAIL_INDEX,
                    "avail.idx " + idx + " is more than " + size + " ahead of " + lastAvail);
        }
        availShadow = idx;
    }

    /**
     * Walks the chain at {@code head} into {@code chain}; returns why it is bad, or null.
     * Every step is bounded: at most {@code size} descriptors of the main table and at most
     * {@code len/16 <= size} of the indirect table are visited.
     */
    private Reason walk(int head, DescriptorChain chain) {
        chain.begin(memory, head, size);
        if (head >= size) {
            return Reason.BAD_DESCRIPTOR_INDEX;
        }
        long table = layout.desc();
        int tableSize = size;
        boolean inIndirect = false;
        int visited = 0;
        int index = head;
        try {
            for (;;) {
                if (++visited > tableSize) {
                    return Reason.CHAIN_LOOP;   // more steps than entries: a descriptor repeats
                }
                long d = table + (long) Virtq.DESC_SIZE * index;
                long addr = memory.readLong(d);
                long rest = memory.readLong(d + 8);   // le32 len, le16 flags, le16 next
                long len = rest & 0xffffffffL;
                int flags = (int) (rest >>> 32) & 0xffff;
                int next = (int) (rest >>> 48) & 0xffff;
                if ((flags & Virtq.DESC_F_INDIRECT) != 0) {
                    Reason bad = checkIndirect(inIndirect, flags, addr, len);
                    if (bad != null) {
                        return bad;
                    }
                    table = addr;
                    tableSize = (int) (len / Virtq.DESC_SIZE);
                    inIndirect = true;
                    visited = 0;
                    index = 0;   // "The first indirect descriptor is located at ... index 0" (§2.7.5.3)
                    continue;
                }
                if (!memory.contains(addr, len)) {
                    return Reason.ADDRESS_OUT_OF_RANGE;
                }
                Reason bad = chain.append(addr, (int) len, (flags & Virtq.DESC_F_WRITE) != 0);
                if (bad != null) {
                    return bad;
                }
                if ((flags & Virtq.DESC_F_NEXT) == 0) {
                    return null;
                }
                if (next >= tableSize) {
                    return Reason.BAD_DESCRIPTOR_INDEX;
                }
                index = next;
            }
        } catch (GuestFault f) {
            return f.reason();
        }
    }

    /**
     * The indirect-descriptor rules (virtio 1.2 §2.7.5.3.1): only with
     * VIRTIO_F_INDIRECT_DESC, never inside an indirect table, never together with NEXT; the
     * table is a whole number of descriptors, at least one and at most the queue size
     * (the longest chain a driver may create), inside guest memory. The WRITE flag of the
     * referring descriptor is ignored (§2.7.5.3.2).
     */
    private Reason checkIndirect(boolean inIndirect, int flags, long addr, long len) {
        if (inIndirect) {
            return Reason.NESTED_INDIRECT;
        }
        if (!indirect || (flags & Virtq.DESC_F_NEXT) != 0
                || len == 0 || len % Virtq.DESC_SIZE != 0 || len / Virtq.DESC_SIZE > size) {
            return Reason.BAD_INDIRECT;
        }
        if (!memory.contains(addr, len)) {
            return Reason.ADDRESS_OUT_OF_RANGE;
        }
        return null;
    }

    /**
     * Returns a popped chain to the driver with {@code len} bytes written into its writable
     * buffers. Visible to the driver after {@link #publish}.
     */
    public void push(int head, int len) throws GuestFault {
        if (outstanding == 0) {
            throw new IllegalStateException("push of " + head + " without an outstanding chain");
        }
        if (head < 0 || head >= size) {
            throw new IllegalArgumentException("head " + head + " outside queue of " + size);
        }
        outstanding--;
        writeUsed(head, len);
    }

    /** Completes a popped chain the device found bad with length 0, counting {@code reason}. */
    public void drop(DescriptorChain chain, Reason reason) throws GuestFault {
        counters.count(reason);
        push(chain.head(), 0);
    }

    private void writeUsed(int head, int len) throws GuestFault {
        long elem = layout.usedElem(usedIdx & mask);
        memory.writeLong(elem, Integer.toUnsignedLong(head) | ((long) len << 32));   // le32 id, le32 len
        usedIdx = (usedIdx + 1) & 0xffff;
    }

    /**
     * Makes every pushed element visible: one release store of {@code used.idx} after the
     * elements ("The device MUST set len prior to updating the used idx", virtio 1.2 §2.7.8.2).
     */
    public void publish() throws GuestFault {
        if (!ready || usedIdx == publishedUsed) {
            return;
        }
        memory.writeShortRelease(layout.usedIdx(), (short) usedIdx);
        publishedUsed = usedIdx;
    }

    /**
     * Whether the driver wants a used-buffer notification for what was published since the
     * last call (virtio 1.2 §2.7.7.2): with EVENT_IDX, if {@code used_event} was passed;
     * otherwise unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT. Call after {@link #publish}.
     */
    public boolean needsInterrupt() throws GuestFault {
        int now = publishedUsed;
        int old = signalledUsed;
        if (!ready || now == old) {
            return false;
        }
        signalledUsed = now;
        // Order our used.idx store before reading the driver's suppression field.
        memory.fullFence();
        if (eventIdx) {
            int usedEvent = memory.readShort(layout.usedEvent()) & 0xffff;
            return Virtq.needEvent(usedEvent, now, old);
        }
        return (memory.readShort(layout.availFlags()) & Virtq.AVAIL_F_NO_INTERRUPT) == 0;
    }

    /**
     * Asks the driver not to notify (kick) while the device is processing anyway: sets
     * VIRTQ_USED_F_NO_NOTIFY, or with EVENT_IDX leaves {@code avail_event} behind (the device
     * "MUST set flags to 0" then, virtio 1.2 §2.7.10).
     */
    public void disableNotifications() throws GuestFault {
        boolean wasOn = notifications;
        notifications = false;
        if (ready && wasOn && !eventIdx) {
            memory.writeShort(layout.usedFlags(), (short) Virtq.USED_F_NO_NOTIFY);
        }
    }

    /**
     * For a device that polls the ring rather than wait for a kick (vhost-net's busy poll):
     * asks the driver not to notify at all until {@link #enableNotifications()}. With
     * EVENT_IDX {@code avail_event} goes one behind the next index the device will read, so
     * that no index the driver publishes from here on passes it (virtio 1.2 §2.7.10: the
     * driver notifies only when its new index passes avail_event); otherwise
     * VIRTQ_USED_F_NO_NOTIFY. The device must look at the ring itself ({@link #hasAvailable})
     * and call {@link #enableNotifications()} before it waits for a kick again.
     */
    public void quiet() throws GuestFault {
        disableNotifications();   // without EVENT_IDX that is the whole of it
        if (ready && eventIdx) {
            memory.writeShort(layout.availEvent(), (short) (lastAvail - 1));
        }
    }

    /**
     * True if the driver has made chains available that the device has not taken: one read
     * of {@code avail.idx}, for a device polling the ring.
     *
     * @throws GuestFault BAD_AVAIL_INDEX as {@link #pop}
     */
    public boolean hasAvailable() throws GuestFault {
        if (!ready) {
            return false;
        }
        if (availShadow == lastAvail) {
            readAvailIdx();
        }
        return availShadow != lastAvail;
    }

    /**
     * Asks the driver to notify again for the next buffer, then re-reads {@code avail.idx}
     * after a full fence: a buffer added between our last look and the flag becoming visible
     * would otherwise be missed by both sides.
     *
     * @return true if buffers are available, so the caller should keep processing instead
     *         of waiting for a kick
     */
    public boolean enableNotifications() throws GuestFault {
        notifications = true;
        if (!ready) {
            return false;
        }
        if (eventIdx) {
            memory.writeShort(layout.availEvent(), (short) lastAvail);
        } else {
            memory.writeShort(layout.usedFlags(), (short) 0);
        }
        memory.fullFence();
        readAvailIdx();
        return availShadow != lastAvail;
    }
}
