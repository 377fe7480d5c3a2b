package org.jvmd.it.blk;

import static org.jvmd.it.transport.Simulators.value;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.jvmd.it.transport.Simulators;
import org.jvmd.proto.DiskStats;

/**
 * scripts/bench-blk's vioblk side: the block-driver simulator with vioblk-proc.
 *
 * <pre>
 * BlkBenchMain --image FILE [--row NAME:PATTERN:BLOCK:DEPTH]... [--time SECS] [--warmup SECS]
 *         [--span BYTES] [--segment BYTES] [--user USER] [--vioblk-log FILE] [--vioblk-jvm-opt OPT]...
 * </pre>
 *
 * Starts one vioblk-proc on FILE (raw, or qcow2 with its base chain, by its magic, as vmd) and runs each row in turn: PATTERN is fio's rw name
 * (randread, randwrite, read, write), BLOCK the request size in bytes, DEPTH the queue
 * depth; first {@code --warmup} seconds unmeasured (default 1), then {@code --time} seconds
 * measured (default 5). For each row it prints on stdout
 * <pre>row NAME iops=N mbps=N lat_us=N lat_max_us=N kicks=N interrupts=N</pre>
 * (MB/s in 10^6 bytes, latency the mean per request from its submission to its reaping),
 * then vioblk's counters on stderr. With {@code --step} it prints {@code next NAME} before
 * each row and runs it when a line arrives on stdin (end of input: no more rows), so that
 * another tool can be measured between rows while vioblk stays up and warm. Exits 1 if a request fails or vioblk dies,
 * 64 on a usage error.
 */
public final class BlkBenchMain {
    private BlkBenchMain() {}

    record Row(String name, Pattern.Kind kind, int block, int depth) {}

    public static void main(String[] args) throws Exception {
        BlkOptions o = new BlkOptions().title("blk-sim/vioblk0");
        List<Row> rows = new ArrayList<>();
        double secs = 5;
        double warmup = 1;
        long span = 0;
        boolean step = false;
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--image" -> o.image(Path.of(value(args, ++i, a)));
                    case "--row" -> rows.add(row(value(args, ++i, a)));
                    case "--time" -> secs = Double.parseDouble(value(args, ++i, a));
                    case "--warmup" -> warmup = Double.parseDouble(value(args, ++i, a));
                    case "--step" -> step = true;
                    case "--span" -> span = Long.parseLong(value(args, ++i, a));
                    case "--segment" -> o.segmentBytes(Integer.parseInt(value(args, ++i, a)));
                    case "--user" -> o.user(value(args, ++i, a));
                    case "--vioblk-log" -> o.vioblkLog(Path.of(value(args, ++i, a)));
                    case "--vioblk-jvm-opt" -> o.jvmOption(value(args, ++i, a));
                    default -> throw new IllegalArgumentException("unknown argument " + a);
                }
            }
            if (o.image == null) {
                throw new IllegalArgumentException("--image is required");
            }
            if (rows.isEmpty()) {
                throw new IllegalArgumentException("no --row");
            }
        } catch (IllegalArgumentException e) {
            Simulators.exitUsage("blk-sim", e.getMessage(), "blk-sim --image FILE --row NAME:PATTERN:BLOCK:DEPTH... [--time S] [--warmup S]"
                    + " [--step] [--span BYTES] [--segment BYTES] [--user USER] [--vioblk-log FILE] [--vioblk-jvm-opt OPT]...");
            return;
        }
        int maxDepth = rows.stream().mapToInt(Row::depth).max().orElse(1);
        int maxBlock = rows.stream().mapToInt(Row::block).max().orElse(4096);
        o.maxDepth(maxDepth).bufferBytes(Math.max(4096, (maxBlock + 4095) / 4096 * 4096));
        int status = 0;
        try (BlkSim sim = BlkSim.start(o)) {
            long disk = sim.capacitySectors() * 512;
            if (span == 0) {
                span = disk;   // the virtual disk (a qcow2 file's size is not its disk's)
            }
            if (span > disk) {
                throw new IllegalArgumentException("span " + span + " beyond the disk's " + disk + " bytes");
            }
            long seed = 1;
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
            for (Row r : rows) {
                if (step) {
                    System.out.println("next " + r.name);
                    System.out.flush();
                    if (in.readLine() == null) {
                        break;
                    }
                }
                if (warmup > 0) {
                    sim.run(new Pattern(r.kind, r.block, span, seed++), r.depth, nanos(warmup));
                }
                Pattern p = new Pattern(r.kind, r.block, span, seed++);
                RunStats s = sim.run(p, r.depth, nanos(secs));
                System.out.println(String.format(Locale.ROOT,
                        "row %s iops=%.0f mbps=%.1f lat_us=%.1f lat_max_us=%.1f kicks=%d interrupts=%d",
                        r.name, s.iops(), s.mbPerSecond(), s.meanLatencyMicros(), s.latencyMaxNanos() / 1e3,
                        s.kicks(), s.interrupts()));
                System.out.flush();
                if (p.wrongUsedLength() > 0) {
                    BlkSim.log(r.name + ": " + p.wrongUsedLength() + " completions with a wrong used length, first: "
                            + p.firstWrongUsedLength());
                }
            }
            DiskStats d = sim.stats();
            BlkSim.log("vioblk: reads=" + d.getReads() + " writes=" + d.getWrites() + " read_bytes=" + d.getReadBytes()
                    + " write_bytes=" + d.getWriteBytes() + " flushes=" + d.getFlushes() + " errors=" + d.getErrorsMap()
                    + " unsupported=" + d.getUnsupported());
        } catch (Exception e) {
            BlkSim.log("failed: " + e);
            status = 1;
        }
        System.exit(status);
    }

    private static long nanos(double secs) {
        return (long) (secs * TimeUnit.SECONDS.toNanos(1));
    }

    static Row row(String spec) {
        String[] f = spec.split(":");
        if (f.length != 4) {
            throw new IllegalArgumentException("row " + spec + ": want NAME:PATTERN:BLOCK:DEPTH");
        }
        try {
            return new Row(f[0], Pattern.Kind.of(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("row " + spec + ": " + e.getMessage());
        }
    }
}
