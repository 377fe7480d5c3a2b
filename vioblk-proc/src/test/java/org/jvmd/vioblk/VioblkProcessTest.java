package org.jvmd.vioblk;

import static org.jvmd.testkit.Shell.sh;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.Dropped;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.DiskStats;
import org.jvmd.proto.FromVioblk;
import org.jvmd.proto.Pause;
import org.jvmd.proto.Reset;
import org.jvmd.proto.StatsRequest;
import org.jvmd.proto.ToVioblk;
import org.jvmd.proto.Unpause;
import org.jvmd.proto.VioblkInit;
import org.jvmd.proto.VioblkReady;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.ChildFailedException;
import org.jvmd.sys.proc.WaitStatus;
import org.jvmd.vioblk.VioblkBench.Disk;
import org.jvmd.virtio.blk.Vioblk;
import org.jvmd.virtio.blk.VirtioBlk;

/**
 * The real vioblk-proc as a child JVM (run as root, as vmd would start it): guest memory in
 * a memfd, a raw image file, eventfds for the kick and the interrupts. It must drop every
 * privilege before it serves (non-root, no_new_privs, seccomp, no capabilities, an empty
 * root), then carry the guest's requests to the image and back.
 */
class VioblkProcessTest {
    private static final int IMAGE = 16 << 20;
    private static final String TITLE = VioblkBench.TITLE;

    @AutoClose
    private VioblkBench bench;
    private Path image;

