package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Images qemu-img made read through the library byte-identically to qemu-img convert -O raw,
 * and so do their mappings ({@link DiskImage#map}) read from the layer files.
 */
class QemuImagesReadTest {
    static final int SIZE = (8 << 20) + 3 * 512;

    @TempDir
    Path dir;

    /** Random data, zero stretches and compressible text, in odd-sized pieces. */
    static byte[] content(long seed, int size) {
        Random r = new Random(seed);
        byte[] b = new byte[size];
        int pos = 0;
        while (pos < size) {
            int n = Math.min(size - pos, 1 + r.nextInt(300_000));
            switch (r.nextInt(3)) {
                case 0 -> {
                    byte[] x = new byte[n];
                    r.nextBytes(x);
                    System.arraycopy(x, 0, b, pos, n);
                }
                case 1 -> {
                    // zeros
                }
                default -> {
                    for (int i = 0; i < n; i++) {
                        b[pos + i] = (byte) ("qcow2 text " + (i / 64)).charAt(i % 11);
                    }
                }
            }
            pos += n;
        }
        return b;
    }

    Path rawFile(String name, byte[] data) throws Exception {
        Path p = dir.resolve(name);
        Files.write(p, data);
        return p;
    }

    byte[] libraryRead(Path img) throws Exception {
        try (DiskImage d = ImageFiles.openChain(img, true)) {
            return ImageFiles.readAll(d);
        }
    }

    /** Sync extents met by {@link #mappedRead} (compressed clusters). */
    int syncs;

    /**
     * The disk read through {@link DiskImage#map}, 1 MiB at a time: data extents from the
     * layer files themselves (zeros past their end), zero extents, a Sync rest by the image.
     */
    byte[] mappedRead(Path img) throws Exception {
        List<BackingChain.Entry> chain = BackingChain.resolve(img, null);
        try (DiskImage d = BackingChain.open(chain, true)) {
            byte[] out = new byte[(int) d.size()];
            for (long off = 0; off < out.length; off += 1 << 20) {
                int len = (int) Math.min(1 << 20, out.length - off);
                try (Mapping m = d.map(off, len, false)) {
                    long at = 0;
                    for (Extent x : m.extents()) {
                        ByteBuffer b = ByteBuffer.wrap(out, (int) (off + at), (int) x.length());
                        switch (x) {
                            case Extent.Data e -> {
                                try (FileChannel ch = FileChannel.open(chain.get(e.layer()).path())) {
                                    for (long p = e.position(); b.hasRemaining(); ) {
                                        int n = ch.read(b, p);
                                        if (n < 0) {
                                            break;   // past the end: zeros, as the array holds
                                        }
                                        p += n;
                                    }
                                }
                            }
                            case Extent.Zero z -> {
                            }
                            case Extent.Sync y -> {
                                syncs++;
                                d.read(off + at, b);
                            }
                        }
                        at += x.length();
                    }
                    assertEquals(len, at, "extents of " + off + " in " + img);
                }
            }
            return out;
        }
    }

    void assertReadsLikeQemu(Path img, byte[] expected) throws Exception {
        byte[] qemu = QemuImg.toRaw(img, dir);
        if (expected != null) {
            assertArrayEquals(expected, qemu, "qemu-img's own reading of " + img);
        }
        byte[] lib = libraryRead(img);
        assertEquals(qemu.length, lib.length, "size of " + img);
        assertArrayEquals(qemu, lib, "library vs qemu-img convert -O raw of " + img);
        assertArrayEquals(qemu, mappedRead(img), "mapped extents vs qemu-img convert -O raw of " + img);
    }

    @Test
    void convertedV2AndV3ImagesReadIdentically() throws Exception {
        byte[] data = content(1, SIZE);
        Path src = rawFile("src.raw", data);
        String[][] variants = {
            {"compat=0.10"},
            {"compat=1.1"},
            {"compat=1.1,cluster_size=512"},
            {"compat=1.1,cluster_size=2M"},
            {"compat=1.1,refcount_bits=1"},
            {"compat=1.1,refcount_bits=64,cluster_size=4096"},
            {"compat=0.10,cluster_size=4096"},
        };
        int i = 0;
        for (String[] v : variants) {
            Path q = dir.resolve("c" + i++ + ".qcow2");
            QemuImg.ok("qemu-img", "convert", "-O", "qcow2", "-o", v[0], src.toString(), q.toString());
            assertReadsLikeQemu(q, data);
        }
    }

    @Test
    void compressedClustersReadIdentically() throws Exception {
        byte[] data = content(2, SIZE);
        Path src = rawFile("src.raw", data);
        for (String o : new String[] {"compat=1.1", "compat=0.10", "compat=1.1,cluster_size=4096"}) {
            Path q = dir.resolve("z-" + o.replace(',', '_').replace('=', '_') + ".qcow2");
            QemuImg.ok("qemu-img", "convert", "-c", "-O", "qcow2", "-o", o, src.toString(), q.toString());
            String check = QemuImg.check(q, false);
            assertTrue(check.matches("(?s).*[1-9][0-9.]*% compressed clusters.*"), check);
            syncs = 0;
            assertReadsLikeQemu(q, data);
            assertTrue(syncs > 0, "a compressed cluster is the library's to read: " + q);
        }
    }

    @Test
    void chainOfThreeBasesReadsIdentically() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("sub"));
        Path base = rawFile("sub/base.raw", content(3, SIZE - 1024 * 1024));
        // b1: qcow2 v2 over the raw base, named relatively
        Path b1 = sub.resolve("b1.qcow2");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", "-b", "base.raw", "-F", "raw",
                b1.toString(), Integer.toString(SIZE - 512 * 1024));
        QemuImg.ok("qemu-io", "-c", "write -P 0x11 100k 200k", "-c", "write -P 0x12 3M 64k", b1.toString());
        // b2: compressed-cluster qcow2 v3 over b1, named absolutely
        Path b2 = dir.resolve("b2.qcow2");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", b1.toString(), "-F", "qcow2",
                b2.toString(), Integer.toString(SIZE));
        QemuImg.ok("qemu-io", "-c", "write -c -P 0x21 1M 64k", "-c", "write -P 0x22 150k 10k",
                "-c", "write -z 3M 64k", "-c", "write -P 0x23 7M 100k", b2.toString());
        // top: v3 over b2, relative with a directory part
        Path top = dir.resolve("top.qcow2");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "b2.qcow2", "-F", "qcow2",
                top.toString(), Integer.toString(SIZE));
        QemuImg.ok("qemu-io", "-c", "write -P 0x31 64k 1k", "-c", "write -z 7M 64k",
                "-c", "discard 1M 64k", "-c", "write -P 0x32 " + (SIZE - 4096) + " 4096", top.toString());

        List<BackingChain.Entry> chain = BackingChain.resolve(top, null);
        assertEquals(4, chain.size(), chain.toString());
        assertEquals(ImageFormat.RAW, chain.get(3).format());
        assertEquals(base.toAbsolutePath().normalize(), chain.get(3).path());
        assertReadsLikeQemu(top, null);
        assertReadsLikeQemu(b2, null);
    }

    @Test
    void partialReadsAcrossClustersMatch() throws Exception {
        byte[] data = content(4, SIZE);
        Path src = rawFile("src.raw", data);
        Path q = dir.resolve("p.qcow2");
        QemuImg.ok("qemu-img", "convert", "-c", "-O", "qcow2", "-o", "cluster_size=4096", src.toString(), q.toString());
        Random r = new Random(5);
        try (DiskImage d = ImageFiles.openChain(q, true)) {
            for (int i = 0; i < 500; i++) {
                int off = r.nextInt(SIZE);
                int len = r.nextInt(Math.min(20_000, SIZE - off) + 1);
                byte[] got = new byte[len];
                d.read(off, ByteBuffer.wrap(got));
                byte[] want = java.util.Arrays.copyOfRange(data, off, off + len);
                assertArrayEquals(want, got, "read at " + off + " of " + len);
            }
        }
    }
}
