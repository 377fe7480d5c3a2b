package org.jvmd.it.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jvmd.testkit.Host;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.virtio.blk.VirtioBlk;

/**
 * The block-driver simulator on a qcow2 image over a 2-deep base chain (qcow2 over raw): it
 * resolves the chain by magic as vmd does and hands every layer down; data written at queue
 * depth 32 comes back, and qemu-img finds the image clean afterwards. On vioblk's io_uring
 * path (every layer a fixed file of its ring, which serves the reads and rewrites) here, on
 * its I/O threads in {@link BlkQcow2ThreadsTest}.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class BlkQcow2Test {
    static final long DISK = 32L << 20;

    @TempDir
    Path dir;

    /** vioblk's data path in these tests: io_uring here, the I/O threads in {@link BlkQcow2ThreadsTest}. */
    String dataPath() {
        return "uring";
    }

    private static String qemuImg(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("qemu-img"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ":\n" + out);
        return out;
    }

    @Test
    void randomBlocksThroughAThreeLayerChainComeBackAndTheImageChecksClean() throws Exception {
        Host.assumeRoot("BlkQcow2Test (vioblk-proc drops to _vmd and chroots)");
        Files.write(dir.resolve("base.raw"), new byte[(int) DISK]);
        qemuImg("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", dir.resolve("mid.qcow2").toString());
        Path top = dir.resolve("top.qcow2");
        qemuImg("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top.toString());
        Path log = Path.of("target", "vioblk-qcow2-chain-" + dataPath() + ".log").toAbsolutePath();
        Files.createDirectories(log.getParent());
        try (BlkSim sim = BlkSim.start(new BlkOptions().image(top).title("it/qcow2/vioblk0").vioblkLog(log)
                .jvmOption("-Djvmd.vioblk.io=" + dataPath()).maxDepth(32).segmentBytes(4096).bufferBytes(64 << 10))) {
            assertEquals(DISK / VirtioBlk.SECTOR_SIZE, sim.capacitySectors());
            Blocks b = new Blocks(sim.memory(), DISK, 21);
            sim.run(b.writes(b.randomUnits(300)), 32, 0);
            sim.run(b.writes(b.randomUnits(100)), 32, 0);   // rewrites, some into clusters allocated above
            assertEquals(VirtioBlk.S_OK, sim.flush());
            sim.run(b.readAndCompare(64 << 10), 32, 0);
            assertEquals(List.of(), b.mismatches, "data read back through vioblk and the qcow2 chain");
            assertEquals(List.of(), sim.problems(), Files.exists(log) ? Files.readString(log) : "");
        }
        String vlog = Files.readString(log);
        if (dataPath().equals("uring")) {
            assertTrue(vlog.contains("data path io_uring (confined ring, 128 entries, IOSQE_ASYNC, 3 fixed files"), vlog);
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("io_uring: (\\d+) reads/writes on the ring")
                    .matcher(vlog);
            assertTrue(m.find() && Long.parseLong(m.group(1)) > 0, vlog);
        } else {
            assertTrue(vlog.contains("data path 8 I/O threads"), vlog);
        }
        String check = qemuImg("check", top.toString());
        assertEquals(true, check.contains("No errors were found"), check);
    }
}