    @BeforeEach
    void setUp() throws IOException {
        bench = new VioblkBench("vioblk-process");
        image = bench.dir.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE);
        }
    }

    private Disk start(boolean readOnly, DiskFormat format) throws Exception {
        return start(readOnly, format, "_vmd", bench.empty.toString());
    }

    /** {@code user} and {@code chroot} as vmm-proc sends them (empty: the role's defaults). */
    private Disk start(boolean readOnly, DiskFormat format, String user, String chroot) throws Exception {
        return bench.start(List.of(image), DiskConfig.newBuilder().setFormat(format).setReadOnly(readOnly)
                .setSerial("jvmd-test-disk-0"), List.of(), user, chroot);
    }

    private static FromVioblk next(Child c) throws IOException {
        try (Received<FromVioblk> r = c.channel().receive(FromVioblk.parser(), 20_000)) {
            return r.message();
        }
    }

    private String log() throws IOException {
        return bench.log();
    }

    @Test
    void theProcessDropsEveryPrivilegeAndCarriesRandomBlocksToTheImageAndBack() throws Exception {
        // No user, no chroot: vmm-proc's default, vioblk drops to Role.VIOBLK's (_vmd, /var/empty).
        Disk d = start(false, DiskFormat.FORMAT_RAW, "", "");
        Child c = d.child;
        VioblkReady r = d.ready;
        assertEquals(c.pid(), r.getReady().getPid());
        assertEquals(TITLE, r.getReady().getProcess());
        assertEquals(IMAGE / 512, r.getCapacitySectors());
        assertTrue(!r.getReadOnly() && r.getSegMax() > 0 && r.getSizeMax() >= 4096 && r.getMaxDiscardSeg() > 0);

        long features = Vioblk.offeredFeatures(false);
        BlkGuest g = new BlkGuest(d.mem, features);
        g.configure(c.channel(), features);

        // Random 4 KiB blocks, 64 in flight at a time, then a flush.
        Random rnd = new Random(42);
        Map<Long, byte[]> written = new HashMap<>();
        for (int batch = 0; batch < 4; batch++) {
            for (int i = 0; i < 64; i++) {
                long sector = (long) rnd.nextInt(IMAGE / 4096) * 8;
                byte[] b = new byte[4096];
                rnd.nextBytes(b);
                if (written.containsKey(sector)) {
                    continue;   // two writes of one block in flight at once have no defined order
                }
                written.put(sector, b);
                g.write(sector, b);
            }
            g.kick(d.kick);
            Map<Integer, Integer> st = g.awaitAll(d.call, 20_000);
            assertTrue(st.values().stream().allMatch(s -> s == VirtioBlk.S_OK), st + "\n" + log());
            written.keySet().forEach(s -> { });
        }
        int flush = g.simple(VirtioBlk.T_FLUSH);
        g.kick(d.kick);
        assertEquals(VirtioBlk.S_OK, g.awaitAll(d.call, 20_000).get(flush));

        // While it serves: the drop as /proc shows it.
        checkDropped(c.pid());

        // The image file holds the blocks.
        byte[] file = Files.readAllBytes(image);
        for (Map.Entry<Long, byte[]> e : written.entrySet()) {
            int at = (int) (e.getKey() * 512);
            assertArrayEquals(e.getValue(), Arrays.copyOfRange(file, at, at + 4096), "block at sector " + e.getKey());
        }

        // And the guest reads them back.
        List<Long> sectors = new ArrayList<>(written.keySet());
        for (int from = 0; from < sectors.size(); from += 64) {
            Map<Integer, long[]> reads = new HashMap<>();
            for (long s : sectors.subList(from, Math.min(sectors.size(), from + 64))) {
                long[] hb = g.read(s, 4096);
                reads.put((int) hb[0], new long[] {hb[1], s});
            }
            g.kick(d.kick);
            Map<Integer, Integer> st = g.awaitAll(d.call, 20_000);
            for (Map.Entry<Integer, long[]> e : reads.entrySet()) {
                assertEquals(VirtioBlk.S_OK, st.get(e.getKey()));
                byte[] back = new byte[4096];
                d.mem.read(e.getValue()[0], back, 0, 4096);
                assertArrayEquals(written.get(e.getValue()[1]), back);
            }
        }

        // GET_ID, WRITE_ZEROES, DISCARD, and a read past the end.
        long[] id = g.getId();
        long someSector = sectors.get(0);
        int zero = g.range(VirtioBlk.T_WRITE_ZEROES, someSector, 8, 0);
        int discard = g.range(VirtioBlk.T_DISCARD, sectors.get(1), 8, 0);
        long[] past = g.read(IMAGE / 512 - 4, 4096);
        g.kick(d.kick);
        Map<Integer, Integer> st = g.awaitAll(d.call, 20_000);
        assertEquals(VirtioBlk.S_OK, st.get((int) id[0]));
        byte[] serial = new byte[VirtioBlk.ID_BYTES];
        d.mem.read(id[1], serial, 0, serial.length);
        assertEquals("jvmd-test-disk-0", new String(serial, StandardCharsets.US_ASCII).replace("\0", ""));
        assertEquals(VirtioBlk.S_OK, st.get(zero));
        assertEquals(VirtioBlk.S_OK, st.get(discard));
        assertEquals(VirtioBlk.S_IOERR, st.get((int) past[0]));
        file = Files.readAllBytes(image);
        int at = (int) (someSector * 512);
        assertArrayEquals(new byte[4096], Arrays.copyOfRange(file, at, at + 4096), "zeroed");
        at = (int) (sectors.get(1) * 512);
        assertArrayEquals(new byte[4096], Arrays.copyOfRange(file, at, at + 4096), "punched");
        assertEquals(IMAGE, file.length, "the image keeps its size");

        // Counters.
        c.channel().send(ToVioblk.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
        FromVioblk sm = next(c);
        assertTrue(sm.hasStats(), sm.toString());
        DiskStats ds = sm.getStats().getDisks(0);
        assertEquals(written.size(), ds.getWrites(), ds.toString());
        assertEquals(written.size(), ds.getReads(), ds.toString());
        assertEquals(4096L * written.size(), ds.getWriteBytes());
        assertEquals(1, ds.getFlushes());
        assertEquals(1, ds.getGetIds());
        assertEquals(1, ds.getDiscards());
        assertEquals(1, ds.getWriteZeroes());
        assertEquals(Map.of("out_of_range", 1L), ds.getErrorsMap());

        // Pause and unpause, reset; an unexpected message is answered and it goes on.
        c.channel().send(ToVioblk.newBuilder().setPause(Pause.getDefaultInstance()).build());
        assertTrue(next(c).hasPaused());
        int later = g.simple(VirtioBlk.T_FLUSH);
        g.kick(d.kick);
        Thread.sleep(200);
        assertTrue(!g.q.hasUsed(), "nothing is served while paused");
        c.channel().send(ToVioblk.newBuilder().setUnpause(Unpause.getDefaultInstance()).build());
        assertEquals(VirtioBlk.S_OK, g.awaitAll(d.call, 20_000).get(later));
        c.channel().send(ToVioblk.newBuilder().setReset(Reset.getDefaultInstance()).build());
        assertTrue(next(c).hasResetDone());
        c.channel().send(ToVioblk.newBuilder().setInit(VioblkInit.getDefaultInstance()).build());
        assertTrue(next(c).getError().getMessage().contains("unexpected message INIT"));

        // The parent goes away: vioblk says so and exits 0.
        c.channel().close();
        WaitStatus w = c.waitFor(20_000);
        assertNotNull(w, "vioblk did not exit at end of file");
        assertEquals(0, w.exitCode(), log());
        assertTrue(log().contains(TITLE + ": info: channel closed by parent (EOF), exiting"), log());
    }

    /** /proc/PID/status and /proc/PID/root of the running device process. */
    private void checkDropped(long pid) throws IOException {
        Dropped.assertDropped(pid, "_vmd", Path.of("/var/empty"));
    }

    @Test
    void aSigkillMidWriteIsEndOfFileForTheParent() throws Exception {
        Disk d = start(false, DiskFormat.FORMAT_RAW);
        Child c = d.child;
        long features = Vioblk.offeredFeatures(false);
        BlkGuest g = new BlkGuest(d.mem, features);
        g.configure(c.channel(), features);
        byte[] big = new byte[128 * 1024];
        new Random(1).nextBytes(big);
        for (int i = 0; i < 100; i++) {
            g.write((long) i * 256, big);
        }
        g.kick(d.kick);
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!g.q.hasUsed() && System.nanoTime() < deadline) {
            Thread.onSpinWait();   // the first write is done, the others are on their way
        }
        c.signal(LibC.SIGKILL);
        assertThrows(PeerClosedException.class, () -> {
            while (true) {
                next(c);   // nothing is sent unasked: the first receive sees the end of the channel
            }
        });
        WaitStatus w = c.waitFor(10_000);
        assertNotNull(w);
        assertTrue(w.describe().contains("SIGKILL") || w.describe().contains("signal 9"), w.describe());
    }

    @Test
    void aFullFileSystemIsIoerrToTheGuestCountedAndNotFatal() throws Exception {
        Path small = Files.createDirectory(bench.dir.resolve("small"));
        sh("mount", "-t", "tmpfs", "-o", "size=1m", "jvmd-vioblk-test", small.toString());
        try {
            image = small.resolve("sparse.img");
            try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(IMAGE);   // 16 MiB of holes on a 1 MiB file system
            }
            Disk d = start(false, DiskFormat.FORMAT_RAW);
            long features = Vioblk.offeredFeatures(false);
            BlkGuest g = new BlkGuest(d.mem, features);
            g.configure(d.child.channel(), features);
            byte[] block = new byte[64 * 1024];
            java.util.Arrays.fill(block, (byte) 0x5a);
            for (int i = 0; i < 32; i++) {   // 2 MiB of new blocks
                g.write((long) i * 128, block);
            }
            g.kick(d.kick);
            Map<Integer, Integer> st = g.awaitAll(d.call, 20_000);
            long failed = st.values().stream().filter(s -> s == VirtioBlk.S_IOERR).count();
            assertTrue(failed > 0 && failed < 32, st.toString());
            long[] r = g.read(0, 4096);
            g.kick(d.kick);
            assertEquals(VirtioBlk.S_OK, g.awaitAll(d.call, 20_000).get((int) r[0]), "it still serves");
            d.child.channel().send(ToVioblk.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
            DiskStats ds = next(d.child).getStats().getDisks(0);
            assertEquals(failed, ds.getErrorsOrDefault("io_enospc", 0), ds.toString());
            assertEquals(32 - failed, ds.getWrites(), ds.toString());
            d.child.close();
        } finally {
            sh("umount", "-l", small.toString());
        }
    }

    @Test
    void aReadOnlyDiskSaysSoAndRefusesWrites() throws Exception {
        Disk d = start(true, DiskFormat.FORMAT_RAW);
        assertTrue(d.ready.getReadOnly());
        long features = Vioblk.offeredFeatures(true);
        BlkGuest g = new BlkGuest(d.mem, features);
        g.configure(d.child.channel(), features);
        int w = g.write(0, new byte[4096]);
        long[] r = g.read(0, 4096);
        g.kick(d.kick);
        Map<Integer, Integer> st = g.awaitAll(d.call, 20_000);
        assertEquals(VirtioBlk.S_IOERR, st.get(w));
        assertEquals(VirtioBlk.S_OK, st.get((int) r[0]));
        d.child.channel().send(ToVioblk.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
        assertEquals(Map.of("read_only", 1L), next(d.child).getStats().getDisks(0).getErrorsMap());

        // Shutdown: it exits 0 without being asked twice.
        d.child.channel().send(ToVioblk.newBuilder().setShutdown(org.jvmd.proto.Shutdown.getDefaultInstance()).build());
        WaitStatus exit = d.child.waitFor(20_000);
        assertNotNull(exit, "vioblk did not exit on Shutdown");
        assertEquals(0, exit.exitCode(), log());
    }

    @Test
    void aRawFileServedAsQcow2FailsTheStartWithTheLibrarysMessage() throws Exception {
        ChildFailedException e = assertThrows(ChildFailedException.class, () -> start(false, DiskFormat.FORMAT_QCOW2));
        assertTrue(e.getMessage().contains("disk 0 (" + image + "): " + image + ": not a qcow2 image (bad magic)"),
                e.getMessage());
    }
}
