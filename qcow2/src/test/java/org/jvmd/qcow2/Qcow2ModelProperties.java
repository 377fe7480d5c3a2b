package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random operation sequences on a qcow2 image (v2/v3, small and default clusters, every
 * refcount width, no base / raw base / qcow2 base, a tiny L2 cache) against an in-memory model
 * of the disk; reopening in between; qemu-img check judges the final image.
 */
class Qcow2ModelProperties {
    static final long SIZE = 300 * 1024 + 512;

    enum BaseKind { NONE, RAW, QCOW2 }

    record Config(int version, int clusterBits, int refcountOrder, BaseKind base, long baseSize) {
    }

    enum OpKind { WRITE, ZEROES, DISCARD, FLUSH, REOPEN }

    record Op(OpKind kind, double where, int len, int seed, boolean aligned) {
    }

    @Provide
    Arbitrary<Config> configs() {
        return Combinators.combine(Arbitraries.of(2, 3), Arbitraries.of(9, 10, 12, 16), Arbitraries.integers().between(0, 6),
                Arbitraries.of(BaseKind.values()), Arbitraries.longs().between(1, SIZE))
                .as((v, cb, ro, b, bs) -> new Config(v, cb, v == 2 ? 4 : ro, b, bs));
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(
                Arbitraries.frequencyOf(
                        net.jqwik.api.Tuple.of(10, Arbitraries.just(OpKind.WRITE)),
                        net.jqwik.api.Tuple.of(3, Arbitraries.just(OpKind.ZEROES)),
                        net.jqwik.api.Tuple.of(3, Arbitraries.just(OpKind.DISCARD)),
                        net.jqwik.api.Tuple.of(2, Arbitraries.just(OpKind.FLUSH)),
                        net.jqwik.api.Tuple.of(1, Arbitraries.just(OpKind.REOPEN))),
                Arbitraries.doubles().between(0, 1), Arbitraries.integers().between(1, 140_000),
                Arbitraries.integers(), Arbitraries.of(true, false))
                .as(Op::new);
        return op.list().ofMinSize(1).ofMaxSize(40);
    }

    /** The disk and its base, all in memory. */
    static final class Disk {
        final Config c;
        final MemImageFile top = new MemImageFile();
        MemImageFile base;
        DiskImage img;

        Disk(Config c, byte[] model) throws Exception {
            this.c = c;
            String backing = null;
            ImageFormat bf = null;
            if (c.base() != BaseKind.NONE) {
                byte[] content = new byte[(int) c.baseSize()];
                new Random(c.baseSize()).nextBytes(content);
                System.arraycopy(content, 0, model, 0, content.length);
                if (c.base() == BaseKind.RAW) {
                    base = new MemImageFile(content);
                } else {
                    base = new MemImageFile();
                    Qcow2Create.create(base, c.baseSize(), null, null, new Qcow2Create.Options(3, 12, 4));
                    try (DiskImage b = Qcow2Image.open(base, List.of(), false)) {
                        b.write(0, ByteBuffer.wrap(content));
                    }
                }
                backing = "base.img";
                bf = c.base() == BaseKind.RAW ? ImageFormat.RAW : ImageFormat.QCOW2;
            }
            Qcow2Create.create(top, SIZE, backing, bf, new Qcow2Create.Options(c.version(), c.clusterBits(),
                    c.refcountOrder()));
            open(false);
        }

        void open(boolean readOnly) throws Exception {
            List<Layer> bases = base == null ? List.of()
                    : List.of(new Layer(base, c.base() == BaseKind.RAW ? ImageFormat.RAW : ImageFormat.QCOW2));
            img = Qcow2Image.open(top, bases, readOnly, 0); // the smallest L2 cache: 4 tables
        }
    }

    @Property(tries = 120)
    void randomOperationsMatchTheModel(@ForAll("configs") Config c, @ForAll("ops") List<Op> ops) throws Exception {
        byte[] model = new byte[(int) SIZE];
        Disk d = new Disk(c, model);
        int g = d.img.discardGranularity();
        for (Op op : ops) {
            long off = (long) (op.where() * SIZE);
            long len = Math.min(SIZE - off, op.len());
            if (op.aligned()) {
                off &= ~(g - 1L);
                len = Math.min(SIZE - off, (len + g - 1) / g * g);
            }
            switch (op.kind()) {
                case WRITE -> {
                    byte[] b = new byte[(int) len];
                    new Random(op.seed()).nextBytes(b);
                    d.img.write(off, ByteBuffer.wrap(b));
                    System.arraycopy(b, 0, model, (int) off, (int) len);
                }
                case ZEROES -> {
                    d.img.writeZeroes(off, len);
                    Arrays.fill(model, (int) off, (int) (off + len), (byte) 0);
                }
                case DISCARD -> {
                    long[] z = RandomOpsQemuTest.discardedRange(d.img, off, len);
                    d.img.discard(off, len);
                    if (z != null) {
                        Arrays.fill(model, (int) z[0], (int) (z[0] + z[1]), (byte) 0);
                    }
                }
                case FLUSH -> d.img.flush();
                case REOPEN -> {
                    d.img.close();
                    d.open(false);
                }
            }
            byte[] probe = new byte[(int) Math.min(SIZE - off, len + 1000)];
            d.img.read(off, ByteBuffer.wrap(probe));
            assertArrayEquals(Arrays.copyOfRange(model, (int) off, (int) off + probe.length), probe, "after " + op);
        }
        assertArrayEquals(model, ImageFiles.readAll(d.img));
        d.img.close();
        d.open(true);
        assertArrayEquals(model, ImageFiles.readAll(d.img), "after reopening");
        d.img.close();
        judge(d);
    }

    /** qemu-img check on the image as written (its base beside it under the name it stores). */
    static void judge(Disk d) throws Exception {
        Path dir = Files.createTempDirectory("qcow2model");
        try {
            Path top = dir.resolve("top.qcow2");
            Files.write(top, d.top.bytes());
            if (d.base != null) {
                Files.write(dir.resolve("base.img"), d.base.bytes());
            }
            QemuImg.check(top, false);
        } finally {
            try (var s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    @Property(tries = 30)
    void concurrentCallersSeeTheirOwnWrites(@ForAll("configs") Config c) throws Exception {
        byte[] model = new byte[(int) SIZE];
        Disk d = new Disk(c, model);
        int threads = 4;
        long slice = SIZE / threads;
        List<Thread> ts = new ArrayList<>();
        List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int t = 0; t < threads; t++) {
            long base = t * slice;
            int seed = t;
            ts.add(Thread.ofPlatform().start(() -> {
                try {
                    Random r = new Random(seed);
                    for (int i = 0; i < 30; i++) {
                        long off = base + r.nextInt((int) slice - 5000);
                        byte[] b = new byte[1 + r.nextInt(5000)];
                        r.nextBytes(b);
                        d.img.write(off, ByteBuffer.wrap(b));
                        byte[] back = new byte[b.length];
                        d.img.read(off, ByteBuffer.wrap(back));
                        assertArrayEquals(b, back);
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            }));
        }
        for (Thread t : ts) {
            t.join();
        }
        if (!errors.isEmpty()) {
            throw new AssertionError(errors.get(0));
        }
        d.img.close();
        judge(d);
    }
}
