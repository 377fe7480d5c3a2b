package org.jvmd.it.sim;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jvmd.sys.net.Netns;

/**
 * A pair of network namespaces made for one test class: the "guest" with tap gtap0 and the
 * "host" with tap htap0, both persistent taps as scripts/bench-net makes them, MTU 1500,
 * addresses in 100.64.0.0/10 and the ULA fd00::/8. {@link #close()} deletes the taps, the
 * namespaces and every process started through it. Nothing in the root namespace is touched.
 */
final class NetLab implements AutoCloseable {
    static final String GUEST_TAP = "gtap0";
    static final String HOST_TAP = "htap0";
    private static final AtomicInteger SEQ = new AtomicInteger();

    final String guestNs;
    final String hostNs;
    final String guest4;
    final String host4;
    final String guest6;
    final String host6;
    private final List<Process> processes = new ArrayList<>();

    /** {@code subnet} picks 100.64.{subnet}.0/24 and fd00:6a76:{subnet}::/64. */
    NetLab(int subnet, boolean addresses) throws IOException {
        String p = "jvmd-it-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet();
        guestNs = p + "-g";
        hostNs = p + "-h";
        guest4 = "100.64." + subnet + ".2";
        host4 = "100.64." + subnet + ".1";
        guest6 = "fd00:6a76:" + subnet + "::2";
        host6 = "fd00:6a76:" + subnet + "::1";
        try {
            for (String ns : List.of(guestNs, hostNs)) {
                ok("ip", "netns", "add", ns);
                ok("ip", "-n", ns, "link", "set", "lo", "up");
            }
            ok("ip", "-n", guestNs, "tuntap", "add", "dev", GUEST_TAP, "mode", "tap");
            ok("ip", "-n", hostNs, "tuntap", "add", "dev", HOST_TAP, "mode", "tap");
            ok("ip", "-n", guestNs, "link", "set", GUEST_TAP, "mtu", "1500", "up");
            ok("ip", "-n", hostNs, "link", "set", HOST_TAP, "mtu", "1500", "up");
            if (addresses) {
                ok("ip", "-n", guestNs, "addr", "add", guest4 + "/24", "dev", GUEST_TAP);
                ok("ip", "-n", hostNs, "addr", "add", host4 + "/24", "dev", HOST_TAP);
                ok("ip", "-n", guestNs, "addr", "add", guest6 + "/64", "dev", GUEST_TAP, "nodad");
                ok("ip", "-n", hostNs, "addr", "add", host6 + "/64", "dev", HOST_TAP, "nodad");
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    SimOptions options() {
        return new SimOptions().guest(guestNs, GUEST_TAP).host(hostNs, HOST_TAP);
    }

    /** Runs a command to completion (at most {@code timeoutSec}); its exit status and output. */
    static Result run(int timeoutSec, String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(timeoutSec, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor();
                return new Result(-1, new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                        + "\n(timed out after " + timeoutSec + " s)");
            }
            return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", cmd), e);
        }
    }

    static String ok(String... cmd) throws IOException {
        Result r = run(30, cmd);
        if (r.status != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (" + r.status + "): " + r.output.strip());
        }
        return r.output;
    }

    /** {@code cmd} inside netns {@code ns}. */
    Result in(String ns, int timeoutSec, String... cmd) throws IOException {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        all.addAll(List.of(cmd));
        return run(timeoutSec, all.toArray(String[]::new));
    }

    String inOk(String ns, String... cmd) throws IOException {
        Result r = in(ns, 60, cmd);
        if (r.status != 0) {
            throw new IOException(String.join(" ", cmd) + " in " + ns + " failed (" + r.status + "): " + r.output.strip());
        }
        return r.output;
    }

    /** Starts {@code cmd} in {@code ns} in the background; killed at close. */
    Process background(String ns, Path log, String... cmd) throws IOException {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        all.addAll(List.of(cmd));
        Process p = new ProcessBuilder(all).redirectErrorStream(true)
                .redirectOutput(log == null ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.to(log.toFile()))
                .start();
        synchronized (processes) {
            processes.add(p);
        }
        return p;
    }

    /** ping -c {@code count} from {@code ns} to {@code addr}; true if every reply came back. */
    boolean ping(String ns, String addr, int count) throws IOException {
        // busybox's ping: scripts/setup installs busybox-static, not iputils
        return in(ns, 5 + 2 * count, "busybox", "ping", "-q", "-c", String.valueOf(count), "-i", "0.2", "-W", "2",
                addr).status == 0;
    }

    /**
     * One iperf3 TCP run of {@code secs} seconds, client in {@code clientNs}, server on
     * {@code serverAddr} in {@code serverNs}; returns the receiver's bits per second.
     */
    double iperf(String serverNs, String serverAddr, String clientNs, int secs, String... extra) throws Exception {
        Process server = background(serverNs, null, "iperf3", "-s", "-1", "-B", serverAddr, "-p", "5201");
        waitFor(() -> in(serverNs, 5, "ss", "-Hltn", "sport = :5201").output.strip().length() > 0, 5000,
                "iperf3 server listening");
        List<String> cmd = new ArrayList<>(List.of("timeout", String.valueOf(secs + 20), "iperf3", "-c", serverAddr,
                "-p", "5201", "-t", String.valueOf(secs), "-J"));
        cmd.addAll(List.of(extra));
        Result r = in(clientNs, secs + 30, cmd.toArray(String[]::new));
        server.waitFor(5, TimeUnit.SECONDS);
        server.destroyForcibly();
        Matcher m = Pattern.compile("\"sum_received\"\\s*:\\s*\\{[^}]*?\"bits_per_second\"\\s*:\\s*([0-9.eE+]+)")
                .matcher(r.output);
        if (r.status != 0 || !m.find()) {
            throw new IOException("iperf3 failed (" + r.status + "): " + tail(r.output, 1500));
        }
        return Double.parseDouble(m.group(1));
    }

    /** ethtool -k of {@code dev} in {@code ns}: feature name -> on. */
    java.util.Map<String, Boolean> offloads(String ns, String dev) throws IOException {
        java.util.Map<String, Boolean> m = new java.util.TreeMap<>();
        for (String line : inOk(ns, "ethtool", "-k", dev).split("\n")) {
            int c = line.indexOf(':');
            if (c > 0) {
                m.put(line.substring(0, c).strip(), line.substring(c + 1).strip().startsWith("on"));
            }
        }
        return m;
    }

    /** Runs {@code work} on a thread inside {@code ns} (sockets it opens belong to that netns). */
    static <T> T inNs(String ns, Callable<T> work) throws Exception {
        return Netns.call(ns, work);
    }

    static void waitFor(Callable<Boolean> cond, long timeoutMillis, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (!cond.call()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeoutMillis + " ms waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    static String tail(String s, int n) {
        return s.length() <= n ? s : s.substring(s.length() - n);
    }

    static Path tempFile(String prefix, String content) throws IOException {
        Path f = Files.createTempFile(prefix, "");
        Files.writeString(f, content);
        return f;
    }

    @Override
    public void close() {
        synchronized (processes) {
            for (Process p : processes) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            processes.clear();
        }
        for (String[] t : List.of(new String[] {guestNs, GUEST_TAP}, new String[] {hostNs, HOST_TAP})) {
            try {
                run(10, "ip", "-n", t[0], "link", "del", t[1]);
            } catch (IOException e) {
                // already gone
            }
        }
        for (String ns : List.of(guestNs, hostNs)) {
            try {
                run(10, "ip", "netns", "del", ns);
            } catch (IOException e) {
                // already gone
            }
        }
    }

    record Result(int status, String output) {}
}
