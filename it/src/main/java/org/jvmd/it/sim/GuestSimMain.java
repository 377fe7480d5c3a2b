package org.jvmd.it.sim;

import static org.jvmd.it.transport.Simulators.number;
import static org.jvmd.it.transport.Simulators.value;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jvmd.it.transport.Simulators;
import org.jvmd.proto.NicStats;

/**
 * {@code bin/guest-sim}: the guest simulator with vionet-proc as scripts/bench-net's vionet
 * hook.
 *
 * <pre>
 * guest-sim --ns1 GUEST_NS --tap1 TAP --ns2 HOST_NS --tap2 TAP --guest-offloads on|off
 *           [--rx-queue N] [--tx-queue N] [--mrg-buffer BYTES] [--split-header]
 *           [--no-locked-lladdr] [--no-tap-filter] [--one-thread | --two-threads] [--halt-poll-us US] [--user USER] [--chroot DIR]
 *           [--vionet-log FILE] [--vionet-jvm-opt OPT]...
 * </pre>
 *
 * tap1 (in ns1) is the guest's network stack, tap2 (in ns2) is vionet's tap; both must
 * exist. {@code --chroot}: the empty directory vionet chroots into (default: a fresh one,
 * removed at the end). {@code --two-threads}: the guest's transmit and receive paths on a
 * thread each instead of one (a 1-vCPU guest, the default; {@code --one-thread} says so).
 * {@code --halt-poll-us}: how long each simulator thread polls before it
 * sleeps (default 200, KVM's halt_poll_ns on x86; 0: never). Prints {@code ready} on stdout once frames flow both ways, runs until SIGTERM or
 * SIGINT, and then prints the simulator's and vionet's counters on stderr. Exits 1 if
 * vionet dies or a data path stops, 64 on a usage error.
 */
public final class GuestSimMain {
    private GuestSimMain() {}

    public static void main(String[] args) throws Exception {
        SimOptions o;
        try {
            o = parse(args);
        } catch (IllegalArgumentException e) {
            Simulators.exitUsage("guest-sim", e.getMessage(), "guest-sim --ns1 NS --tap1 TAP --ns2 NS --tap2 TAP --guest-offloads on|off"
                    + " [--rx-queue N] [--tx-queue N] [--mrg-buffer BYTES] [--split-header] [--no-locked-lladdr]"
                    + " [--no-tap-filter]"
                    + " [--one-thread | --two-threads] [--halt-poll-us US] [--user USER] [--chroot DIR] [--vionet-log FILE] [--vionet-jvm-opt OPT]...");
            return;
        }
        GuestSim sim;
        try {
            sim = GuestSim.start(o);
        } catch (Exception e) {
            System.err.println("guest-sim: start failed: " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean terminating = new java.util.concurrent.atomic.AtomicBoolean();
        Thread hook = new Thread(() -> {
            terminating.set(true);
            report(sim);
            sim.close();
            stopped.countDown();
        }, "guest-sim-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        System.out.println("ready");
        System.out.flush();
        while (!stopped.await(200, TimeUnit.MILLISECONDS)) {
            if (terminating.get()) {
                continue;   // SIGTERM: the hook reports and closes
            }
            if (sim.vionetGone() || !sim.problems().isEmpty() && pathStopped(sim)) {
                GuestSim.log("stopping: " + String.join("; ", sim.problems()));
                System.exit(1);
            }
        }
    }

    private static boolean pathStopped(GuestSim sim) {
        return sim.problems().stream().anyMatch(p -> p.contains("path stopped"));
    }

    private static void report(GuestSim sim) {
        GuestSim.log(sim.counters().toString());
        for (GuestSim.Waits w : sim.haltWaits()) {
            GuestSim.log("waits " + w);
        }
        if (!sim.vionetGone()) {
            try {
                // may fail when our whole process group is signalled: vionet exits on its own
                // SIGTERM (scripts/bench-net signals this process first, so that it answers)
                NicStats s = sim.stats(500);
                GuestSim.log("vionet: tx frames=" + s.getTxFrames() + " bytes=" + s.getTxBytes()
                        + " csum_offloaded=" + s.getTxCsumOffloaded() + " tso=" + s.getTxTsoFrames()
                        + " sw_segmented=" + s.getTxSwSegmented() + " sw_checksummed=" + s.getTxSwChecksummed()
                        + " | rx frames=" + s.getRxFrames() + " bytes=" + s.getRxBytes()
                        + " csum_offloaded=" + s.getRxCsumOffloaded() + " gso=" + s.getRxGsoFrames()
                        + " | drops=" + s.getDropsMap() + " tap_errors=" + s.getTapErrors()
                        + " | waits polled=" + s.getWaitsPolled() + " slept=" + s.getWaitsSlept());
            } catch (Exception e) {
                GuestSim.log("no stats from vionet: " + e.getMessage());
            }
        }
        for (String p : sim.problems()) {
            // a signal to the whole process group ends vionet too: no problem
            if (!p.startsWith("vionet closed its channel")) {
                GuestSim.log("problem: " + p);
            }
        }
    }

    static SimOptions parse(String[] args) {
        SimOptions o = new SimOptions();
        String ns1 = null;
        String tap1 = null;
        String ns2 = null;
        String tap2 = null;
        String offloads = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--ns1" -> ns1 = value(args, ++i, a);
                case "--tap1" -> tap1 = value(args, ++i, a);
                case "--ns2" -> ns2 = value(args, ++i, a);
                case "--tap2" -> tap2 = value(args, ++i, a);
                case "--guest-offloads" -> offloads = value(args, ++i, a);
                case "--rx-queue" -> o.rxQueueSize(number(args, ++i, a));
                case "--tx-queue" -> o.txQueueSize(number(args, ++i, a));
                case "--mrg-buffer" -> o.mergeableBufferSize(number(args, ++i, a));
                case "--split-header" -> o.txSplitHeader(true);
                case "--no-locked-lladdr" -> o.lockedLladdr(false);
                case "--no-tap-filter" -> o.tapFilter(false);
                case "--one-thread" -> o.oneThread(true);
                case "--two-threads" -> o.oneThread(false);
                case "--halt-poll-us" -> o.haltPollMicros(number(args, ++i, a));
                case "--user" -> o.vionetUser(value(args, ++i, a));
                case "--chroot" -> o.chroot(Path.of(value(args, ++i, a)));
                case "--vionet-log" -> o.vionetLog(Path.of(value(args, ++i, a)));
                case "--vionet-jvm-opt" -> o.vionetJvmOptions(value(args, ++i, a));
                default -> throw new IllegalArgumentException("unknown argument " + a);
            }
        }
        if (tap1 == null || tap2 == null) {
            throw new IllegalArgumentException("--tap1 and --tap2 are required");
        }
        if (!"on".equals(offloads) && !"off".equals(offloads)) {
            throw new IllegalArgumentException("--guest-offloads wants on or off");
        }
        return o.guest(ns1, tap1).host(ns2, tap2).guestOffloads("on".equals(offloads));
    }
}
