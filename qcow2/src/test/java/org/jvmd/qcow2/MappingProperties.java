package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * {@link DiskImage#map} against the in-memory model of {@link Qcow2ModelProperties}: random
 * operation sequences on a qcow2 image over a chain of 0 to 3 bases (the bottom raw or
 * qcow2, possibly shorter than the disk), where reading each mapping's extents from the
 * layers' files (and zeros, and the image's own read for a Sync rest) gives the model's
 * bytes, and writing through a write mapping (data extents into layer 0's file, the Sync
 * rest through the image) changes the disk as the model says. And the pin: a cluster
 * dropped while a mapping of it is open is not handed out again before the mapping closes.
 */
class MappingProperties {
    static final long SIZE = 200 * 1024 + 512;

    record Config(int version, int clusterBits, int depth, boolean rawBottom, long bottomSize, int seed) {}

    enum OpKind { WRITE, MAPPED_WRITE, ZEROES, DISCARD, FLUSH, REOPEN }

    record Op(OpKind kind, double where, int len, int seed, boolean aligned) {}

    @Provide
    Arbitrary<Config> configs() {
        return Combinators.combine(Arbitraries.of(2, 3), Arbitraries.of(9, 12, 16), Arbitraries.integers().between(0, 3),
                Arbitraries.of(true, false), Arbitraries.longs().between(1, SIZE), Arbitraries.integers())
                .as(Config::new);
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(
                Arbitraries.frequencyOf(
                        Tuple.of(6, Arbitraries.just(OpKind.WRITE)),
                        Tuple.of(8, Arbitraries.just(OpKind.MAPPED_WRITE)),
                        Tuple.of(2, Arbitraries.just(OpKind.ZEROES)),
                        Tuple.of(2, Arbitraries.just(OpKind.DISCARD)),
                        Tuple.of(1, Arbitraries.just(OpKind.FLUSH)),
                        Tuple.of(1, Arbitraries.just(OpKind.REOPEN))),
                Arbitraries.doubles().between(0, 1), Arbitraries.integers().between(1, 100_000),
                Arbitraries.integers(), Arbitraries.of(true, false))
                .as(Op::new);
        return op.list().ofMinSize(1).ofMaxSize(30);
    }

    /** A disk over its chain, all in memory: files.get(n) is layer n. */
    static final class Chain {
        final Config c;
        final List<MemImageFile> files = new ArrayList<>();
        final List<ImageFormat> formats = new ArrayList<>();
        DiskImage img;

        Chain(Config c, byte[] model) throws Exception {
            this.c = c;
            Random r = new Random(c.seed());
            for (int l = 0; l <= c.depth(); l++) {
                files.add(new MemImageFile());
                formats.add(l == c.depth() && c.depth() > 0 && c.rawBottom() ? ImageFormat.RAW : ImageFormat.QCOW2);
            }
            // bottom up: each layer made over the ones below it and written a little
            for (int l = c.depth(); l >= 0; l--) {
                long size = l == c.depth() && c.depth() > 0 ? c.bottomSize() : SIZE;
                if (formats.get(l) == ImageFormat.RAW) {
                    byte[] content = new byte[(int) size];
                    r.nextBytes(content);
                    files.get(l).write(ByteBuffer.wrap(content), 0);
                    System.arraycopy(content, 0, model, 0, content.length);
                    continue;
                }
                boolean hasBase = l < c.depth();
                Qcow2Create.create(files.get(l), size, hasBase ? "layer" + (l + 1) : null,
                        hasBase ? formats.get(l + 1) : null,
                        new Qcow2Create.Options(c.version(), c.clusterBits(), 4));
                if (l == 0) {
                    break;
                }
                try (DiskImage d = open(l, false)) {
                    for (int i = 0; i < 4; i++) {
                        long off = (long) (r.nextDouble() * size);
                        byte[] b = new byte[(int) Math.min(size - off, 1 + r.nextInt(30_000))];
                        r.nextBytes(b);
                        d.write(off, ByteBuffer.wrap(b));
                        System.arraycopy(b, 0, model, (int) off, b.length);
                    }
                }
            }
            img = open(0, false);
        }

