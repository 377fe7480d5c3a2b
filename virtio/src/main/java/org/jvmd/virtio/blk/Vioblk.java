package org.jvmd.virtio.blk;

import java.nio.charset.StandardCharsets;
import org.jvmd.virtio.DescriptorChain;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.QueueCounters;
import org.jvmd.virtio.RingLayout;
import org.jvmd.virtio.SplitQueue;
import org.jvmd.virtio.Virtq;

/**
 * The virtio-blk device (vmd's vioblk.c), pure: one request queue over a {@link SplitQueue},
 * requests parsed by {@link RequestParser}, I/O done by a {@link BlockBackend} on threads
 * the shell owns ({@link Submitter}), several requests in flight.
 *
 * <p>Threads: every method runs on the device thread. {@link #kick} pops chains and hands
 * valid requests to the submitter; the submitter runs {@link BlockRequest#execute} on an I/O
 * thread and hands the request back to the device thread, which calls {@link #complete}
 * for each and {@link #completionsDone} after a batch (one publish, at most one interrupt).
 *
 * <p>Guest input is hostile: every bad request is answered (IOERR/UNSUPP in its status
 * byte, or used with length 0 where it has none) and counted; nothing a driver writes
 * throws out of here or stops the device, except a bogus {@code avail.idx}, after which
 * the queue stays broken until the driver resets the device (virtio 1.2 §2.1.2).
 *
 * <p>Reset and pause wait for the requests in flight (their I/O threads write guest
 * memory): the {@link Listener} hears {@code resetDone}/{@code paused} once none is left.
 */
public final class Vioblk {
    /** VIRTIO_F_VERSION_1 (virtio 1.2 §6). */
    public static final int F_VERSION_1 = 32;
    /** MSI-X "no vector" (virtio 1.2 §4.1.5.1.2). */
    public static final int NO_VECTOR = 0xffff;
    /** The largest queue size this device takes; the transport must not offer more. */
    public static final int MAX_QUEUE_SIZE = 1024;
    /** Rounds of pop/enable-notifications per kick before the device yields to other events. */
    private static final int ROUNDS = 8;

    /** Runs a request's I/O somewhere and later hands it back to {@link #complete}. */
    @FunctionalInterface
    public interface Submitter {
        void submit(BlockRequest r);
    }

    /** Raises MSI-X vector {@code vector} (an irqfd). */
    @FunctionalInterface
    public interface Interrupts {
        void signal(int vector);
    }

    /** Hears that a reset or a pause asked for is done (no request in flight any more). */
    public interface Listener {
        /** A listener that needs neither event (a warm-up run, a test of the data path). */
        Listener NONE = new Listener() {
            @Override
            public void resetDone() {
            }

            @Override
            public void paused() {
            }
        };

        void resetDone();

        void paused();
    }

    private final GuestMemory memory;
    private final BlockBackend backend;
    private final Submitter submitter;
    private final Interrupts interrupts;
    private final Listener listener;
    private final VioblkLimits limits;
    private final boolean readOnly;
    private final long capacitySectors;
    private final long offered;
    private final RequestParser parser;
    private final BlockCounters counters = new BlockCounters();
    private final QueueCounters ringCounters = new QueueCounters();

    private long acked;
    private SplitQueue queue;
    private DescriptorChain chain;
    private BlockRequest[] slots = new BlockRequest[0];
    private int vector = NO_VECTOR;
    private boolean driverOk;
    private boolean broken;
    private boolean paused;
    private boolean pauseReported;
    private boolean resetPending;
    private boolean pendingWork;
    private int inFlight;
    /** Serve a lone read or write on the device thread ({@link #serveLoneRequestsInline}). */
    private boolean inlineLone;
    /** A read or write popped in this round and not yet handed on: served inline if it stays alone. */
    private BlockRequest held;

    public Vioblk(BlockBackend backend, boolean readOnly, String serial, VioblkLimits limits, GuestMemory memory,
                  Submitter submitter, Interrupts interrupts, Listener listener) {
        this.memory = memory;
        this.backend = backend;
        this.submitter = submitter;
        this.interrupts = interrupts;
        this.listener = listener;
        this.limits = limits;
        this.readOnly = readOnly;
        this.capacitySectors = backend.size() >>> VirtioBlk.SECTOR_SHIFT;
        this.offered = offeredFeatures(readOnly);
        this.parser = new RequestParser(limits, capacitySectors, serial.getBytes(StandardCharsets.UTF_8));
    }

    /** What the device offers: VERSION_1, the ring features and {@link VirtioBlk#offeredFeatures}. */
    public static long offeredFeatures(boolean readOnly) {
        return 1L << F_VERSION_1 | 1L << Virtq.F_EVENT_IDX | 1L << Virtq.F_INDIRECT_DESC
                | VirtioBlk.offeredFeatures(readOnly);
    }

