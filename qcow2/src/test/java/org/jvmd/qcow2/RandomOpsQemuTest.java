package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Random writes, discards and write-zeroes through the library; the same operations on a raw
 * file; then qemu-img check passes and qemu-img compare says the two are identical.
 */
class RandomOpsQemuTest {
    @TempDir
    Path dir;

    /** Applies ops to both the library image and a raw mirror (the model of what it must read). */
    static void randomOps(DiskImage d, FileChannel raw, long seed, int ops, int maxLen) throws Exception {
        Random r = new Random(seed);
        long size = d.size();
        int g = d.discardGranularity();
        for (int i = 0; i < ops; i++) {
            long off = (long) (r.nextDouble() * size);
            int len = (int) Math.min(size - off, 1 + r.nextInt(maxLen));
            if (r.nextInt(4) == 0) {
                off &= ~(g - 1L);
                len = (int) Math.min(size - off, ((len + g - 1) / g) * (long) g);
            }
            int op = r.nextInt(10);
            if (op < 6) {
                byte[] b = new byte[len];
                r.nextBytes(b);
                if (r.nextBoolean()) {
                    java.util.Arrays.fill(b, 0, len / 2, (byte) 0);
                }
                d.write(off, ByteBuffer.wrap(b));
                raw.write(ByteBuffer.wrap(b), off);
            } else if (op < 8) {
                d.writeZeroes(off, len);
                raw.write(ByteBuffer.allocate(len), off);
            } else if (op < 9) {
                long[] z = discardedRange(d, off, len);
                d.discard(off, len);
                if (z != null) {
                    raw.write(ByteBuffer.allocate((int) z[1]), z[0]);
                }
            } else {
                d.flush();
            }
        }
    }

    /** What a discard zeroes: the whole clusters inside the range (none for v2 over a base). */
    static long[] discardedRange(DiskImage d, long off, long len) {
        if (d instanceof Qcow2Image q && q.version() == 2 && q.backingFile() != null) {
            return null;
        }
        long g = d.discardGranularity();
        long start = (off + g - 1) / g * g;
        long end = off + len == d.size() ? d.size() : (off + len) / g * g;
        return end > start ? new long[] {start, end - start} : null;
    }

    void runCase(String createOpts, boolean withBase, long seed) throws Exception {
        long size = 4L << 20;
        Path img = dir.resolve("t" + seed + ".qcow2");
        Path raw = dir.resolve("t" + seed + ".raw");
        if (withBase) {
            Path base = dir.resolve("base" + seed + ".qcow2");
            QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", createOpts, base.toString(), Long.toString(size));
            QemuImg.ok("qemu-io", "-c", "write -c -P 0x66 1M 256k", "-c", "write -P 0x5a 0 1M",
                    "-c", "write -P 0x5b 1280k " + (size - 1792 * 1024), base.toString());
            QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", createOpts, "-b", base.getFileName().toString(),
                    "-F", "qcow2", img.toString(), Long.toString(size));
            Files.write(raw, QemuImg.toRaw(base, dir));
        } else {
            QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", createOpts, img.toString(), Long.toString(size));
            QemuImg.ok("qemu-img", "create", "-q", "-f", "raw", raw.toString(), Long.toString(size));
        }
        try (DiskImage d = ImageFiles.openChain(img, false);
                FileChannel rc = FileChannel.open(raw, StandardOpenOption.WRITE)) {
            randomOps(d, rc, seed, 400, 200_000);
        }
        QemuImg.check(img, false);
        QemuImg.ok("qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw.toString(), img.toString());
        try (DiskImage d = ImageFiles.openChain(img, true)) {
            assertArrayEquals(Files.readAllBytes(raw), ImageFiles.readAll(d));
        }
    }

    /** Versions 3 (compat=1.1) and 2 (compat=0.10), each alone and over a qcow2 base. */
    @ParameterizedTest(name = "{0}, over a base: {1}")
    @CsvSource({"compat=1.1, false, 11", "compat=0.10, false, 12", "compat=1.1, true, 13", "compat=0.10, true, 14"})
    void randomOpsLeaveAnImageQemuChecksAndReadsAsTheRawMirror(String createOpts, boolean withBase, long seed)
            throws Exception {
        runCase(createOpts, withBase, seed);
    }

    @Test
    void smallClustersGrowTheRefcountTable() throws Exception {
        // 512-byte clusters with 64-bit refcounts: a refcount block covers 64 clusters and the
        // initial one-cluster table 64 blocks (2 MiB): 4 MiB of writes must grow it
        runCase("compat=1.1,cluster_size=512,refcount_bits=64", false, 15);
        runCase("compat=1.1,cluster_size=512,refcount_bits=2", true, 16);
    }

    @Test
    void writesIntoCompressedClustersMoveThemAndKeepRefcountsRight() throws Exception {
        for (String o : new String[] {"compat=1.1", "compat=0.10", "compat=1.1,cluster_size=4096"}) {
            byte[] data = QemuImagesReadTest.content(21, 4 << 20);
            Path raw = dir.resolve("z.raw");
            Files.write(raw, data);
            Path img = dir.resolve("z.qcow2");
            Files.deleteIfExists(img);
            QemuImg.ok("qemu-img", "convert", "-c", "-O", "qcow2", "-o", o, raw.toString(), img.toString());
            try (DiskImage d = ImageFiles.openChain(img, false);
                    FileChannel rc = FileChannel.open(raw, StandardOpenOption.WRITE)) {
                randomOps(d, rc, 22, 300, 30_000);
            }
            QemuImg.check(img, false);
            QemuImg.ok("qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw.toString(), img.toString());
        }
    }

    @Test
    void imageCreatedByTheLibraryPassesCheck() throws Exception {
        Path img = dir.resolve("own.qcow2");
        for (int version : new int[] {2, 3}) {
            Files.deleteIfExists(img);
            try (ImageFile f = new ChannelImageFile(FileChannel.open(img, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.READ, StandardOpenOption.WRITE), img.toString())) {
                Qcow2Create.create(f, 3L << 20, null, null, new Qcow2Create.Options(version, 12, 4));
            }
            QemuImg.check(img, false);
            Path raw = dir.resolve("own.raw");
            Files.deleteIfExists(raw);
            QemuImg.ok("qemu-img", "create", "-q", "-f", "raw", raw.toString(), Long.toString(3L << 20));
            try (DiskImage d = Qcow2Image.open(ChannelImageFile.open(img, false), List.of(), false);
                    FileChannel rc = FileChannel.open(raw, StandardOpenOption.WRITE)) {
                assertEquals(3L << 20, d.size());
                randomOps(d, rc, 17 + version, 300, 100_000);
            }
            QemuImg.check(img, false);
            QemuImg.ok("qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw.toString(), img.toString());
        }
    }
}