        /** Layer l over the layers below it. */
        DiskImage open(int l, boolean readOnly) throws Exception {
            List<Layer> ls = new ArrayList<>();
            for (int i = l; i < files.size(); i++) {
                ls.add(new Layer(files.get(i), formats.get(i)));
            }
            return DiskImage.open(ls, readOnly);
        }

        void reopen() throws Exception {
            img.close();
            for (MemImageFile f : files) {
                f.closed = false;
            }
            img = open(0, false);
        }
    }

    /** Reads [off, off+len) through a read mapping: data from the layers' files, zeros, the image for a Sync rest. */
    static byte[] mappedRead(Chain ch, long off, int len) throws Exception {
        byte[] out = new byte[len];
        try (Mapping m = ch.img.map(off, len, false)) {
            long at = 0;
            List<Extent> xs = m.extents();
            for (int i = 0; i < xs.size(); i++) {
                Extent x = xs.get(i);
                assertTrue(x.length() > 0, "empty extent in " + xs);
                ByteBuffer b = ByteBuffer.wrap(out, (int) at, (int) x.length());
                switch (x) {
                    case Extent.Data d -> ch.files.get(d.layer()).readOrZero(b, d.position());
                    case Extent.Zero z -> assertTrue(z.length() > 0);
                    case Extent.Sync s -> {
                        assertEquals(xs.size() - 1, i, "Sync is the last extent: " + xs);
                        ch.img.read(off + at, b);
                    }
                }
                at += x.length();
            }
            assertEquals(len, at, "the extents cover the range: " + xs);
            // no compressed clusters here and no other caller: every read maps whole
            assertTrue(m.complete(), "a read of plain clusters maps whole: " + xs);
        }
        return out;
    }

    /** Writes b at off through a write mapping: data extents into layer 0's file, a Sync rest through the image. */
    static void mappedWrite(Chain ch, long off, byte[] b) throws Exception {
        try (Mapping m = ch.img.map(off, b.length, true)) {
            long at = 0;
            List<Extent> xs = m.extents();
            for (int i = 0; i < xs.size(); i++) {
                Extent x = xs.get(i);
                ByteBuffer src = ByteBuffer.wrap(b, (int) at, (int) x.length());
                switch (x) {
                    case Extent.Data d -> {
                        assertEquals(0, d.layer(), "a write goes to the disk's own image: " + xs);
                        ch.files.get(0).writeFully(src, d.position());
                    }
                    case Extent.Zero z -> throw new AssertionError("a write mapping has no zero extent: " + xs);
                    case Extent.Sync s -> {
                        assertEquals(xs.size() - 1, i, "Sync is the last extent: " + xs);
                        ch.img.write(off + at, src);
                    }
                }
                at += x.length();
            }
            assertEquals(b.length, at, "the extents cover the range: " + xs);
        }
    }

    @Property(tries = 150)
    void mappedTransfersMatchTheModel(@ForAll("configs") Config c, @ForAll("ops") List<Op> ops) throws Exception {
        byte[] model = new byte[(int) SIZE];
        Chain ch = new Chain(c, model);
        assertArrayEquals(model, mappedRead(ch, 0, (int) SIZE), "the chain as made");
        int g = ch.img.discardGranularity();
        for (Op op : ops) {
            long off = (long) (op.where() * SIZE);
            long len = Math.min(SIZE - off, op.len());
            if (op.aligned()) {
                off &= ~(g - 1L);
                len = Math.min(SIZE - off, (len + g - 1) / g * g);
            }
            switch (op.kind()) {
                case WRITE, MAPPED_WRITE -> {
                    byte[] b = new byte[(int) len];
                    new Random(op.seed()).nextBytes(b);
                    if (op.kind() == OpKind.WRITE) {
                        ch.img.write(off, ByteBuffer.wrap(b));
                        try (Mapping m = ch.img.map(off, len, true)) {
                            assertTrue(m.complete(), "clusters just written are owned and map whole: " + m.extents());
                        }
                    } else {
                        mappedWrite(ch, off, b);
                    }
                    System.arraycopy(b, 0, model, (int) off, (int) len);
                }
                case ZEROES -> {
                    ch.img.writeZeroes(off, len);
                    Arrays.fill(model, (int) off, (int) (off + len), (byte) 0);
                }
                case DISCARD -> {
                    long[] z = RandomOpsQemuTest.discardedRange(ch.img, off, len);
                    ch.img.discard(off, len);
                    if (z != null) {
                        Arrays.fill(model, (int) z[0], (int) (z[0] + z[1]), (byte) 0);
                    }
                }
                case FLUSH -> ch.img.flush();
                case REOPEN -> ch.reopen();
            }
            int probe = (int) Math.min(SIZE - off, len + 1000);
            assertArrayEquals(Arrays.copyOfRange(model, (int) off, (int) off + probe), mappedRead(ch, off, probe),
                    "after " + op);
        }
        assertArrayEquals(model, mappedRead(ch, 0, (int) SIZE));
        assertArrayEquals(model, ImageFiles.readAll(ch.img));
        ch.img.close();
        ch.img = ch.open(0, true);
        assertArrayEquals(model, mappedRead(ch, 0, (int) SIZE), "read-only, after reopening");
        ch.img.close();
    }

