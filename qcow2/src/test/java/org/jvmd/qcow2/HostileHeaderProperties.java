package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * A hostile image: random mutations of a valid image's header fields, extensions, L1/L2 and
 * refcount structures. Opening it and using it ends normally or with an {@link ImageException};
 * nothing else is thrown, and no allocation grows with the values the file claims.
 */
class HostileHeaderProperties {
    /** Header field offsets and widths (qcow2.txt "Header"). */
    static final int[][] FIELDS = {
        {4, 4}, {8, 8}, {16, 4}, {20, 4}, {24, 8}, {32, 4}, {36, 4}, {40, 8}, {48, 8}, {56, 4},
        {60, 4}, {64, 8}, {72, 8}, {80, 8}, {88, 8}, {96, 4}, {100, 4}, {104, 1},
    };
    static final long MAX_ALLOCATED = 96L << 20;

    record Mutation(int where, int field, long value, int kind) {
    }

    @Provide
    Arbitrary<List<Mutation>> mutations() {
        Arbitrary<Long> values = Arbitraries.oneOf(Arbitraries.longs(),
                Arbitraries.of(0L, 1L, 2L, 3L, 9L, 16L, 21L, 22L, 63L, 64L, 104L, 512L, 4096L, 65536L,
                        0x7fffffffL, 0xffffffffL, Long.MAX_VALUE, Long.MIN_VALUE, -1L, 1L << 40),
                Arbitraries.longs().between(0, 1 << 20));
        return Combinators.combine(Arbitraries.integers().between(0, 1 << 20), Arbitraries.integers().between(0, FIELDS.length - 1),
                values, Arbitraries.integers().between(0, 3)).as(Mutation::new).list().ofMinSize(1).ofMaxSize(4);
    }

    static byte[] validImage(int seed) throws Exception {
        MemImageFile f = new MemImageFile();
        Random r = new Random(seed);
        int cb = new int[] {9, 12, 16}[r.nextInt(3)];
        Qcow2Create.create(f, 1 << 20, r.nextBoolean() ? "base.img" : null, ImageFormat.RAW,
                new Qcow2Create.Options(3, cb, r.nextInt(7)));
        byte[] base = new byte[1 << 20];
        List<Layer> bases = f.bytes().length > 0 && Qcow2Header.read(f, false).backingFile != null
                ? List.of(new Layer(new MemImageFile(base), ImageFormat.RAW)) : List.of();
        try (DiskImage d = Qcow2Image.open(f, bases, false)) {
            for (int i = 0; i < 20; i++) {
                byte[] b = new byte[1 + r.nextInt(30000)];
                r.nextBytes(b);
                d.write(r.nextInt((1 << 20) - b.length), ByteBuffer.wrap(b));
            }
            d.discard(0, 65536);
        }
        return f.bytes();
    }

    static void mutate(byte[] img, Mutation m) {
        ByteBuffer b = ByteBuffer.wrap(img);
        switch (m.kind()) {
            case 0 -> { // a header field
                int[] fd = FIELDS[m.field()];
                for (int i = 0; i < fd[1]; i++) {
                    b.put(fd[0] + i, (byte) (m.value() >>> (8 * (fd[1] - 1 - i))));
                }
            }
            case 1 -> b.put(m.where() % img.length, (byte) m.value()); // any byte
            default -> { // any aligned 64-bit word: table entries
                int at = (m.where() % img.length) & ~7;
                if (at + 8 <= img.length) {
                    b.putLong(at, m.value());
                }
            }
        }
    }

    @Property(tries = 400)
    void mutatedImagesFailOnlyWithImageException(@ForAll @IntRange(min = 0, max = 5) int seed,
            @ForAll("mutations") List<Mutation> ms) throws Exception {
        byte[] img = validImage(seed);
        for (Mutation m : ms) {
            mutate(img, m);
        }
        ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        for (boolean readOnly : new boolean[] {true, false}) {
            MemImageFile f = new MemImageFile(img, img.length + (64L << 20));
            List<Layer> bases = List.of(new Layer(new MemImageFile(new byte[4096]), ImageFormat.RAW));
            try (DiskImage d = openEither(f, bases, readOnly)) {
                Random r = new Random(seed);
                long size = d.size();
                for (int i = 0; i < 30; i++) {
                    long off = (long) (r.nextDouble() * size);
                    int len = (int) Math.min(size - off, r.nextInt(70000));
                    byte[] b = new byte[len];
                    if (readOnly || r.nextBoolean()) {
                        d.read(off, ByteBuffer.wrap(b));
                    } else {
                        switch (r.nextInt(3)) {
                            case 0 -> d.write(off, ByteBuffer.wrap(b));
                            case 1 -> d.discard(off, len);
                            default -> d.writeZeroes(off, len);
                        }
                    }
                }
            } catch (ImageException expected) {
                assertTrue(expected.getMessage() != null && expected.getMessage().startsWith("mem: "),
                        expected.getMessage());
            } catch (Throwable t) {
                fail("not an ImageException: " + t, t);
            }
        }
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < MAX_ALLOCATED, "allocated " + allocated + " bytes");
    }

    /** With or without the base, as the (mutated) header asks. */
    static DiskImage openEither(MemImageFile f, List<Layer> bases, boolean readOnly) throws Exception {
        try {
            return Qcow2Image.open(f, bases, readOnly);
        } catch (ImageException e) {
            if (e.getMessage().contains("no base")) {
                return Qcow2Image.open(f, List.of(), readOnly);
            }
            throw e;
        }
    }
}
