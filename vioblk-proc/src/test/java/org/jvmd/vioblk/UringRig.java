package org.jvmd.vioblk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import org.jvmd.sys.EventFd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.blk.BlockBackend;
import org.jvmd.virtio.blk.Vioblk;
import org.jvmd.virtio.blk.VioblkLimits;
import org.jvmd.virtio.blk.VirtioBlk;

/**
 * A device core on the io_uring path as vioblk-proc sets it up, without the process: two I/O
 * threads, the ring, a driver queue in guest memory and the driver's side of a request. The
 * memory and the backend stay the test's to close; {@link #close} stops what the rig made.
 */
final class UringRig implements AutoCloseable {
    /** Opens the ring over the test's backend, with the rig's I/O threads and wake-up. */
    interface RingOpener {
        UringIo open(IoPool pool, EventFd done, StringBuilder why) throws Exception;
    }

    final MappedGuestMemory mem;
    final GuestAllocator a;
    final DriverQueue q;
    final EventFd done;
    final IoPool pool;
    final UringIo uring;
    final Vioblk v;

    /** The device over {@code backend} with a {@code queueSize} queue, every chain in an indirect table of 8. */
    UringRig(MappedGuestMemory mem, BlockBackend backend, int queueSize, String serial, RingOpener opener)
            throws Exception {
        this.mem = mem;
        done = EventFd.create(true);
        pool = new IoPool("test", done, 2);
        StringBuilder why = new StringBuilder();
        UringIo ring;
        try {
            ring = opener.open(pool, done, why);
            assertNotNull(ring, "no ring: " + why);
        } catch (Throwable t) {
            done.close();
            throw t;
        }
        uring = ring;
        a = new GuestAllocator(mem);
        long features = Vioblk.offeredFeatures(false);
        q = DriverQueue.create(mem, a, queueSize, features, 8);
        v = new Vioblk(backend, false, serial, VioblkLimits.DEFAULT, mem, uring, vector -> {}, Vioblk.Listener.NONE);
        pool.start();
        v.featuresAcked(features);
        v.queueReady(0, q.layout(), 0);
        v.driverOk();
    }

    /** Queues one request: header, data spans (each {@code spanBytes}), status; returns the status byte's address. */
    long request(int type, long sector, long[] spans, int spanBytes) throws Exception {
        long h = a.allocate(16, 16);
        mem.writeInt(h, type);
        mem.writeLong(h + 8, sector);
        q.readable(h, 16);
        for (long s : spans) {
            if (type == VirtioBlk.T_OUT) {
                q.readable(s, spanBytes);
            } else {
                q.writable(s, spanBytes);
            }
        }
        long status = a.allocate(1, 1);
        mem.writeByte(status, (byte) 0x7f);
        q.writable(status, 1);
        q.add();
        return status;
    }

    /** Kicks the device, submits, and serves completions until nothing is in flight; the driver takes its buffers back. */
    void serve() throws Exception {
        q.kick();
        v.kick();
        uring.flush();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while ((v.inFlight() > 0 || v.hasPendingWork()) && System.nanoTime() < deadline) {
            if (v.hasPendingWork()) {
                v.kick();
                uring.flush();
            }
            LibC.poll(done.fd(), LibC.POLLIN, 100);
            done.read();
            int n = pool.drain(v::complete) + uring.drain(v::complete);
            if (n > 0) {
                v.completionsDone();
            }
            uring.flush();
        }
        assertEquals(0, v.inFlight(), "requests still in flight");
        while (q.reap() != DriverQueue.NONE) {
            // the driver takes its buffers back
        }
    }

    @Override
    public void close() throws Exception {
        pool.stop();
        uring.close();
        done.close();
    }
}