    /** A v3 image of 4 KiB clusters, no base, cluster 0 written with 0x11. */
    private static Qcow2Image pinImage(MemImageFile f) throws Exception {
        return pinImage(f, f);
    }

    private static Qcow2Image pinImage(MemImageFile f, ImageFile opened) throws Exception {
        Qcow2Create.create(f, 1 << 20, null, null, new Qcow2Create.Options(3, 12, 4));
        Qcow2Image img = Qcow2Image.open(opened, List.of(), false);
        byte[] b = new byte[4096];
        Arrays.fill(b, (byte) 0x11);
        img.write(0, ByteBuffer.wrap(b));
        img.flush();
        return img;
    }

    @Example
    void aClusterDroppedUnderAnOpenMappingIsNotHandedOutBeforeItCloses() throws Exception {
        MemImageFile f = new MemImageFile();
        Qcow2Image img = pinImage(f);
        Mapping m = img.map(0, 4096, false);
        Extent.Data d = (Extent.Data) m.extents().getFirst();
        long host = d.position() >>> 12;
        assertEquals(1, img.refcount(host));
        img.discard(0, 4096);   // v3, no base: unallocated now
        img.flush();            // the drop is durable; the count-down waits for the mapping
        assertEquals(1, img.refcount(host), "counted down under an open mapping");
        byte[] b = new byte[4096];
        Arrays.fill(b, (byte) 0x22);
        for (int i = 1; i <= 4; i++) {
            img.write(i * 4096L, ByteBuffer.wrap(b));   // allocations that would take the lowest free cluster
            try (Mapping w = img.map(i * 4096L, 4096, true)) {
                assertNotEquals(d.position(), ((Extent.Data) w.extents().getFirst()).position(),
                        "a pinned cluster was handed out again");
            }
        }
        byte[] old = new byte[4096];
        f.readOrZero(ByteBuffer.wrap(old), d.position());
        byte[] want = new byte[4096];
        Arrays.fill(want, (byte) 0x11);
        assertArrayEquals(want, old, "the pinned cluster still holds what the mapping named");
        m.close();
        assertEquals(0, img.refcount(host), "counted down once the mapping closed");
        m.close();   // twice: nothing
        img.write(5 * 4096L, ByteBuffer.wrap(b));
        try (Mapping w = img.map(5 * 4096L, 4096, true)) {
            assertEquals(d.position(), ((Extent.Data) w.extents().getFirst()).position(), "free again: reused");
        }
        img.close();
    }

    @Example
    void aReadOnlyImageAndAMappingWithoutDataPinNothing() throws Exception {
        MemImageFile f = new MemImageFile();
        Qcow2Image img = pinImage(f);
        try (Mapping z = img.map(8192, 4096, false)) {
            assertEquals(List.of(new Extent.Zero(4096)), z.extents());
            img.discard(0, 4096);
            img.flush();
        }
        Extent.Sync rest = new Extent.Sync(4096);
        try (Mapping w = img.map(8192, 4096, true)) {
            assertEquals(List.of(rest), w.extents(), "a write into an unallocated cluster is the library's");
            assertFalse(w.complete());
        }
        img.close();   // would wait forever for a pin left behind
    }

