package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several threads at once on one image, as vioblk's I/O threads are: cluster-aligned runs
 * (their data written outside the image's lock), partial writes, discards (clusters dropped
 * while other runs are in flight), reads (their data read outside the lock too) and flushes (which count dropped clusters down). Each
 * thread owns a region, so the expected content is known; afterwards the image reads as the
 * mirror and qemu-img check finds neither corruption nor leaks.
 */
class ConcurrentWritesQemuTest {
    private static final int THREADS = 4;
    private static final int REGION = 8 << 20;
    private static final int OPS = 300;

    @TempDir
    Path dir;

    @Test
    void concurrentRunsDiscardsAndFlushesKeepContentAndRefcounts() throws Exception {
        for (int clusterBits : new int[] {16, 12}) {
            Path img = dir.resolve("c" + clusterBits + ".qcow2");
            QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=" + (1 << clusterBits),
                    img.toString(), Long.toString((long) THREADS * REGION));
            byte[][] mirror = new byte[THREADS][REGION];
            try (DiskImage d = ImageFiles.openChain(img, false)) {
                ExecutorService pool = Executors.newFixedThreadPool(THREADS);
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int id = t;
                    done.add(pool.submit(() -> {
                        work(d, id, mirror[id], 1 << clusterBits);
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
                pool.shutdown();
            }
            QemuImg.check(img, false);
            try (DiskImage d = ImageFiles.openChain(img, true)) {
                for (int t = 0; t < THREADS; t++) {
                    byte[] back = new byte[REGION];
                    d.read((long) t * REGION, ByteBuffer.wrap(back));
                    assertArrayEquals(mirror[t], back, "region " + t + ", clusters of " + (1 << clusterBits));
                }
            }
        }
    }

    private static void work(DiskImage d, int id, byte[] mirror, int cluster) throws Exception {
        Random r = new Random(id * 31L + cluster);
        long base = (long) id * REGION;
        for (int i = 0; i < OPS; i++) {
            int kind = r.nextInt(12);
            if (kind < 6) {
                // a run of whole clusters (1 to 20), aligned
                int len = (1 + r.nextInt(20)) * cluster;
                int off = r.nextInt(REGION / cluster - len / cluster + 1) * cluster;
                byte[] b = new byte[len];
                r.nextBytes(b);
                d.write(base + off, ByteBuffer.wrap(b));
                System.arraycopy(b, 0, mirror, off, len);
            } else if (kind < 8) {
                int len = 1 + r.nextInt(3 * cluster);
                int off = r.nextInt(REGION - len);
                byte[] b = new byte[len];
                r.nextBytes(b);
                d.write(base + off, ByteBuffer.wrap(b));
                System.arraycopy(b, 0, mirror, off, len);
            } else if (kind < 9) {
                int len = (1 + r.nextInt(8)) * cluster;
                int off = r.nextInt(REGION / cluster - len / cluster + 1) * cluster;
                d.discard(base + off, len);
                java.util.Arrays.fill(mirror, off, off + len, (byte) 0);
            } else if (kind < 10) {
                d.flush();
            } else {
                // a read of the thread's own region, its data read outside the lock while the
                // other threads drop and allocate clusters: what this thread wrote last
                int len = 1 + r.nextInt(4 * cluster);
                int off = r.nextInt(REGION - len);
                byte[] b = new byte[len];
                d.read(base + off, ByteBuffer.wrap(b));
                assertArrayEquals(java.util.Arrays.copyOfRange(mirror, off, off + len), b,
                        "thread " + id + " read at " + off + " of " + len);
            }
        }
    }
}
