package org.jvmd.vioblk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.qcow2.ChannelImageFile;
import org.jvmd.qcow2.DiskImage;
import org.jvmd.qcow2.ImageFormat;
import org.jvmd.qcow2.Layer;
import org.jvmd.qcow2.Qcow2Create;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.sys.uring.IoUring;
import org.jvmd.virtio.blk.VioblkLimits;
import org.jvmd.virtio.blk.VirtioBlk;

/**
 * The io_uring path of a qcow2 disk under a device core, on memfd guest memory and files (no
 * process): a 3-deep chain (qcow2 over qcow2 over a shorter raw base), every layer a fixed
 * file; many reads in flight over scattered spans come back as the qcow2 library reads the
 * same disk (data of each layer, zero clusters, unallocated runs, zeros past the base); writes
 * into allocated clusters go to the ring, writes into new ones to the library, and both
 * land; a data cluster cut short by the file's end reads zeros past it, as the library does.
 */
class Qcow2UringIoTest {
    private static final int MEM = 8 << 20;
    private static final int DISK = 512 << 10;
    private static final int CLUSTER = 4096;

    @TempDir
    Path dir;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private MappedGuestMemory mem;
    private UringRig rig;

    @AfterEach
    void tearDown() throws Exception {
        if (rig != null) {
            rig.close();
        }
        for (int i = owned.size() - 1; i >= 0; i--) {
            owned.get(i).close();
        }
    }

    /** Random writes through the library (a layer over its bases), and three zero clusters. */
    private static void scribble(List<Layer> layers, Random r, int writes) throws IOException {
        try (DiskImage d = DiskImage.open(layers, false)) {
            for (int i = 0; i < writes; i++) {
                byte[] b = new byte[1 + r.nextInt(20_000)];
                r.nextBytes(b);
                long off = r.nextInt((int) d.size() - b.length);
                d.write(off, ByteBuffer.wrap(b));
            }
            d.writeZeroes(8 * CLUSTER, 3 * CLUSTER);   // zero clusters (v3)
        }
    }

    private static Layer layer(Path p, ImageFormat f, boolean readOnly) throws IOException {
        return new Layer(ChannelImageFile.open(p, readOnly), f);
    }

    /** base.raw (3/4 of the disk, random), mid.qcow2 over it, top.qcow2 over mid, both written in places. */
    private List<Path> chain(Random r) throws IOException {
        Path base = dir.resolve("base.raw");
        byte[] b = new byte[DISK * 3 / 4];
        r.nextBytes(b);
        Files.write(base, b);
        Path mid = dir.resolve("mid.qcow2");
        try (ChannelImageFile f = ChannelImageFile.open(createEmpty(mid), false)) {
            Qcow2Create.create(f, DISK, "base.raw", ImageFormat.RAW, new Qcow2Create.Options(3, 12, 4));
        }
        scribble(List.of(layer(mid, ImageFormat.QCOW2, false), layer(base, ImageFormat.RAW, true)), r, 10);
        Path top = dir.resolve("top.qcow2");
        try (ChannelImageFile f = ChannelImageFile.open(createEmpty(top), false)) {
            Qcow2Create.create(f, DISK, "mid.qcow2", ImageFormat.QCOW2, new Qcow2Create.Options(3, 16, 4));
        }
        scribble(List.of(layer(top, ImageFormat.QCOW2, false), layer(mid, ImageFormat.QCOW2, true),
                layer(base, ImageFormat.RAW, true)), r, 6);
        return List.of(top, mid, base);
    }

    private static Path createEmpty(Path p) throws IOException {
        Files.write(p, new byte[0]);
        return p;
    }