    /** A busy image (another caller holds its lock) maps the whole range as Sync: the caller does not wait. */
    @Example
    void aBusyImageMapsAsSync() throws Exception {
        MemImageFile slow = new MemImageFile();
        AtomicBoolean flushing = new AtomicBoolean();
        ImageFile slowFlush = new ImageFile() {
            @Override
            public int read(ByteBuffer dst, long position) throws java.io.IOException {
                return slow.read(dst, position);
            }

            @Override
            public int write(ByteBuffer src, long position) throws java.io.IOException {
                return slow.write(src, position);
            }

            @Override
            public long size() {
                return slow.size();
            }

            @Override
            public void setSize(long size) throws java.io.IOException {
                slow.setSize(size);
            }

            @Override
            public void flush() {
                flushing.set(true);
                try {
                    Thread.sleep(300);   // fdatasync on a slow disk
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                flushing.set(false);
            }

            @Override
            public void close() {}
        };
        Qcow2Image img = pinImage(slow, slowFlush);
        byte[] b = new byte[100];
        img.write(5000, ByteBuffer.wrap(b));   // dirty metadata: the flush holds the lock through fdatasync
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                img.flush();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        while (!flushing.get()) {
            Thread.onSpinWait();
        }
        try (Mapping m = img.map(0, 4096, false)) {
            assertEquals(List.of(new Extent.Sync(4096)), m.extents());
        }
        t.join();
        try (Mapping m = img.map(0, 4096, false)) {
            assertTrue(m.complete());
        }
        img.close();
    }

    /**
     * Readers map a guest cluster and read its extent from the file while writers rewrite,
     * discard and flush: every cluster holds its own guest cluster's number (or zeros), so a
     * host cluster handed to another guest cluster under a reader shows up as a wrong number.
     */
    @Property(tries = 10)
    void readsUnderConcurrentDiscardsSeeOnlyTheirCluster(@ForAll int seed) throws Exception {
        MemImageFile f = new MemImageFile();
        Qcow2Create.create(f, 64 * 4096, null, null, new Qcow2Create.Options(3, 12, 4));
        Qcow2Image img = Qcow2Image.open(f, List.of(), false);
        int clusters = 64;
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> ts = new ArrayList<>();
        for (int w = 0; w < 2; w++) {
            Random r = new Random(seed + w);
            ts.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 400; i++) {
                        int gc = r.nextInt(clusters);
                        switch (r.nextInt(3)) {
                            case 0 -> img.write(gc * 4096L, ByteBuffer.wrap(tagged(gc)));
                            case 1 -> img.discard(gc * 4096L, 4096);
                            default -> img.flush();
                        }
                    }
                } catch (Throwable e) {
                    errors.add(e);
                } finally {
                    stop.set(true);
                }
            }));
        }
        Random r = new Random(seed);
        byte[] got = new byte[4096];
        while (!stop.get() && errors.isEmpty()) {
            int gc = r.nextInt(clusters);
            try (Mapping m = img.map(gc * 4096L, 4096, false)) {
                if (m.extents().getFirst() instanceof Extent.Data d) {
                    Thread.yield();   // let the writers drop and reallocate meanwhile
                    Arrays.fill(got, (byte) 0);
                    f.readOrZero(ByteBuffer.wrap(got), d.position());
                    if (!Arrays.equals(got, tagged(gc)) && !Arrays.equals(got, new byte[4096])) {
                        throw new AssertionError("guest cluster " + gc + " read another cluster's data: tag "
                                + ByteBuffer.wrap(got).getInt());
                    }
                }
            }
        }
        for (Thread t : ts) {
            t.join();
        }
        if (!errors.isEmpty()) {
            throw new AssertionError(errors.getFirst());
        }
        img.close();
    }

    private static byte[] tagged(int gc) {
        ByteBuffer b = ByteBuffer.allocate(4096);
        while (b.hasRemaining()) {
            b.putInt(gc + 1);
        }
        return b.array();
    }
}
