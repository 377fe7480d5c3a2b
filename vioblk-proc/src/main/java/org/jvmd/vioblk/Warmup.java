package org.jvmd.vioblk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.jvmd.qcow2.DiskImage;
import org.jvmd.qcow2.ImageFile;
import org.jvmd.qcow2.ImageFormat;
import org.jvmd.qcow2.Layer;
import org.jvmd.qcow2.Mapping;
import org.jvmd.qcow2.Qcow2Create;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.HeapGuestMemory;
import org.jvmd.virtio.blk.MemoryBackend;
import org.jvmd.virtio.blk.Vioblk;
import org.jvmd.virtio.blk.VioblkLimits;
import org.jvmd.virtio.blk.VirtioBlk;

/**
 * Runs every request type through a device core, the I/O threads' hand-off and the
 * completion eventfd, on heap memory with an in-memory image, before the privilege drop:
 * every class the data path loads is loaded while class files can still be read.
 */
final class Warmup {
    private Warmup() {}

    static void run() {
        try (EventFd done = EventFd.create(true)) {
            HeapGuestMemory mem = new HeapGuestMemory(1 << 20);
            GuestAllocator a = new GuestAllocator(mem);
            long features = Vioblk.offeredFeatures(false);
            DriverQueue q = DriverQueue.create(mem, a, 16, features, 4);
            IoPool pool = new IoPool("warm-up", done, 1);
            int[] irqs = new int[1];
            Vioblk v = new Vioblk(new MemoryBackend(mem, 64 * 1024), false, "warm-up", VioblkLimits.DEFAULT, mem,
                    pool::submit, vector -> irqs[0]++, Vioblk.Listener.NONE);
            pool.start();
            v.featuresAcked(features);
            v.queueReady(0, q.layout(), 0);
            v.driverOk();
            long data = a.allocate(4096, 64);
            int[] types = {VirtioBlk.T_OUT, VirtioBlk.T_IN, VirtioBlk.T_FLUSH, VirtioBlk.T_GET_ID,
                VirtioBlk.T_DISCARD, VirtioBlk.T_WRITE_ZEROES, 77};
            for (int round = 0; round < 20; round++) {
                for (int t : types) {
                    long h = a.allocate(16, 16);
                    mem.writeInt(h, t);
                    mem.writeLong(h + 8, round);
                    q.readable(h, 16);
                    if (t == VirtioBlk.T_OUT) {
                        q.readable(data, 2048).readable(data + 2048, 2048);
                    } else if (t == VirtioBlk.T_IN || t == VirtioBlk.T_GET_ID) {
                        q.writable(data, t == VirtioBlk.T_IN ? 4096 : VirtioBlk.ID_BYTES);
                    } else if (t == VirtioBlk.T_DISCARD || t == VirtioBlk.T_WRITE_ZEROES) {
                        long seg = a.allocate(16, 16);
                        mem.writeLong(seg, round);
                        mem.writeInt(seg + 8, 1);
                        q.readable(seg, 16);
                    }
                    q.writable(a.allocate(1, 1), 1);
                    q.add();
                    q.kick();
                    v.kick();
                    while (v.inFlight() > 0) {
                        LibC.poll(done.fd(), LibC.POLLIN, 1000);
                        done.read();
                        if (pool.drain(v::complete) > 0) {
                            v.completionsDone();
                        }
                    }
                    while (q.reap() != DriverQueue.NONE) {
                        // the driver takes its buffers back
                    }
                }
                a.reset();
                q = DriverQueue.create(mem, a, 16, features, 4);
                v.reset();
                v.featuresAcked(features);
                v.queueReady(0, q.layout(), 0);
                v.driverOk();
                data = a.allocate(4096, 64);
            }
            VioblkLoop.stats(v, 0);
            pool.stop();
        } catch (GuestFault | SysException e) {
            throw new IllegalStateException("warm-up: " + e.getMessage(), e);
        }
    }

    /**
     * The qcow2 path on heap files: a v3 image over a raw base, then a v2 image over it,
     * written, read, discarded, zeroed and flushed (direct buffers, as guest memory views are),
     * so that the library's classes and paths are loaded and compiled before the drop.
     */
    static void qcow2() {
        // compressed clusters are inflated after the drop: libzip and Inflater's natives now
        java.util.zip.Inflater inflater = new java.util.zip.Inflater();
        inflater.end();
        try {
            int size = 1 << 20;
            HeapFile base = new HeapFile("warm-up base");
            base.write(ByteBuffer.allocate(size), 0);
            HeapFile mid = new HeapFile("warm-up mid");
            Qcow2Create.create(mid, size, "base", ImageFormat.RAW,
                    new Qcow2Create.Options(2, 12, 4));
            HeapFile top = new HeapFile("warm-up top");
            Qcow2Create.create(top, size, "mid", ImageFormat.QCOW2);
            try (DiskImage d = DiskImage.open(List.of(new Layer(top, ImageFormat.QCOW2),
                    new Layer(mid, ImageFormat.QCOW2), new Layer(base, ImageFormat.RAW)), false)) {
                ByteBuffer b = ByteBuffer.allocateDirect(8192);
                for (int round = 0; round < 50; round++) {
                    long at = (round * 12_288L) % (size - 8192);
                    d.write(at, b.clear());
                    d.read(at + 512, b.clear().limit(4096));
                    // the io_uring path's mappings (a pinned one of written clusters, one through the chain)
                    try (Mapping m = d.map(at, 8192, true)) {
                        m.complete();
                    }
                    try (Mapping m = d.map(at, 65536, false)) {
                        m.extents();
                    }
                    d.discard(at, 65536);
                    d.writeZeroes(at + 4096, 512);
                    if (round % 10 == 0) {
                        d.flush();
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("qcow2 warm-up: " + e.getMessage(), e);
        }
    }

    /** A growing in-memory file for the warm-up. */
    private static final class HeapFile implements ImageFile {
        private final String name;
        private byte[] data = new byte[0];

        HeapFile(String name) {
            this.name = name;
        }

        @Override
        public synchronized int read(ByteBuffer dst, long position) {
            if (position >= data.length) {
                return -1;
            }
            int n = (int) Math.min(dst.remaining(), data.length - position);
            dst.put(data, (int) position, n);
            return n;
        }

        @Override
        public synchronized int write(ByteBuffer src, long position) {
            int n = src.remaining();
            if (position + n > data.length) {
                data = Arrays.copyOf(data, (int) (position + n));
            }
            src.get(data, (int) position, n);
            return n;
        }

        @Override
        public synchronized long size() {
            return data.length;
        }

        @Override
        public synchronized void setSize(long size) {
            data = Arrays.copyOf(data, (int) size);
        }

        @Override
        public void flush() {}

        @Override
        public String name() {
            return name;
        }

        @Override
        public void close() {}
    }
}
