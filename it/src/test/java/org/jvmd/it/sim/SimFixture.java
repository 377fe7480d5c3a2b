package org.jvmd.it.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jvmd.proto.NicStats;

/** A {@link NetLab} with a running {@link GuestSim}; vionet's log goes to target/. */
final class SimFixture implements AutoCloseable {
    final NetLab lab;
    final GuestSim sim;
    final Path vionetLog;

    SimFixture(String name, int subnet, boolean addresses, java.util.function.UnaryOperator<SimOptions> tune)
            throws Exception {
        lab = new NetLab(subnet, addresses);
        vionetLog = Path.of("target", "vionet-" + name + ".log").toAbsolutePath();
        Files.deleteIfExists(vionetLog);
        GuestSim s = null;
        try {
            s = GuestSim.start(tune.apply(lab.options().title("it/" + name + "/vionet0").vionetLog(vionetLog)));
        } catch (Exception | Error e) {
            lab.close();
            throw new AssertionError("guest simulator did not start: " + e + "\nvionet log:\n" + vionetLogTail(), e);
        }
        sim = s;
    }

    String vionetLogTail() {
        try {
            return Files.exists(vionetLog) ? NetLab.tail(Files.readString(vionetLog), 3000) : "(none)";
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** Fails if the simulator saw the device misbehave or a path stopped. */
    void assertNoProblems() {
        List<String> p = sim.problems();
        assertEquals(List.of(), p, "simulator problems; vionet log:\n" + vionetLogTail());
    }

    static long drops(NicStats s) {
        return s.getDropsMap().values().stream().mapToLong(Long::longValue).sum();
    }

    static long drop(NicStats s, String key) {
        return s.getDropsMap().getOrDefault(key, 0L);
    }

    static Map<String, Long> dropDelta(NicStats before, NicStats after) {
        Map<String, Long> d = new java.util.TreeMap<>();
        after.getDropsMap().forEach((k, v) -> {
            long delta = v - before.getDropsMap().getOrDefault(k, 0L);
            if (delta != 0) {
                d.put(k, delta);
            }
        });
        return d;
    }

    @Override
    public void close() {
        try {
            sim.close();
        } finally {
            lab.close();
        }
    }
}
