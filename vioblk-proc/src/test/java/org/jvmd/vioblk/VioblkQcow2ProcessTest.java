package org.jvmd.vioblk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.Shutdown;
import org.jvmd.proto.ToVioblk;
import org.jvmd.qcow2.QemuImg;
import org.jvmd.sys.LibC;
import org.jvmd.testkit.Dropped;
import org.jvmd.sys.proc.ChildFailedException;
import org.jvmd.sys.proc.WaitStatus;
import org.jvmd.vioblk.VioblkBench.Disk;
import org.jvmd.virtio.blk.Vioblk;
import org.jvmd.virtio.blk.VirtioBlk;

/**
 * The real vioblk-proc serving qcow2 disks over a base chain, judged by qemu-img: random
 * writes, discards and write-zeroes through the process leave an image that {@code qemu-img
 * check} accepts and that {@code qemu-img compare} finds identical to a raw image given the
 * same operations, with the base untouched; and a process SIGKILLed at random points, 50
 * times, never leaves a corrupt image nor loses data whose flush completed.
 */
class VioblkQcow2ProcessTest {
    private static final int DISK = 16 << 20;
    private static final int CLUSTER = 64 << 10;

    @AutoClose
    private VioblkBench bench;
    /** The bench's directory: images and their reference copies. */
    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        bench = new VioblkBench("vioblk-qcow2");
        dir = bench.dir;
    }

    /** Starts vioblk-proc on {@code layers} (top first) as vmd hands them: FD_DISK layer 0..n. */
    private Disk start(List<Path> layers, DiskFormat format, List<DiskFormat> baseFormats) throws Exception {
        return start(layers, format, baseFormats, List.of());
    }

    private Disk start(List<Path> layers, DiskFormat format, List<DiskFormat> baseFormats, List<String> jvm)
            throws Exception {
        return bench.start(layers, DiskConfig.newBuilder().setFormat(format).setSerial("jvmd-qcow2-0")
                .addAllBaseFormats(baseFormats), jvm);
    }

    private String log() throws IOException {
        return bench.log();
    }

    /** The guest reads the whole disk back, 1 MiB at a time, as {@code want} has it. */
    private void assertReadsAs(BlkGuest g, Disk d, byte[] want) throws Exception {
        for (int at = 0; at < DISK; at += 1 << 20) {
            long[] r = g.read(at / 512, 1 << 20);
            g.kick(d.kick);
            assertEquals(VirtioBlk.S_OK, g.awaitAll(d.call, 30_000).get((int) r[0]), log());
            byte[] back = new byte[1 << 20];
            d.mem.read(r[1], back, 0, back.length);
            assertArrayEquals(Arrays.copyOfRange(want, at, at + back.length), back, "MiB at " + at);
        }
    }

    private static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    /** A file of {@code size} bytes, random data in a third of its 64 KiB clusters, holes elsewhere. */
    private static Path randomRaw(Path p, int size, Random rnd) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            byte[] b = new byte[CLUSTER];
            for (int c = 0; c < size / CLUSTER; c++) {
                if (rnd.nextInt(3) == 0) {
                    rnd.nextBytes(b);
                    ch.write(ByteBuffer.wrap(b), (long) c * CLUSTER);
                }
            }
            ch.truncate(size);
            if (ch.size() < size) {
                ch.write(ByteBuffer.allocate(1), size - 1);
            }
        }
        return p;
    }

    /** The same operations on the raw reference file. */
    private static void apply(FileChannel ref, long offset, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            ref.write(b, offset + b.position());
        }
    }

    /** The io_uring data path (the default), as the log at start and exit confirms. */
    private static final List<String> RING = List.of("-Djvmd.vioblk.io=uring");
    /** The fallback: the qcow2 library's read/write on the I/O threads. */
    private static final List<String> THREADS = List.of("-Djvmd.vioblk.io=threads");

    @Test
    void randomOperationsOverAQcow2BaseMatchARawImageAndLeaveTheBaseAlone() throws Exception {
        randomOperations(DiskFormat.FORMAT_QCOW2, 1, false, RING);
    }

    @Test
    void randomOperationsOverARawBaseMatchARawImageAndLeaveTheBaseAlone() throws Exception {
        randomOperations(DiskFormat.FORMAT_RAW, 2, false, RING);
    }

    @Test
    void randomOperationsOnTheIoThreadsMatchARawImage() throws Exception {
        randomOperations(DiskFormat.FORMAT_QCOW2, 3, false, THREADS);
    }

    /** top.qcow2 over mid.qcow2 (written in places by qemu-io) over base.raw: every layer a fixed file of the ring. */
    @Test
    void randomOperationsThroughAThreeDeepChainOnTheRingMatchARawImage() throws Exception {
        randomOperations(DiskFormat.FORMAT_RAW, 4, true, RING);
    }

    @Test
    void randomOperationsThroughAThreeDeepChainOnTheIoThreadsMatchARawImage() throws Exception {
        randomOperations(DiskFormat.FORMAT_RAW, 5, true, THREADS);
    }

    /** Started ahead of its init, warmed up and waiting (DeviceMain): it serves as one given its init at once. */
    @Test
    void randomOperationsOnAProcessStartedAheadOfItsInitMatchARawImage() throws Exception {
        bench.ahead = true;
        randomOperations(DiskFormat.FORMAT_QCOW2, 6, false, RING);
        assertTrue(log().contains("vioblk: debug: warmed up ahead of init in "), log());
    }

    private void randomOperations(DiskFormat baseFormat, long seed, boolean threeDeep, List<String> jvm)
            throws Exception {
        Random rnd = new Random(seed);
        Path baseRaw = randomRaw(dir.resolve("base.raw"), DISK, rnd);
        Path base = baseRaw;
        if (baseFormat == DiskFormat.FORMAT_QCOW2) {
            base = dir.resolve("base.qcow2");
            QemuImg.ok("qemu-img", "convert", "-O", "qcow2", baseRaw.toString(), base.toString());
        }
        String fmt = baseFormat == DiskFormat.FORMAT_QCOW2 ? "qcow2" : "raw";
        List<Path> layers = new ArrayList<>();
        List<DiskFormat> baseFormats = new ArrayList<>();
        Path below = base;
        if (threeDeep) {
            Path mid = dir.resolve("mid.qcow2");
            QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=16k", "-b",
                    base.getFileName().toString(), "-F", fmt, mid.toString());
            QemuImg.ok("qemu-io", "-c", "write -P 0x5a 1M 300k", "-c", "write -P 0xa5 5000k 64k", "-c",
                    "write -z 9M 128k", mid.toString());
            baseFormats.add(DiskFormat.FORMAT_QCOW2);
            below = mid;
            fmt = "qcow2";
        }
        baseFormats.add(baseFormat);
        Path top = dir.resolve("top.qcow2");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", below.getFileName().toString(), "-F", fmt,
                top.toString());
        layers.add(top);
        if (threeDeep) {
            layers.add(below);
        }
        layers.add(base);
        Path ref = dir.resolve("ref.raw");
        QemuImg.ok("qemu-img", "convert", "-O", "raw", top.toString(), ref.toString());   // the chain as qemu reads it
        List<String> baseSums = new ArrayList<>();
        for (Path p : layers.subList(1, layers.size())) {
            baseSums.add(sha256(p));
        }

        try (Disk d = start(layers, DiskFormat.FORMAT_QCOW2, baseFormats, jvm);
             FileChannel refCh = FileChannel.open(ref, StandardOpenOption.WRITE)) {
            boolean ring = jvm.equals(RING);
            assertTrue(log().contains(ring ? "data path io_uring (confined ring, 128 entries, IOSQE_ASYNC, "
                    + layers.size() + " fixed files; qcow2" : "data path 8 I/O threads"), log());
            // the whole chain read first: data clusters of every layer, zeros, unallocated runs
            long features = Vioblk.offeredFeatures(false);
            BlkGuest guest = new BlkGuest(d.mem, features);
            guest.configure(d.child.channel(), features);
            assertReadsAs(guest, d, Files.readAllBytes(ref));
            assertEquals(DISK / 512, d.ready.getCapacitySectors());
            BlkGuest g = guest;
            for (int batch = 0; batch < 12; batch++) {
                List<long[]> busy = new ArrayList<>();   // [start, end) bytes of the requests in flight
                for (int i = 0; i < 24; i++) {
                    int kind = rnd.nextInt(10);
                    long off;
                    int len;
                    if (kind < 6) {   // a write of 512 B .. 128 KiB at any sector: partial clusters over the base
                        len = 512 * (1 + rnd.nextInt(256));
                        off = 512L * rnd.nextInt((DISK - len) / 512 + 1);
                    } else if (kind < 8) {   // write-zeroes of any sector range
                        len = 512 * (1 + rnd.nextInt(512));
                        off = 512L * rnd.nextInt((DISK - len) / 512 + 1);
                    } else {   // discard of whole clusters (a qcow2 v3 over a base: zero clusters)
                        len = CLUSTER * (1 + rnd.nextInt(4));
                        off = (long) CLUSTER * rnd.nextInt((DISK - len) / CLUSTER + 1);
                    }
                    long o = off;
                    long e = off + len;
                    if (busy.stream().anyMatch(r -> o < r[1] && r[0] < e)) {
                        continue;   // overlapping requests in flight have no defined order
                    }
                    busy.add(new long[] {off, e});
                    if (kind < 6) {
                        byte[] data = new byte[len];
                        rnd.nextBytes(data);
                        g.write(off / 512, data);
                        apply(refCh, off, data);
                    } else {
                        g.range(kind < 8 ? VirtioBlk.T_WRITE_ZEROES : VirtioBlk.T_DISCARD, off / 512, len / 512, 0);
                        apply(refCh, off, new byte[len]);
                    }
                }
                g.kick(d.kick);
                Map<Integer, Integer> st = g.awaitAll(d.call, 30_000);
                assertTrue(st.values().stream().allMatch(s -> s == VirtioBlk.S_OK), st + "\n" + log());
            }
            int flush = g.simple(VirtioBlk.T_FLUSH);
            g.kick(d.kick);
            assertEquals(VirtioBlk.S_OK, g.awaitAll(d.call, 30_000).get(flush));

            assertReadsAs(g, d, Files.readAllBytes(ref));
            Dropped.assertDropped(d.child.pid(), "_vmd", bench.empty.toRealPath());

            d.child.channel().send(ToVioblk.newBuilder().setShutdown(Shutdown.getDefaultInstance()).build());
            WaitStatus w = d.child.waitFor(20_000);
            assertNotNull(w, "vioblk did not exit on Shutdown");
            assertEquals(0, w.exitCode(), log());
            if (ring) {
                // reads and rewrites of allocated clusters went to the ring; allocations to the library
                java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                        "io_uring: (\\d+) reads/writes on the ring, (\\d+) through the qcow2 library").matcher(log());
                assertTrue(m.find(), log());
                assertTrue(Long.parseLong(m.group(1)) > 0 && Long.parseLong(m.group(2)) > 0, m.group());
            }
        }
        String check = QemuImg.check(top, false);
        assertTrue(check.contains("No errors were found"), check);
        QemuImg.Run cmp = QemuImg.run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", top.toString(), ref.toString());
        assertEquals(0, cmp.status(), cmp.out());
        assertTrue(cmp.out().contains("Images are identical"), cmp.out());
        for (int l = 1; l < layers.size(); l++) {
            assertEquals(baseSums.get(l - 1), sha256(layers.get(l)), "base " + l + " is unchanged");
        }
    }

    /**
     * 50 kills (jvmd.test.crashRounds), as two sequences on two images side by side: a JVM
     * start-up per kill is this test's cost, and two start at once where two cores are free.
     */
    @Test
    void aProcessKilledAtRandomPointsNeverCorruptsTheImageNorLosesFlushedData() throws Exception {
        int rounds = Integer.getInteger("jvmd.test.crashRounds", 50);
        long seed = Long.getLong("jvmd.test.crashSeed", 7);
        long started = System.nanoTime();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            List<java.util.concurrent.Future<Long>> runs = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Path sub = Files.createDirectory(dir.resolve("crash" + i));
                int n = rounds / 2 + (i == 0 ? rounds % 2 : 0);
                long s = seed + i;
                runs.add(pool.submit(() -> crashSequence(sub, n, s)));
            }
            long starting = 0;
            for (java.util.concurrent.Future<Long> f : runs) {
                try {
                    starting += f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof Error err) {
                        throw err;
                    }
                    throw (Exception) e.getCause();
                }
            }
            System.out.printf("crash test: %d kills in %.1f s (%.1f s of the two sequences' time starting vioblk-proc)%n",
                    rounds, (System.nanoTime() - started) / 1e9, starting / 1e9);
        } finally {
            pool.shutdownNow();
        }
    }

    /** {@code rounds} kills of vioblk-proc serving a qcow2 image over a raw base in {@code dir}; the nanoseconds spent starting it. */
    private long crashSequence(Path dir, int rounds, long seed) throws Exception {
        int size = 8 << 20;
        Random rnd = new Random(seed);
        Path base = randomRaw(dir.resolve("base.raw"), size, rnd);
        Path top = dir.resolve("top.qcow2");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", top.toString());
        String baseSum = sha256(base);
        byte[] model = Files.readAllBytes(base);   // what each flushed block holds
        BitSet unsure = new BitSet();               // 4 KiB blocks an unflushed request touched
        long features = Vioblk.offeredFeatures(false);
        long starting = 0;
        for (int round = 0; round < rounds; round++) {
            long t0 = System.nanoTime();
            // C1 only: 50 JVM start-ups are the cost of this test; what is tested is the image, not the JIT
            try (Disk d = start(List.of(top, base), DiskFormat.FORMAT_QCOW2, List.of(DiskFormat.FORMAT_RAW),
                    List.of("-XX:TieredStopAtLevel=1"))) {
                starting += System.nanoTime() - t0;
                BlkGuest g = new BlkGuest(d.mem, features);
                g.configure(d.child.channel(), features);
                // 1. Everything flushed before any earlier kill reads back.
                for (int at = 0; at < size; at += 1 << 20) {
                    long[] r = g.read(at / 512, 1 << 20);
                    g.kick(d.kick);
                    assertEquals(VirtioBlk.S_OK, g.awaitAll(d.call, 30_000).get((int) r[0]), log());
                    byte[] back = new byte[1 << 20];
                    d.mem.read(r[1], back, 0, back.length);
                    for (int b = 0; b < back.length; b += 4096) {
                        int block = (at + b) / 4096;
                        if (!unsure.get(block)) {
                            assertArrayEquals(Arrays.copyOfRange(model, at + b, at + b + 4096),
                                    Arrays.copyOfRange(back, b, b + 4096),
                                    "round " + round + ": flushed block " + block + " lost");
                        }
                    }
                }
                // 2. Writes, completed, then a completed flush: now they must survive.
                List<long[]> busy = new ArrayList<>();
                List<byte[]> datas = new ArrayList<>();
                for (int i = 0; i < 12; i++) {
                    int blocks = 1 + rnd.nextInt(8);
                    long off = 4096L * rnd.nextInt(size / 4096 - blocks + 1);
                    long end = off + blocks * 4096L;
                    if (busy.stream().anyMatch(r -> off < r[1] && r[0] < end)) {
                        continue;
                    }
                    byte[] data = new byte[blocks * 4096];
                    rnd.nextBytes(data);
                    busy.add(new long[] {off, end});
                    datas.add(data);
                    g.write(off / 512, data);
                }
                g.kick(d.kick);
                assertTrue(g.awaitAll(d.call, 30_000).values().stream().allMatch(s -> s == VirtioBlk.S_OK), log());
                int flush = g.simple(VirtioBlk.T_FLUSH);
                g.kick(d.kick);
                assertEquals(VirtioBlk.S_OK, g.awaitAll(d.call, 30_000).get(flush));
                for (int i = 0; i < busy.size(); i++) {
                    int off = (int) busy.get(i)[0];
                    System.arraycopy(datas.get(i), 0, model, off, datas.get(i).length);
                    unsure.clear(off / 4096, (int) (busy.get(i)[1] / 4096));
                }
                // 3. Writes, write-zeroes and discards in flight, and the kill at a random point.
                for (int i = 0; i < 48; i++) {
                    int kind = rnd.nextInt(8);
                    int len = kind < 6 ? 4096 * (1 + rnd.nextInt(16)) : CLUSTER * (1 + rnd.nextInt(2));
                    long off = kind < 6 ? 4096L * rnd.nextInt((size - len) / 4096 + 1)
                            : (long) CLUSTER * rnd.nextInt((size - len) / CLUSTER + 1);
                    if (kind < 6) {
                        byte[] data = new byte[len];
                        rnd.nextBytes(data);
                        g.write(off / 512, data);
                    } else {
                        g.range(kind == 6 ? VirtioBlk.T_DISCARD : VirtioBlk.T_WRITE_ZEROES, off / 512, len / 512, 0);
                    }
                    unsure.set((int) (off / 4096), (int) ((off + len) / 4096));
                }
                g.kick(d.kick);
                long spin = System.nanoTime() + rnd.nextInt(40_000) * 1000L;   // 0 .. 40 ms
                while (System.nanoTime() < spin) {
                    Thread.onSpinWait();
                }
                d.child.signal(LibC.SIGKILL);
                WaitStatus w = d.child.waitFor(10_000);
                assertNotNull(w, "round " + round + ": not dead");
            }
            // 4. The outside judge: leaked clusters at most, never corruption.
            QemuImg.check(top, true);
        }
        assertEquals(baseSum, sha256(base), "the base is unchanged");
        byte[] raw = QemuImg.toRaw(top, dir);
        for (int block = 0; block < size / 4096; block++) {
            if (!unsure.get(block)) {
                assertArrayEquals(Arrays.copyOfRange(model, block * 4096, block * 4096 + 4096),
                        Arrays.copyOfRange(raw, block * 4096, block * 4096 + 4096), "block " + block);
            }
        }
        return starting;
    }

    @Test
    void aCompressedImageReadsBackAsQemuConvertedItAfterTheDrop() throws Exception {
        // compressible data: each 64 KiB cluster a 64-byte random pattern repeated, one in four left zero
        Random rnd = new Random(4);
        byte[] data = new byte[DISK];
        byte[] pattern = new byte[64];
        for (int c = 0; c < DISK / CLUSTER; c++) {
            if (rnd.nextInt(4) != 0) {
                rnd.nextBytes(pattern);
                for (int at = c * CLUSTER; at < (c + 1) * CLUSTER; at += pattern.length) {
                    System.arraycopy(pattern, 0, data, at, pattern.length);
                }
            }
        }
        Path raw = Files.write(dir.resolve("data.raw"), data);
        Path comp = dir.resolve("comp.qcow2");
        QemuImg.ok("qemu-img", "convert", "-c", "-O", "qcow2", raw.toString(), comp.toString());
        String check = QemuImg.check(comp, false);
        assertTrue(!check.contains(" 0.00% compressed clusters"), check);
        try (Disk d = start(List.of(comp), DiskFormat.FORMAT_QCOW2, List.of())) {
            long features = Vioblk.offeredFeatures(false);
            BlkGuest g = new BlkGuest(d.mem, features);
            g.configure(d.child.channel(), features);
            assertReadsAs(g, d, Files.readAllBytes(raw));
        }
    }

    @Test
    void aBrokenChainFailsTheStartWithTheLibrarysMessage() throws Exception {
        Path base = randomRaw(dir.resolve("base.raw"), DISK, new Random(3));
        Path top = dir.resolve("top.qcow2");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", top.toString());
        ChildFailedException e = assertThrows(ChildFailedException.class,
                () -> start(List.of(top), DiskFormat.FORMAT_QCOW2, List.of()));
        assertTrue(e.getMessage().contains("disk 0 (" + top + "): " + top + ": missing base image 'base.raw'"),
                e.getMessage());
    }
}