    public long offered() {
        return offered;
    }

    public long acked() {
        return acked;
    }

    public long capacitySectors() {
        return capacitySectors;
    }

    public boolean readOnly() {
        return readOnly;
    }

    public VioblkLimits limits() {
        return limits;
    }

    public BlockCounters counters() {
        return counters;
    }

    /** Chains the queue completed with length 0 before they reached the device (loops, bad addresses, ...). */
    public QueueCounters ringCounters() {
        return ringCounters;
    }

    public int inFlight() {
        return inFlight;
    }

    public boolean isBroken() {
        return broken;
    }

    /** True when a kick stopped at its budget with chains left: call {@link #kick} again soon. */
    public boolean hasPendingWork() {
        return pendingWork;
    }

    /**
     * With {@code on}, a read or write that is the only request in flight when a round of
     * popping ends is executed on the device thread instead of being handed to an I/O
     * thread: at queue depth 1 the hand-off there and back costs two thread wake-ups, more
     * than a preadv of a cached block. A second request in the same round sends both to the
     * I/O threads, so deeper queues keep their parallelism; flushes, discards and zeroing
     * (which may take long) always go to the I/O threads.
     */
    public void serveLoneRequestsInline(boolean on) {
        inlineLone = on;
    }

    // ---- control plane (vmm-proc's transport, relayed) ----
    // The device-process end of vmm-proc's one VirtioDevice life-cycle: VioblkProxy forwards
    // acceptFeatures, queueEnabled, activate and reset as FeaturesAcked, QueueReady, DriverOk
    // and Reset, which arrive here in that order, on the device thread (VioblkLoop).

    /** FeaturesAcked: the driver's choice, masked to what was offered. */
    public void featuresAcked(long features) {
        acked = features & offered;
        if (readOnly) {
            acked |= 1L << VirtioBlk.F_RO;   // a read-only disk stays one, whatever the driver says
        }
    }

    /**
     * QueueReady: the driver enabled queue {@code q} (virtio 1.2 §4.1.4.3). A queue this
     * device has not, or a layout outside guest memory, leaves the queue disabled; returns
     * why, or null.
     */
    public String queueReady(int q, RingLayout layout, int msixVector) {
        if (q != VirtioBlk.REQUEST_QUEUE) {
            return "queue " + q + ": a virtio-blk device without MQ has only queue 0";
        }
        int size = layout.size();
        if (size <= 0 || size > MAX_QUEUE_SIZE || Integer.bitCount(size) != 1) {
            queue = null;
            return "queue size " + size + " is not a power of two in [1, " + MAX_QUEUE_SIZE + "]";
        }
        if (inFlight != 0) {
            return "queue enabled again with " + inFlight + " requests in flight";
        }
        SplitQueue sq = new SplitQueue(memory, size, ringCounters);
        try {
            sq.activate(layout, acked);
        } catch (GuestFault f) {
            queue = null;
            return f.getMessage();
        }
        if (slots.length != size) {
            int spans = limits.segMax();
            int ranges = limits.maxSegmentsOfRanges();
            slots = new BlockRequest[size];
            for (int i = 0; i < size; i++) {
                slots[i] = new BlockRequest(i, backend, spans, ranges);
            }
        }
        queue = sq;
        chain = sq.newChain();
        vector = msixVector;
        broken = false;
        return null;
    }

    /** DriverOk: requests may be served from now on. */
    public void driverOk() {
        driverOk = true;
        kick();
    }

    /**
     * Reset: stop taking requests; once none is in flight, forget the queue and the features
     * and tell the listener ({@code resetDone}), possibly before this returns.
     */
    public void reset() {
        resetPending = true;
        if (inFlight == 0) {
            finishReset();
        }
    }

    private void finishReset() {
        if (queue != null) {
            queue.reset();
        }
        queue = null;
        chain = null;
        acked = 0;
        vector = NO_VECTOR;
        driverOk = false;
        broken = false;
        pendingWork = false;
        resetPending = false;
        listener.resetDone();
    }

    /** Pause: stop taking requests; {@code paused} once the ones in flight are done. */
    public void pause() {
        paused = true;
        pauseReported = false;
        pendingWork = false;
        checkPaused();
    }

    public void unpause() {
        paused = false;
        pauseReported = false;
        kick();
    }

    private void checkPaused() {
        if (paused && !pauseReported && inFlight == 0) {
            pauseReported = true;
            listener.paused();
        }
    }

    public boolean isPaused() {
        return paused;
    }

    // ---- data plane ----

