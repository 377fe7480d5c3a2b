package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Power loss at a random point of a random operation sequence, with every unflushed sector
 * independently lost or kept: qemu-img check finds no corruption (leaks allowed) and every byte
 * that was flushed and not touched since reads as it was flushed.
 */
class PowerLossProperties {
    static final long SIZE = 200 * 1024;

    @Property(tries = 10)
    void powerLossLeavesAConsistentImage(@ForAll @IntRange(min = 0, max = 1_000_000) int seed) throws Exception {
        long calls = scenario(seed, -1);
        Random pick = new Random(seed);
        // every call of a short scenario, else a sample (always the last ones: the final flush)
        for (long c = 0; c < calls; c += calls <= 24 ? 1 : 1 + pick.nextInt((int) (calls / 12))) {
            scenario(seed, c);
        }
        for (long c = Math.max(0, calls - 6); c < calls; c++) {
            scenario(seed, c);
        }
    }

    /** Runs the scenario of seed with the power failing at file call crashAt; returns the calls made. */
    static long scenario(int seed, long crashAt) throws Exception {
        Random r = new Random(seed);
        int version = r.nextBoolean() ? 3 : 2;
        int cb = new int[] {9, 12, 16}[r.nextInt(3)];
        boolean withBase = r.nextBoolean();
        byte[] model = new byte[(int) SIZE];
        MemImageFile base = null;
        if (withBase) {
            byte[] content = new byte[(int) SIZE];
            r.nextBytes(content);
            base = new MemImageFile(content);
            System.arraycopy(content, 0, model, 0, content.length);
        }
        MemImageFile init = new MemImageFile();
        Qcow2Create.create(init, SIZE, withBase ? "base.img" : null, withBase ? ImageFormat.RAW : null,
                new Qcow2Create.Options(version, cb, version == 3 ? r.nextInt(7) : 4));
        PowerLossFile top = new PowerLossFile(init.bytes(), crashAt, new Random(crashAt));
        List<Layer> bases = withBase ? List.of(new Layer(base, ImageFormat.RAW)) : List.of();
        DiskImage d = Qcow2Image.open(top, bases, false, 0);
        byte[] flushed = model.clone();
        BitSet touched = new BitSet();
        int ops = 1 + r.nextInt(30);
        int g = d.discardGranularity();
        try {
            for (int i = 0; i < ops; i++) {
            long off = (long) (r.nextDouble() * SIZE);
            long len = Math.min(SIZE - off, 1 + r.nextInt(50_000));
            if (r.nextBoolean()) {
                off &= ~(g - 1L);
                len = Math.min(SIZE - off, (len + g - 1) / g * g);
            }
            switch (r.nextInt(8)) {
                case 0, 1, 2, 3 -> {
                    byte[] b = new byte[(int) len];
                    r.nextBytes(b);
                    touched.set((int) off, (int) (off + len)); // before: the power may fail inside
                    d.write(off, ByteBuffer.wrap(b));
                    System.arraycopy(b, 0, model, (int) off, b.length);
                }
                case 4 -> {
                    touched.set((int) off, (int) (off + len));
                    d.writeZeroes(off, len);
                    Arrays.fill(model, (int) off, (int) (off + len), (byte) 0);
                }
                case 5 -> {
                    long[] z = RandomOpsQemuTest.discardedRange(d, off, len);
                    if (z != null) {
                        touched.set((int) z[0], (int) (z[0] + z[1]));
                    }
                    d.discard(off, len);
                    if (z != null) {
                        Arrays.fill(model, (int) z[0], (int) (z[0] + z[1]), (byte) 0);
                    }
                }
                default -> {
                    d.flush();
                    flushed = model.clone();
                    touched.clear();
                }
            }
        }
            d.flush();
        } catch (PowerLossFile.PowerLost e) {
            // the process died here
        }
        if (top.crashed == null) {
            return top.calls;
        }
        byte[] after = top.crashed;
        // the process is gone: nothing of d is used again
        Path dir = Files.createTempDirectory("qcow2power");
        try {
            Path img = dir.resolve("top.qcow2");
            Files.write(img, after);
            if (base != null) {
                Files.write(dir.resolve("base.img"), base.bytes());
            }
            QemuImg.check(img, true);
            MemImageFile again = new MemImageFile(after);
            List<Layer> bases2 = withBase ? List.of(new Layer(new MemImageFile(base.bytes()), ImageFormat.RAW)) : List.of();
            try (DiskImage reopened = Qcow2Image.open(again, bases2, true)) {
                byte[] got = ImageFiles.readAll(reopened);
                for (int i = touched.nextClearBit(0); i < SIZE; i = touched.nextClearBit(i + 1)) {
                    if (got[i] != flushed[i]) {
                        assertEquals(flushed[i], got[i], "flushed byte " + i + " lost (v" + version + ", cluster 2^" + cb
                                + (withBase ? ", over a base" : "") + ")");
                    }
                }
            }
        } finally {
            try (var s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
        return top.calls;
    }
}
