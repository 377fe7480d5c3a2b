package org.jvmd.qcow2;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;

/**
 * qcow2 against raw through the library, printed in one run (issue 15's disk benchmark rows):
 * sequential write into new clusters, random 4 KiB reads on a fully allocated image, reads
 * through a 3-deep chain. Not a test: run it by hand,
 * {@code java -cp qcow2/target/classes:qcow2/target/test-classes org.jvmd.qcow2.Qcow2Bench [dir] [MiB]}.
 */
public final class Qcow2Bench {
    private Qcow2Bench() {
    }

    interface Body {
        long run(DiskImage d) throws Exception; // returns bytes moved
    }

    /** Best of three runs after two warm-up runs (the machine is shared: best is the least disturbed). */
    static double mbps(DiskImage d, Body b) throws Exception {
        b.run(d);
        b.run(d);
        double best = 0;
        for (int i = 0; i < 3; i++) {
            long t0 = System.nanoTime();
            long bytes = b.run(d);
            best = Math.max(best, bytes / 1048576.0 / ((System.nanoTime() - t0) / 1e9));
        }
        return best;
    }

    static ChannelImageFile file(Path p, boolean create) throws Exception {
        FileChannel ch = create ? FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new ChannelImageFile(ch, p.toString());
    }

    static DiskImage freshRaw(Path p, long size) throws Exception {
        ChannelImageFile f = file(p, true);
        f.setSize(size);
        return new RawImage(f, false);
    }

    static DiskImage freshQcow2(Path p, long size, String backing) throws Exception {
        ChannelImageFile f = file(p, true);
        Qcow2Create.create(f, size, backing, backing == null ? null : ImageFormat.QCOW2);
        f.close();
        return ImageFiles.openChain(p, false);
    }

    static long fill(DiskImage d) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        new Random(1).nextBytes(b.array());
        for (long off = 0; off < d.size(); off += b.capacity()) {
            d.write(off, b.clear());
        }
        d.flush();
        return d.size();
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createDirectories(Path.of(args.length > 0 ? args[0] : "/tmp/qcow2-bench"));
        long size = (args.length > 1 ? Long.parseLong(args[1]) : 256) << 20;
        // 1. sequential 1 MiB writes into a new image (each run starts from a fresh file)
        double[] seq = new double[2];
        for (int k = 0; k < 2; k++) {
            for (int run = 0; run < 4; run++) {
                Path p = dir.resolve(k == 0 ? "seq.raw" : "seq.qcow2");
                try (DiskImage d = k == 0 ? freshRaw(p, size) : freshQcow2(p, size, null)) {
                    long t0 = System.nanoTime();
                    long bytes = fill(d);
                    seq[k] = Math.max(seq[k], bytes / 1048576.0 / ((System.nanoTime() - t0) / 1e9));
                }
            }
        }
        // 2. random 4 KiB reads on the fully allocated images
        Body random4k = d -> {
            Random r = new Random(7);
            ByteBuffer b = ByteBuffer.allocate(4096);
            int n = 100_000;
            for (int i = 0; i < n; i++) {
                d.read((long) r.nextInt((int) (d.size() / 4096)) * 4096, b.clear());
            }
            return 4096L * n;
        };
        double rawRand;
        double qRand;
        try (DiskImage d = new RawImage(file(dir.resolve("seq.raw"), false), true)) {
            rawRand = mbps(d, random4k);
        }
        try (DiskImage d = ImageFiles.openChain(dir.resolve("seq.qcow2"), true)) {
            qRand = mbps(d, random4k);
        }
        // 3. reads through a 3-deep chain: seq.qcow2 <- mid1 <- mid2 <- top (data all in the bottom)
        freshQcow2(dir.resolve("mid1.qcow2"), size, "seq.qcow2").close();
        freshQcow2(dir.resolve("mid2.qcow2"), size, "mid1.qcow2").close();
        freshQcow2(dir.resolve("top.qcow2"), size, "mid2.qcow2").close();
        Body seqRead = d -> {
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            for (long off = 0; off < d.size(); off += b.capacity()) {
                d.read(off, b.clear());
            }
            return d.size();
        };
        double rawChain;
        double qChain;
        double qChain4k;
        double raw4k;
        try (DiskImage d = new RawImage(file(dir.resolve("seq.raw"), false), true)) {
            rawChain = mbps(d, seqRead);
            raw4k = mbps(d, random4k);
        }
        try (DiskImage d = ImageFiles.openChain(dir.resolve("top.qcow2"), true)) {
            qChain = mbps(d, seqRead);
            qChain4k = mbps(d, random4k);
        }
        System.out.printf("%-44s %10s %10s %6s%n", "qcow2 vs raw through the library (" + (size >> 20) + " MiB)",
                "raw MB/s", "qcow2 MB/s", "ratio");
        row("sequential 1 MiB writes into new clusters", seq[0], seq[1]);
        row("random 4 KiB reads, fully allocated", rawRand, qRand);
        row("sequential 1 MiB reads through a 3-deep chain", rawChain, qChain);
        row("random 4 KiB reads through a 3-deep chain", raw4k, qChain4k);
        for (String n : List.of("seq.raw", "seq.qcow2", "mid1.qcow2", "mid2.qcow2", "top.qcow2")) {
            Files.deleteIfExists(dir.resolve(n));
        }
    }

    static void row(String what, double raw, double q) {
        System.out.printf("%-44s %10.0f %10.0f %6.2f%n", what, raw, q, q / raw);
    }
}
