package org.jvmd.vioblk;

import java.util.HashMap;
import java.util.Map;
import org.jvmd.proto.DriverOk;
import org.jvmd.proto.FeaturesAcked;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.ToVioblk;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.blk.VirtioBlk;

/**
 * A virtio-blk driver in the test JVM, over the guest memfd a vioblk-proc maps: it plays
 * the transport's part on the channel (features, QueueReady, DriverOk), puts requests on
 * the ring, kicks through the ioeventfd and waits on the irqfd, as Linux's virtio_blk would.
 */
final class BlkGuest {
    static final int QUEUE = 128;
    static final int VECTOR = 1;
    final GuestMemory mem;
    final DriverQueue q;
    private final GuestAllocator rings;
    private final long bufBase;
    private final long bufEnd;
    private long next;
    /** head -> status address, for the requests in flight. */
    final Map<Integer, Long> status = new HashMap<>();

    BlkGuest(GuestMemory mem, long features) throws GuestFault {
        this.mem = mem;
        this.rings = new GuestAllocator(mem, 0, 1 << 20);
        this.q = DriverQueue.create(mem, rings, QUEUE, features, 64);
        this.bufBase = 1 << 20;
        this.bufEnd = mem.size();
        this.next = bufBase;
    }

    /** FeaturesAcked, QueueReady (vector 1), DriverOk: what vmm-proc's transport relays. */
    void configure(Channel ch, long features) throws java.io.IOException {
        ch.send(ToVioblk.newBuilder().setFeaturesAcked(FeaturesAcked.newBuilder().setFeatures(features)).build());
        ch.send(ToVioblk.newBuilder().setQueueReady(QueueReady.newBuilder().setQueue(0).setSize(q.size())
                .setDesc(q.layout().desc()).setDriver(q.layout().avail()).setDevice(q.layout().used())
                .setMsixVector(VECTOR)).build());
        ch.send(ToVioblk.newBuilder().setDriverOk(DriverOk.getDefaultInstance()).build());
    }

    long buffer(int len) {
        if (next + len > bufEnd) {
            next = bufBase;
        }
        long at = next;
        next += (len + 4095) & ~4095L;
        return at;
    }

    private long header(int type, long sector) throws GuestFault {
        long h = buffer(16);
        mem.writeInt(h, type);
        mem.writeInt(h + 4, 0);
        mem.writeLong(h + 8, sector);
        return h;
    }

    private int add(long statusAt) throws GuestFault {
        mem.writeByte(statusAt, (byte) 0x7f);
        q.writable(statusAt, 1);
        int head = q.add();
        if (head == DriverQueue.NONE) {
            throw new IllegalStateException("ring full");
        }
        status.put(head, statusAt);
        return head;
    }

    /** Queues a write of {@code data} at {@code sector}, cut into 4 KiB pieces; returns the head. */
    int write(long sector, byte[] data) throws GuestFault {
        q.readable(header(VirtioBlk.T_OUT, sector), 16);
        for (int off = 0; off < data.length; off += 4096) {
            int n = Math.min(4096, data.length - off);
            long b = buffer(n);
            mem.write(b, data, off, n);
            q.readable(b, n);
        }
        return add(buffer(1));
    }

    /** Queues a read of {@code len} bytes into one buffer; returns {head, buffer address}. */
    long[] read(long sector, int len) throws GuestFault {
        q.readable(header(VirtioBlk.T_IN, sector), 16);
        long b = buffer(len);
        q.writable(b, len);
        return new long[] {add(buffer(1)), b};
    }

    int simple(int type) throws GuestFault {
        q.readable(header(type, 0), 16);
        return add(buffer(1));
    }

    /** GET_ID: returns {head, id buffer}. */
    long[] getId() throws GuestFault {
        q.readable(header(VirtioBlk.T_GET_ID, 0), 16);
        long b = buffer(VirtioBlk.ID_BYTES);
        q.writable(b, VirtioBlk.ID_BYTES);
        return new long[] {add(buffer(1)), b};
    }

    /** DISCARD or WRITE_ZEROES of one range; returns the head. */
    int range(int type, long sector, int sectors, int flags) throws GuestFault {
        q.readable(header(type, 0), 16);
        long seg = buffer(16);
        mem.writeLong(seg, sector);
        mem.writeInt(seg + 8, sectors);
        mem.writeInt(seg + 12, flags);
        q.readable(seg, 16);
        return add(buffer(1));
    }

    void kick(EventFd kick) throws GuestFault, SysException {
        if (q.kick()) {
            kick.signal();
        }
    }

    /**
     * Waits until every request in flight is used; returns head -> status byte. Waits on the
     * irqfd (and looks at the ring every 100 ms anyway, so a lost interrupt fails the
     * interrupt check of the caller, not this wait).
     */
    Map<Integer, Integer> awaitAll(EventFd call, long timeoutMs) throws GuestFault, SysException {
        Map<Integer, Integer> out = new HashMap<>();
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        while (!status.isEmpty() && System.nanoTime() < deadline) {
            LibC.poll(call.fd(), LibC.POLLIN, 100);
            call.read();
            for (int h; (h = q.reap()) != DriverQueue.NONE; ) {
                Long at = status.remove(h);
                if (at == null) {
                    throw new IllegalStateException("head " + h + " used but not in flight");
                }
                out.put(h, mem.readByte(at) & 0xff);
            }
        }
        if (!status.isEmpty()) {
            throw new IllegalStateException(status.size() + " requests not used within " + timeoutMs + " ms");
        }
        return out;
    }
}