    /** The disk as the library reads it (a separate, read-only opening). */
    private static byte[] libraryRead(List<Path> layers, List<ImageFormat> formats) throws IOException {
        List<Layer> ls = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            ls.add(layer(layers.get(i), formats.get(i), true));
        }
        try (DiskImage d = DiskImage.open(ls, true)) {
            byte[] b = new byte[(int) d.size()];
            d.read(0, ByteBuffer.wrap(b));
            return b;
        }
    }

    /** The device on the ring over these layers, as vioblk-proc sets it up. */
    private void start(List<Path> layers, List<ImageFormat> formats) throws Exception {
        assumeTrue(IoUring.disabledReason() == null, "io_uring disabled by sysctl");
        Fd memfd = Memfd.create("guest", MEM);
        owned.add(memfd);
        mem = MappedGuestMemory.map(memfd, MEM);
        owned.add(mem);
        List<Fd> fds = new ArrayList<>();
        List<Layer> ls = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Fd fd = LibC.open(layers.get(i).toString(), (i == 0 ? LibC.O_RDWR : LibC.O_RDONLY) | LibC.O_CLOEXEC);
            fds.add(fd);
            ls.add(new Layer(new FdImageFile(fd, layers.get(i).getFileName().toString()), formats.get(i)));
        }
        Qcow2Backend backend = new Qcow2Backend(DiskImage.open(ls, false), mem);
        owned.add(backend);
        rig = new UringRig(mem, backend, 128, "qcow2-uring-test", (pool, done, why) ->
                UringIo.open(fds, backend.image(), mem, pool, done, VioblkLimits.DEFAULT.segMax(), why));
    }

    /** Reads the whole disk as 32 requests in flight, each over {@code spans} spans; returns it. */
    private byte[] readAll(int spans) throws Exception {
        int per = DISK / 32;
        int span = per / spans;
        long[][] dst = new long[32][];
        long[] st = new long[32];
        for (int i = 0; i < 32; i++) {
            dst[i] = new long[spans];
            for (int k = 0; k < spans; k++) {
                dst[i][k] = rig.a.allocate(span, 512);
                mem.write(dst[i][k], new byte[span], 0, span);
                mem.writeByte(dst[i][k], (byte) 0x7e);   // zeros must be written, not assumed
            }
            st[i] = rig.request(VirtioBlk.T_IN, (long) i * per / 512, dst[i], span);
        }
        rig.serve();
        byte[] got = new byte[DISK];
        for (int i = 0; i < 32; i++) {
            assertEquals(VirtioBlk.S_OK, mem.readByte(st[i]), "read " + i);
            for (int k = 0; k < spans; k++) {
                mem.read(dst[i][k], got, i * per + k * span, span);
            }
        }
        return got;
    }

    private static final List<ImageFormat> CHAIN3 = List.of(ImageFormat.QCOW2, ImageFormat.QCOW2, ImageFormat.RAW);

    @Test
    void readsInFlightThroughAThreeDeepChainAndWritesOnBothPaths() throws Exception {
        Random r = new Random(11);
        List<Path> layers = chain(r);
        byte[] want = libraryRead(layers, CHAIN3);
        start(layers, CHAIN3);
        assertArrayEquals(want, readAll(4), "the chain read on the ring");
        assertEquals("32 reads/writes on the ring, 0 through the qcow2 library on the I/O threads", rig.uring.summary());

        // 16 writes of 8 KiB: over clusters top.qcow2 owns (ring) or where it holds none (the library allocates)
        long[] st = new long[16];
        for (int i = 0; i < 16; i++) {
            byte[] b = new byte[8192];
            r.nextBytes(b);
            long off = (long) i * (DISK / 16);
            long src = rig.a.allocate(8192, 512);
            mem.write(src, b, 0, 8192);
            System.arraycopy(b, 0, want, (int) off, 8192);
            st[i] = rig.request(VirtioBlk.T_OUT, off / 512, new long[] {src}, 8192);
        }
        rig.serve();
        for (int i = 0; i < 16; i++) {
            assertEquals(VirtioBlk.S_OK, mem.readByte(st[i]), "write " + i);
        }
        // the same ranges again: their clusters are allocated now, so every write goes to the ring
        String before = rig.uring.summary();
        for (int i = 0; i < 16; i++) {
            byte[] b = new byte[8192];
            r.nextBytes(b);
            long off = (long) i * (DISK / 16) + 512;
            long src = rig.a.allocate(8192, 512);
            mem.write(src, b, 0, 8192);
            System.arraycopy(b, 0, want, (int) off, 8192);
            st[i] = rig.request(VirtioBlk.T_OUT, off / 512, new long[] {src}, 8192);
        }
        rig.serve();
        for (int i = 0; i < 16; i++) {
            assertEquals(VirtioBlk.S_OK, mem.readByte(st[i]), "rewrite " + i);
        }
        int ringBefore = Integer.parseInt(before.split(" ")[0]);
        int libraryBefore = Integer.parseInt(before.split(", ")[1].split(" ")[0]);
        assertEquals((ringBefore + 16) + " reads/writes on the ring, " + libraryBefore
                + " through the qcow2 library on the I/O threads", rig.uring.summary(), "before: " + before);
        assertArrayEquals(want, readAll(2), "read back on the ring");
        long flush = rig.request(VirtioBlk.T_FLUSH, 0, new long[0], 0);
        rig.serve();
        assertEquals(VirtioBlk.S_OK, mem.readByte(flush));
        assertArrayEquals(want, libraryRead(layers, CHAIN3), "the library reads what the ring wrote");
    }

    @Test
    void aDataClusterCutShortByTheFilesEndReadsZerosPastIt() throws Exception {
        Path img = dir.resolve("short.qcow2");
        try (ChannelImageFile f = ChannelImageFile.open(createEmpty(img), false)) {
            Qcow2Create.create(f, DISK, null, null, new Qcow2Create.Options(3, 12, 4));
        }
        byte[] b = new byte[CLUSTER];
        new Random(5).nextBytes(b);
        try (DiskImage d = DiskImage.open(List.of(layer(img, ImageFormat.QCOW2, false)), false)) {
            d.write(DISK - CLUSTER, ByteBuffer.wrap(b));   // an L2 table, then this data cluster: the file's last
        }
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 1000);
        }
        List<Path> one = List.of(img);
        List<ImageFormat> q2 = List.of(ImageFormat.QCOW2);
        byte[] want = libraryRead(one, q2);
        assertArrayEquals(new byte[1000], java.util.Arrays.copyOfRange(want, DISK - 1000, DISK));
        assertArrayEquals(java.util.Arrays.copyOf(b, CLUSTER - 1000),
                java.util.Arrays.copyOfRange(want, DISK - CLUSTER, DISK - 1000), "the cluster's start is there");
        start(one, q2);
        assertArrayEquals(want, readAll(1));
        assertEquals("32 reads/writes on the ring, 0 through the qcow2 library on the I/O threads", rig.uring.summary());
    }
}
