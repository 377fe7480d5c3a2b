package org.jvmd.it.blk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jvmd.testkit.Host;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.jvmd.proto.DiskStats;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.blk.VirtioBlk;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real vioblk-proc driven by the block-driver simulator: data written at queue depth
 * comes back and lands in the image, every request type answers as virtio 1.2 §5.2.6 says,
 * the process has shed its privileges while it serves I/O, and a SIGKILL mid-write is seen
 * at once and leaves the image usable.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class VioblkProcessTest {
    static final long DISK = 32L << 20;

    @BeforeEach
    void root() {
        Host.assumeRoot("VioblkProcessTest (vioblk-proc drops to _vmd and chroots)");
    }

    /** vioblk's data path in these tests: io_uring here, the I/O threads in {@link VioblkProcessThreadsTest}. */
    String dataPath() {
        return "uring";
    }

    /** A fixture whose vioblk-proc runs {@link #dataPath()}, which its log confirms. */
    BlkFixture fixture(String name, long bytes, java.util.function.UnaryOperator<org.jvmd.it.blk.BlkOptions> tune)
            throws Exception {
        BlkFixture f = new BlkFixture(name + "-" + dataPath(), bytes,
                o -> tune.apply(o).jvmOption("-Djvmd.vioblk.io=" + dataPath()));
        String log = Files.readString(f.vioblkLog);
        assertTrue(log.contains(dataPath().equals("uring") ? "data path io_uring" : "data path 8 I/O threads"),
                "vioblk's data path is " + dataPath() + ":\n" + log);
        return f;
    }

    @Test
    void randomBlocksWrittenAtDepth32FlushedAndReadBack() throws Exception {
        try (BlkFixture f = fixture("random", DISK, o -> o.maxDepth(32).segmentBytes(4096).bufferBytes(64 << 10))) {
            BlkSim sim = f.sim;
            assertEquals(DISK / VirtioBlk.SECTOR_SIZE, sim.capacitySectors());
            assertTrue(Virtq.has(sim.ackedFeatures(), Virtq.F_INDIRECT_DESC), "16 data segments go in indirect tables");
            Blocks b = new Blocks(sim.memory(), DISK, 14);
            RunStats first = sim.run(b.writes(b.randomUnits(300)), 32, 0);
            RunStats second = sim.run(b.writes(b.randomUnits(200)), 32, 0);   // overwrites some of the first
            assertEquals(500, first.requests() + second.requests());
            assertEquals(VirtioBlk.S_OK, sim.flush());
            sim.run(b.readAndCompare(64 << 10), 32, 0);
            assertEquals(List.of(), b.mismatches, "data read back through vioblk");
            assertArrayEquals(b.shadow, Files.readAllBytes(f.image), "the image file holds what was written");
            DiskStats s = sim.stats();
            assertEquals(500, s.getWrites());
            assertEquals(DISK / (64 << 10), s.getReads());
            assertEquals(1, s.getFlushes());
            assertEquals(DISK, s.getReadBytes());
            assertEquals(Map.of(), s.getErrorsMap());
            f.assertNoProblems();
        }
    }

    @Test
    void ringWithoutIndirectDescriptorsOrEventIdxCarriesTheSameData() throws Exception {
        try (BlkFixture f = fixture("plain-ring", 8L << 20,
                o -> o.indirect(false).eventIdx(false).maxDepth(8).segmentBytes(4096).bufferBytes(64 << 10))) {
            BlkSim sim = f.sim;
            assertEquals(0, sim.ackedFeatures() & (1L << Virtq.F_INDIRECT_DESC | 1L << Virtq.F_EVENT_IDX));
            Blocks b = new Blocks(sim.memory(), 8L << 20, 15);
            sim.run(b.writes(b.randomUnits(100)), 8, 0);
            assertEquals(VirtioBlk.S_OK, sim.flush());
            sim.run(b.readAndCompare(16 << 10), 8, 0);
            assertEquals(List.of(), b.mismatches);
            f.assertNoProblems();
        }
    }

    @Test
    void everyRequestTypeAnswersItsStatus() throws Exception {
        try (BlkFixture f = fixture("types", DISK, o -> o.serial("blksim-serial-0001"))) {
            BlkSim sim = f.sim;
            byte[] ones = new byte[64 << 10];
            java.util.Arrays.fill(ones, (byte) 0x5a);
            assertEquals(VirtioBlk.S_OK, sim.write(2048, ones));

            BlkSim.Result id = sim.getId();
            assertEquals(VirtioBlk.S_OK, id.status());
            byte[] want = new byte[VirtioBlk.ID_BYTES];
            byte[] serial = "blksim-serial-0001".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            System.arraycopy(serial, 0, want, 0, serial.length);
            assertArrayEquals(want, id.data(), "GET_ID: the serial, NUL-padded to 20 bytes");

            // WRITE_ZEROES over the middle 32 KiB of what was written: zeros there, 0x5a around
            assertEquals(VirtioBlk.S_OK, sim.writeZeroes(2048 + 32, 64, false));
            byte[] back = sim.read(2048, ones.length).data();
            for (int i = 0; i < back.length; i++) {
                boolean zeroed = i >= 32 * 512 && i < 96 * 512;
                assertEquals(zeroed ? 0 : 0x5a, back[i] & 0xff, "byte " + i + " after WRITE_ZEROES");
            }
            assertEquals(VirtioBlk.S_OK, sim.writeZeroes(2048, 128, true), "WRITE_ZEROES with unmap");
            assertArrayEquals(new byte[ones.length], sim.read(2048, ones.length).data());

            assertEquals(VirtioBlk.S_OK, sim.write(4096, ones));
            assertEquals(VirtioBlk.S_OK, sim.discard(4096, 128));
            assertEquals(VirtioBlk.S_OK, sim.flush());

            long end = sim.capacitySectors();
            assertEquals(VirtioBlk.S_IOERR, sim.read(end - 1, 1024).status(), "a read past the last sector");
            assertEquals(VirtioBlk.S_IOERR, sim.write(end, new byte[512]), "a write past the end");
            assertEquals(VirtioBlk.S_UNSUPP, sim.single(7, 0, null, 512).status(), "type 7 is no request type");
            assertEquals(VirtioBlk.S_OK, sim.read(0, 4096).status(), "the device still serves after the errors");

            DiskStats s = sim.stats();
            assertEquals(1, s.getGetIds());
            assertEquals(2, s.getWriteZeroes());
            assertEquals(1, s.getDiscards());
            assertEquals(1, s.getFlushes());
            assertEquals(1, s.getUnsupported());
            assertEquals(2, s.getErrorsMap().values().stream().mapToLong(Long::longValue).sum(),
                    "the two out-of-range requests, counted: " + s.getErrorsMap());
            f.assertNoProblems();
        }
    }

    @Test
    void vioblkServesIoUnprivilegedInAnEmptyChroot() throws Exception {
        try (BlkFixture f = fixture("privs", DISK, o -> o.maxDepth(8))) {
            BlkSim sim = f.sim;
            CompletableFuture<RunStats> io = CompletableFuture.supplyAsync(() -> {
                try {
                    return sim.run(new Pattern(Pattern.Kind.RANDWRITE, 4096, DISK, 1), 8, TimeUnit.SECONDS.toNanos(3));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(1000);
            Map<String, String> st = status(sim.vioblkPid());
            Path root = Files.readSymbolicLink(Path.of("/proc", Integer.toString(sim.vioblkPid()), "root"));
            List<String> inRoot;
            try (Stream<Path> s = Files.list(Path.of("/proc", Integer.toString(sim.vioblkPid()), "root"))) {
                inRoot = s.map(p -> p.getFileName().toString()).toList();
            }
            assertTrue(io.get(30, TimeUnit.SECONDS).requests() > 0);
            assertTrue(!io.isCompletedExceptionally());

            for (String uid : st.get("Uid").split("\\s+")) {
                assertNotEquals("0", uid, "Uid: " + st.get("Uid"));
            }
            for (String gid : st.get("Gid").split("\\s+")) {
                assertNotEquals("0", gid, "Gid: " + st.get("Gid"));
            }
            assertEquals("1", st.get("NoNewPrivs"));
            assertEquals("2", st.get("Seccomp"), "a seccomp filter (SECCOMP_MODE_FILTER)");
            assertEquals("0000000000000000", st.get("CapEff"));
            assertEquals("0000000000000000", st.get("CapPrm"));
            assertEquals(sim.chroot().toRealPath(), root, "vioblk's root is the chroot it was given");
            assertEquals(List.of(), inRoot, "and that root is empty");
            if (dataPath().equals("uring")) {
                // after the drop, vioblk itself checked its sandbox: its ring refused an SQE the
                // restrictions forbid (EACCES) and the seccomp filter refused io_uring_setup (EPERM)
                assertTrue(Files.readString(f.vioblkLog).contains(
                        "io_uring confined: forbidden SQE: EACCES, io_uring_setup: EPERM"), f.vioblkLogTail());
            }
            f.assertNoProblems();
        }
    }

    @Test
    void sigkillMidWriteIsSeenAsEofAndTheImageStaysUsable() throws Exception {
        try (BlkFixture f = fixture("sigkill", DISK, o -> o.maxDepth(32))) {
            BlkSim sim = f.sim;
            Blocks b = new Blocks(sim.memory(), DISK, 16);
            int[] units = b.randomUnits(256);
            sim.run(b.writes(units), 32, 0);
            assertEquals(VirtioBlk.S_OK, sim.flush());

            // writes to the upper half go on (their data is not checked) until vioblk dies
            long upper = DISK / 2;
            CompletableFuture<Throwable> io = CompletableFuture.supplyAsync(() -> {
                try {
                    sim.run(new Workload() {
                        final Pattern p = new Pattern(Pattern.Kind.RANDWRITE, 4096, DISK / 2, 2);

                        @Override
                        public boolean next(BlkRequest r) {
                            p.next(r);
                            r.set(r.type(), r.sector() + upper / VirtioBlk.SECTOR_SIZE, r.len());
                            return true;
                        }

                        @Override
                        public void done(BlkRequest r, int status, int usedLen, long latencyNanos) {
                            assertEquals(VirtioBlk.S_OK, status, r + " status");
                        }
                    }, 32, TimeUnit.SECONDS.toNanos(60));
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Thread.sleep(1000);
            assertTrue(!io.isDone(), "writes are going on: " + (io.isDone() ? io.get() : ""));
            long killed = System.nanoTime();
            sim.killVioblk();
            Throwable t = io.get(20, TimeUnit.SECONDS);
            long seenMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            assertTrue(t instanceof VioblkGoneException, "the driver sees vioblk gone: " + t);
            assertTrue(t.getMessage().contains("EOF") && t.getMessage().contains("killed by signal 9"), t.getMessage());
            assertTrue(seenMillis < 5000, "seen " + seenMillis + " ms after the kill");
            assertTrue(sim.vioblkGone());
            assertEquals(DISK, Files.size(f.image), "the image keeps its size");

            BlkSim again = f.restart();
            Blocks lower = new Blocks(again.memory(), DISK, 0);
            System.arraycopy(b.shadow, 0, lower.shadow, 0, (int) upper);
            Workload check = lower.readAndCompare(64 << 10);
            again.run(new Workload() {
                @Override
                public boolean next(BlkRequest r) throws org.jvmd.virtio.GuestFault {
                    return check.next(r) && r.sector() * VirtioBlk.SECTOR_SIZE < upper;
                }

                @Override
                public void done(BlkRequest r, int status, int usedLen, long latencyNanos)
                        throws org.jvmd.virtio.GuestFault {
                    check.done(r, status, usedLen, latencyNanos);
                }
            }, 32, 0);
            assertEquals(List.of(), lower.mismatches, "what was flushed before the kill reads back");
            Blocks fresh = new Blocks(again.memory(), DISK, 17);
            again.run(fresh.writes(fresh.randomUnits(fresh.shadow.length / Blocks.UNIT), true), 32, 0);
            assertEquals(VirtioBlk.S_OK, again.flush());
            again.run(fresh.readAndCompare(64 << 10), 32, 0);
            assertEquals(List.of(), fresh.mismatches, "the image takes new writes after the kill");
            f.assertNoProblems();
        }
    }

    /** /proc/PID/status as name -> value (tabs between a field's values made single spaces). */
    static Map<String, String> status(int pid) throws java.io.IOException {
        Map<String, String> m = new HashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc", Integer.toString(pid), "status"))) {
            int c = line.indexOf(':');
            if (c > 0) {
                m.put(line.substring(0, c), line.substring(c + 1).strip().replaceAll("\\s+", " "));
            }
        }
        return m;
    }
}