    /** The guest notified the request queue (or the device wants to look again). */
    public void kick() {
        pendingWork = false;
        if (queue == null || !driverOk || broken || paused || resetPending) {
            return;
        }
        try {
            for (int round = 0; ; round++) {
                queue.disableNotifications();
                while (queue.pop(chain)) {
                    handle(chain);
                }
                releaseHeld();
                publishAndSignal();
                if (!queue.enableNotifications()) {
                    return;
                }
                if (round + 1 == ROUNDS) {
                    pendingWork = true;
                    return;
                }
            }
        } catch (GuestFault f) {
            if (held != null) {
                // never left behind: the queue is broken, but the request is the guest's
                BlockRequest r = held;
                held = null;
                submitter.submit(r);
            }
            breakQueue();
        }
    }

    private void handle(DescriptorChain c) throws GuestFault {
        BlockRequest r = slots[c.head()];
        if (r.busy) {
            counters.error(BlockError.HEAD_IN_FLIGHT);
            queue.push(c.head(), 0);
            return;
        }
        switch (parser.parse(c, r, acked)) {
            case NO_STATUS -> {
                counters.error(r.error);
                queue.push(c.head(), 0);
            }
            case DONE -> answer(r);
            case SUBMIT -> {
                r.busy = true;
                inFlight++;
                boolean io = r.op == BlockRequest.Op.READ || r.op == BlockRequest.Op.WRITE;
                if (held != null) {
                    submitter.submit(held);
                    held = null;
                    submitter.submit(r);
                } else if (inlineLone && io && inFlight == 1) {
                    held = r;
                } else {
                    submitter.submit(r);
                }
            }
        }
    }

    /** The end of a round of popping: a request still held is alone, so it is served here. */
    private void releaseHeld() throws GuestFault {
        BlockRequest r = held;
        if (r == null) {
            return;
        }
        held = null;
        r.execute();
        r.busy = false;
        inFlight--;
        answer(r);
    }

    /**
     * A request's I/O is done ({@link BlockRequest#execute} ran): its status goes to the
     * guest, its chain to the used ring (published by {@link #completionsDone}).
     */
    public void complete(BlockRequest r) {
        if (!r.busy || slots.length <= r.head || slots[r.head] != r) {
            throw new IllegalStateException("completion of " + r + ", which is not in flight");
        }
        r.busy = false;
        inFlight--;
        if (resetPending || queue == null) {
            count(r);   // the I/O happened; the driver reset the device and no longer wants the answer
            if (resetPending && inFlight == 0) {
                finishReset();
            }
            return;
        }
        try {
            answer(r);
        } catch (GuestFault f) {
            breakQueue();
        }
    }

    /** After a batch of {@link #complete} calls: publish, interrupt if the driver wants one. */
    public void completionsDone() {
        if (queue != null && !broken) {
            try {
                publishAndSignal();
            } catch (GuestFault f) {
                breakQueue();
            }
        }
        checkPaused();
        if (!paused && !resetPending && queue != null && driverOk && !broken) {
            // Requests were held back while every slot was busy? Never: the queue holds at
            // most `size` chains, one per head. But the driver may have added chains
            // without a kick while notifications were off; look again.
            kick();
        }
    }

    /** Writes the status byte, counts, and uses the chain. */
    private void answer(BlockRequest r) throws GuestFault {
        int len = r.status == VirtioBlk.S_OK ? r.usedLen : 1;
        try {
            memory.writeByte(r.statusGpa, (byte) r.status);
        } catch (GuestFault f) {
            r.fail(BlockError.GUEST_FAULT, f.getMessage());
            len = 0;
        }
        count(r);
        queue.push(r.head, len);
    }

    private void count(BlockRequest r) {
        if (r.status == VirtioBlk.S_UNSUPP) {
            counters.unsupported++;
            return;
        }
        if (r.error != null) {
            counters.error(r.error);
            return;
        }
        if (r.type == VirtioBlk.T_GET_ID) {
            counters.getIds++;
            return;
        }
        switch (r.op) {
            case READ -> {
                counters.reads++;
                counters.readBytes += r.data.bytes();
            }
            case WRITE -> {
                counters.writes++;
                counters.writeBytes += r.data.bytes();
            }
            case FLUSH -> counters.flushes++;
            case DISCARD -> counters.discards++;
            case WRITE_ZEROES -> counters.writeZeroes++;
        }
    }

    private void publishAndSignal() throws GuestFault {
        queue.publish();
        if (queue.needsInterrupt() && vector != NO_VECTOR) {
            interrupts.signal(vector);
        }
    }

    /** A bogus avail.idx or used ring: stop serving until the driver resets (virtio 1.2 §2.1.2). */
    private void breakQueue() {
        broken = true;
        pendingWork = false;
    }
}
