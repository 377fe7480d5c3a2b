package org.jvmd.virtio.blk;

import java.util.ArrayList;
import java.util.List;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.HeapGuestMemory;
import org.jvmd.virtio.Virtq;

/**
 * A guest driver and a {@link Vioblk} over heap memory with an in-memory image. The
 * submitter holds requests until the test completes them ({@link #completeAll}, in any
 * order), as I/O threads would. Buffers come from a bump area that wraps around.
 */
final class BlkHarness implements Vioblk.Listener {
    static final int MEM = 4 << 20;
    static final long BUFFERS = 1 << 20;
    final HeapGuestMemory memory = new HeapGuestMemory(MEM);
    final GuestAllocator allocator = new GuestAllocator(memory, 0, BUFFERS);
    final MemoryBackend backend;
    final Vioblk device;
    final DriverQueue queue;
    final List<BlockRequest> submitted = new ArrayList<>();
    final List<Integer> interrupts = new ArrayList<>();
    int resetDone;
    int paused;
    private long next = BUFFERS;

    BlkHarness(int imageBytes, boolean readOnly, int queueSize, long driverFeatures) throws GuestFault {
        this(imageBytes, readOnly, queueSize, driverFeatures, VioblkLimits.DEFAULT);
    }

    BlkHarness(int imageBytes, boolean readOnly, int queueSize, long driverFeatures, VioblkLimits limits)
            throws GuestFault {
        backend = new MemoryBackend(memory, imageBytes);
        device = new Vioblk(backend, readOnly, "jvmd-serial-0", limits, memory, submitted::add,
                interrupts::add, this);
        long features = driverFeatures & device.offered();
        queue = DriverQueue.create(memory, allocator, queueSize, features, 16);
        device.featuresAcked(features);
        String bad = device.queueReady(0, queue.layout(), 1);
        if (bad != null) {
            throw new IllegalStateException(bad);
        }
        device.driverOk();
    }

    static long all() {
        return Vioblk.offeredFeatures(false);
    }

    @Override
    public void resetDone() {
        resetDone++;
    }

    @Override
    public void paused() {
        paused++;
    }

    /** Guest memory for a buffer of {@code len} bytes. */
    long buffer(int len) {
        if (next + len + 64 > MEM) {
            next = BUFFERS;
        }
        long at = next;
        next += (len + 63) & ~63L;
        return at;
    }

    long header(int type, long sector) throws GuestFault {
        long h = buffer(16);
        memory.writeInt(h, type);
        memory.writeInt(h + 4, 0);
        memory.writeLong(h + 8, sector);
        return h;
    }

    /** Queues a request and kicks; returns the head. */
    int add() throws GuestFault {
        int head = queue.add();
        if (head == DriverQueue.NONE) {
            throw new IllegalStateException("queue full");
        }
        if (queue.kick()) {
            device.kick();
        }
        return head;
    }

    /** A read of {@code lens} bytes into fresh buffers; returns {data addresses..., status}. */
    long[] read(long sector, int... lens) throws GuestFault {
        long[] out = new long[lens.length + 1];
        queue.readable(header(VirtioBlk.T_IN, sector), 16);
        for (int i = 0; i < lens.length; i++) {
            out[i] = buffer(lens[i]);
            queue.writable(out[i], lens[i]);
        }
        out[lens.length] = status();
        queue.writable(out[lens.length], 1);
        add();
        return out;
    }

    /** A write of {@code data} cut into {@code lens}; returns the status address. */
    long write(long sector, byte[] data, int... lens) throws GuestFault {
        queue.readable(header(VirtioBlk.T_OUT, sector), 16);
        int off = 0;
        for (int len : lens) {
            long b = buffer(len);
            memory.write(b, data, off, len);
            off += len;
            queue.readable(b, len);
        }
        long s = status();
        queue.writable(s, 1);
        add();
        return s;
    }

    /** A request of {@code type} with only a header and a status byte; returns the status address. */
    long simple(int type, long sector) throws GuestFault {
        queue.readable(header(type, sector), 16);
        long s = status();
        queue.writable(s, 1);
        add();
        return s;
    }

    /** DISCARD or WRITE_ZEROES of {sector, sectors, flags} triples; returns the status address. */
    long ranges(int type, long[]... segs) throws GuestFault {
        queue.readable(header(type, 0), 16);
        long p = buffer(16 * segs.length);
        for (int i = 0; i < segs.length; i++) {
            memory.writeLong(p + 16L * i, segs[i][0]);
            memory.writeInt(p + 16L * i + 8, (int) segs[i][1]);
            memory.writeInt(p + 16L * i + 12, (int) segs[i][2]);
        }
        queue.readable(p, 16 * segs.length);
        long s = status();
        queue.writable(s, 1);
        add();
        return s;
    }

    long status() throws GuestFault {
        long s = buffer(1);
        memory.writeByte(s, (byte) 0x7f);
        return s;
    }

    int status(long at) throws GuestFault {
        return memory.readByte(at) & 0xff;
    }

    /** Runs and completes every submitted request, in submission order (reversed if asked). */
    void completeAll(boolean reversed) {
        List<BlockRequest> batch = new ArrayList<>(submitted);
        submitted.clear();
        if (reversed) {
            java.util.Collections.reverse(batch);
        }
        for (BlockRequest r : batch) {
            r.execute();
            device.complete(r);
        }
        device.completionsDone();
    }

    /** Reaps every used chain: {head, len} pairs. */
    List<int[]> reap() throws GuestFault {
        List<int[]> out = new ArrayList<>();
        for (int h; (h = queue.reap()) != DriverQueue.NONE; ) {
            out.add(new int[] {h, queue.usedLen()});
        }
        return out;
    }

    static long bit(int b) {
        return 1L << b;
    }

    static final long RING = bit(Virtq.F_EVENT_IDX) | bit(Virtq.F_INDIRECT_DESC);
}
