package org.jvmd.it.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A raw image in target/ and a {@link BlkSim} on it; vioblk's log goes to target/ too.
 * {@link #restart} starts a fresh vioblk-proc on the same image.
 */
final class BlkFixture implements AutoCloseable {
    final Path image;
    final Path vioblkLog;
    private final String name;
    private final UnaryOperator<BlkOptions> tune;
    BlkSim sim;

    /** A sparse raw image of {@code bytes} and a simulator on it. */
    BlkFixture(String name, long bytes, UnaryOperator<BlkOptions> tune) throws Exception {
        this.name = name;
        this.tune = tune;
        image = Path.of("target", "blk-" + name + ".img").toAbsolutePath();
        vioblkLog = Path.of("target", "vioblk-" + name + ".log").toAbsolutePath();
        Files.deleteIfExists(image);
        Files.deleteIfExists(vioblkLog);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(bytes);
        }
        sim = start();
    }

    private BlkSim start() throws Exception {
        try {
            return BlkSim.start(tune.apply(new BlkOptions().image(image).title("it/" + name + "/vioblk0")
                    .vioblkLog(vioblkLog)));
        } catch (Exception | Error e) {
            throw new AssertionError("block simulator did not start: " + e + "\nvioblk log:\n" + vioblkLogTail(), e);
        }
    }

    /** Closes the simulator (vioblk shuts down or is reaped) and starts another on the same image. */
    BlkSim restart() throws Exception {
        sim.close();
        sim = start();
        return sim;
    }

    String vioblkLogTail() {
        try {
            if (!Files.exists(vioblkLog)) {
                return "(none)";
            }
            String s = Files.readString(vioblkLog);
            return s.length() <= 3000 ? s : "..." + s.substring(s.length() - 3000);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** Fails if the control channel saw vioblk misbehave. */
    void assertNoProblems() {
        List<String> p = sim.problems();
        assertEquals(List.of(), p, "simulator problems; vioblk log:\n" + vioblkLogTail());
    }

    @Override
    public void close() throws IOException {
        try {
            if (sim != null) {
                sim.close();
            }
        } finally {
            Files.deleteIfExists(image);
        }
    }
}
