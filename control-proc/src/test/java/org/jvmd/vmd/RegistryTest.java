package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jvmd.proto.Termination;
import org.jvmd.vmd.Registry.StartOptions;
import org.jvmd.vmd.Registry.VmInfo;
import org.jvmd.vmd.Registry.VmRef;
import org.jvmd.vmd.config.Caller;
import org.jvmd.vmd.config.DiskSpec;
import org.jvmd.vmd.config.Config;
import org.jvmd.vmd.config.ConfigEnvironment;
import org.jvmd.vmd.config.ConfigParser;
import org.jvmd.vmd.config.EtcAccounts;
import org.jvmd.vmd.config.LladdrGenerator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The registry's state machine over {@link RecordingLauncher} (events played by the test). */
class RegistryTest {
    static final EtcAccounts ACCOUNTS = EtcAccounts.of("""
            root:x:0:0:root:/root:/bin/sh
            joe:x:1000:1000:Joe:/home/joe:/bin/sh
            ann:x:1001:1001:Ann:/home/ann:/bin/sh
            """, """
            root:x:0:
            vmusers:x:2000:ann
            """);
    static final Caller ROOT = Caller.root();
    static final Caller JOE = new Caller(1000, ACCOUNTS);
    static final Caller ANN = new Caller(1001, ACCOUNTS);

    @TempDir
    Path dir;
    RecordingLauncher launcher;
    AtomicLong now;
    Registry reg;

    @BeforeEach
    void setUp() throws IOException {
        Files.writeString(dir.resolve("bzImage"), "k");
        launcher = new RecordingLauncher();
        now = new AtomicLong(1_000_000_000L);
        reg = new Registry(launcher, Runnable::run, now::get, LladdrGenerator.secure());
    }

    Config parse(String text) {
        var env = new ConfigEnvironment(ACCOUNTS, LladdrGenerator.secure(), 2, Map.of());
        var r = new ConfigParser(env).parse("vm.conf", text, dir);
        assertTrue(r.ok(), r.errors().toString());
        return r.config().orElseThrow();
    }

    static final String CONF = """
            vm "web" {
              boot "bzImage"
              owner joe
              disable
            }
            vm "db" {
              boot "bzImage"
              owner :vmusers
              memory 1G
              disable
            }
            vm "auto" {
              boot "bzImage"
            }
            """;

    VmInfo info(String name) {
        return reg.info(VmRef.of(name)).orElseThrow();
    }

    @Test
    void loadAssignsIdsInOrderAndReturnsOnlyEnabledVms() {
        List<Integer> toStart = reg.load(parse(CONF));
        assertEquals(List.of(3), toStart);
        assertEquals(1, info("web").id());
        assertEquals(2, info("db").id());
        assertEquals(VmState.STOPPED, info("web").state());
        assertEquals(1L << 30, info("db").maxMemory());
    }

    @Test
    void startGoesThroughStartingToRunningWithPidAndTty() throws Exception {
        reg.load(parse(CONF));
        CompletableFuture<VmInfo> f = reg.start(VmRef.of("web"), StartOptions.none(), JOE);
        assertEquals(VmState.STARTING, info("web").state());
        assertFalse(f.isDone());
        launcher.last().started();
        VmInfo v = f.get(1, TimeUnit.SECONDS);
        assertEquals(VmState.RUNNING, v.state());
        assertEquals(launcher.last().pid, v.pid());
        assertEquals("/dev/pts/" + launcher.last().pid, v.tty());
    }

    @Test
    void curMemoryIsWhatTheVmProcessReportsAndNothingWithoutAProcess() throws Exception {
        reg.load(parse(CONF));
        assertEquals(0, info("db").curMemory(), "stopped");
        reg.start(VmRef.of("db"), StartOptions.none(), ROOT);
        launcher.last().started();
        assertEquals(0, info("db").curMemory(), "no report yet");
        launcher.last().resident = 37L << 20;
        assertEquals(37L << 20, info("db").curMemory());
        assertEquals(1L << 30, info("db").maxMemory());
        launcher.last().resident = 300L << 20;
        assertEquals(300L << 20, reg.status().get(1).curMemory(), "status follows the reports");
        launcher.last().terminated(Termination.TERM_POWEROFF);
        assertEquals(0, info("db").curMemory());
    }

    @Test
    void startOfARunningVmIsRefusedWithEalready() throws Exception {
        reg.load(parse(CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        launcher.last().started();
        VmdException e = assertThrows(VmdException.class, () -> reg.start(VmRef.of(1), StartOptions.none(), ROOT));
        assertEquals(VmdException.EALREADY, e.errno());
    }

    @Test
    void othersMayNotStartStopOrPauseAVmTheyDoNotOwn() throws Exception {
        reg.load(parse(CONF));
        assertEquals(VmdException.EPERM, assertThrows(VmdException.class,
                () -> reg.start(VmRef.of("web"), StartOptions.none(), ANN)).errno());
        reg.start(VmRef.of("web"), StartOptions.none(), JOE);
        launcher.last().started();
        assertEquals(VmdException.EPERM,
                assertThrows(VmdException.class, () -> reg.stop(VmRef.of("web"), false, ANN)).errno());
        assertEquals(VmdException.EPERM,
                assertThrows(VmdException.class, () -> reg.pause(VmRef.of("web"), ANN)).errno());
        assertEquals(VmdException.EPERM,
                assertThrows(VmdException.class, () -> reg.waitFor(VmRef.of("web"), ANN)).errno());
    }

    @Test
    void groupMembersMayStartAVmOwnedByTheirGroup() throws Exception {
        reg.load(parse(CONF));
        reg.start(VmRef.of("db"), StartOptions.none(), ANN);
        assertEquals(VmState.STARTING, info("db").state());
        assertEquals(VmdException.EPERM, assertThrows(VmdException.class,
                () -> reg.stop(VmRef.of("db"), false, JOE)).errno());
    }

    @Test
    void unknownVmIsEnoent() {
        reg.load(parse(CONF));
        assertEquals(VmdException.ENOENT, assertThrows(VmdException.class,
                () -> reg.stop(VmRef.of("nope"), false, ROOT)).errno());
        assertEquals(VmdException.ENOENT, assertThrows(VmdException.class,
                () -> reg.start(VmRef.of(42), StartOptions.none(), ROOT)).errno());
    }

    @Test
    void stopOfAStoppedVmIsEinval() {
        reg.load(parse(CONF));
        VmdException e = assertThrows(VmdException.class, () -> reg.stop(VmRef.of("web"), false, ROOT));
        assertEquals(VmdException.EINVAL, e.errno());
        assertEquals("cannot stop vm that is not running", e.getMessage());
    }

    @Test
    void stopAsksTheProcessAndCompletesWhenItTerminates() throws Exception {
        reg.load(parse(CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        var l = launcher.last();
        l.started();
        CompletableFuture<VmInfo> done = reg.stop(VmRef.of("web"), false, JOE);
        assertEquals(VmState.STOPPING, info("web").state());
        assertEquals(List.of("stop"), l.calls);
        assertFalse(done.isDone());
        l.terminated(Termination.TERM_STOPPED);
        assertEquals(VmState.STOPPED, done.get(1, TimeUnit.SECONDS).state());
        assertEquals(VmState.STOPPED, info("web").state());
        assertEquals(0, info("web").pid());
        assertEquals("", info("web").tty());
    }

    @Test
    void pauseAndUnpauseMoveBetweenRunningAndPaused() throws Exception {
        reg.load(parse(CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        var l = launcher.last();
        l.started();
        assertEquals(VmState.PAUSED, reg.pause(VmRef.of("web"), JOE).state());
        assertEquals(VmdException.EINVAL,
                assertThrows(VmdException.class, () -> reg.pause(VmRef.of("web"), JOE)).errno());
        assertEquals(VmState.RUNNING, reg.unpause(VmRef.of("web"), JOE).state());
        assertEquals(List.of("pause", "unpause"), l.calls);
    }

    @Test
    void guestRebootRestartsTheVm() {
        reg.load(parse(CONF));
        assertDoesNotThrow(() -> reg.start(VmRef.of("web"), StartOptions.none(), ROOT));
        launcher.last().started();
        String tty = info("web").tty();
        now.addAndGet(TimeUnit.SECONDS.toNanos(10));
        launcher.last().terminated(Termination.TERM_REBOOT);
        assertEquals(2, launcher.launches.size());
        assertEquals(VmState.STARTING, info("web").state());
        // the launcher keeps the VM's console for the next process: status keeps showing it
        assertEquals(tty, info("web").tty(), "the tty across the reboot");
        assertEquals(List.of(), launcher.released, "a reboot releases nothing");
        launcher.last().started();
        assertEquals(VmState.RUNNING, info("web").state());
    }

    @Test
    void rebootsAreRateLimitedToThreeStartsInSixSeconds() throws Exception {
        reg.load(parse(CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        for (int i = 0; i < 2; i++) {
            launcher.last().started();
            now.addAndGet(TimeUnit.SECONDS.toNanos(1));
            launcher.last().terminated(Termination.TERM_REBOOT);
        }
        assertEquals(3, launcher.launches.size());
        launcher.last().started();
        now.addAndGet(TimeUnit.SECONDS.toNanos(1));
        launcher.last().terminated(Termination.TERM_REBOOT);
        assertEquals(3, launcher.launches.size(), "a fourth start within 6 s is refused");
        assertEquals(VmState.STOPPED, info("web").state());
        assertEquals(List.of(info("web").id()), launcher.released, "stopped for good: its console goes");
        assertEquals("", info("web").tty());
    }

    @Test
    void rebootAfterAStopRequestDoesNotRestart() throws Exception {
        reg.load(parse(CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        launcher.last().started();
        reg.stop(VmRef.of("web"), false, ROOT);
        launcher.last().terminated(Termination.TERM_REBOOT);
        assertEquals(1, launcher.launches.size());
        assertEquals(VmState.STOPPED, info("web").state());
        assertEquals(List.of(info("web").id()), launcher.released);
    }

    @Test
    void aFailedLaunchLeavesTheVmStoppedAndFailsTheStart() throws Exception {
        reg.load(parse(CONF));
        launcher.failNext = new IOException("vm/web exited with status 1 before Ready");
        CompletableFuture<VmInfo> f = reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(1, TimeUnit.SECONDS));
        assertEquals(VmdException.EIO, ((VmdException) e.getCause()).errno());
        assertEquals(VmState.STOPPED, info("web").state());
        assertEquals(List.of(info("web").id()), launcher.released, "what the launch kept goes");
    }

    @Test
    void aRefusedDiskImageReachesVmctlWithItsOwnMessage() throws Exception {
        reg.load(parse(CONF));
        launcher.failNext = new DiskImages.DiskImageException("disk 0 (/var/vm/web.img): in use by another VM (locked)");
        CompletableFuture<VmInfo> f = reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        VmdException e = (VmdException) assertThrows(ExecutionException.class, () -> f.get(1, TimeUnit.SECONDS))
                .getCause();
        assertEquals(0, e.errno(), "errno 0: vmctl prints the message");
        assertEquals("disk 0 (/var/vm/web.img): in use by another VM (locked)", e.getMessage());
        assertEquals(VmState.STOPPED, info("web").state());
    }

    @Test
    void disksFromVmctlReachTheLauncherWithTheRegistrysOwnCopiesOfTheirDescriptors() throws Exception {
        reg.load(parse(CONF + "vm \"tpl\" {\n  boot \"bzImage\"\n  disk \"/var/vm/tpl.img\"\n  disable\n"
                + "  allow instance { disk, owner joe }\n}\n"));
        assertEquals(List.of("/var/vm/tpl.img"), info("tpl").disks());
        org.jvmd.sys.Fd image = org.jvmd.sys.LibC.open("/dev/null", org.jvmd.sys.LibC.O_RDONLY | org.jvmd.sys.LibC.O_CLOEXEC);
        var joes = List.of(new DiskSpec(Path.of("/home/joe/a.img"), DiskSpec.Format.RAW, List.of(image)));
        StartOptions withDisks = new StartOptions(java.util.Optional.of("tpl"), java.util.Optional.empty(), 0, -1,
                List.of(), joes);
        reg.start(VmRef.of("j1"), withDisks, JOE);
        DiskSpec kept = launcher.last().spec.disks().get(0);
        assertEquals(List.of(Path.of("/home/joe/a.img"), DiskSpec.Format.RAW), List.of(kept.path(), kept.format()));
        image.close(); // the request's copy is its handler's (Control.handle closes it)
        assertEquals(1, kept.passed().size());
        assertTrue(kept.passed().get(0).isOpen() && kept.passed().get(0) != image, "the registry keeps a duplicate");
        assertEquals(List.of("raw:/home/joe/a.img"), info("j1").disks());
        assertEquals(VmdException.EPERM, assertThrows(VmdException.class,
                () -> reg.start(VmRef.of("web"), new StartOptions(java.util.Optional.empty(), java.util.Optional.empty(),
                        0, -1, List.of(), joes), JOE)).errno(), "only root overrides a configured VM's disks");
        reg.start(VmRef.of("x1"), new StartOptions(java.util.Optional.of("tpl"), java.util.Optional.empty(), 0, -1,
                List.of(), List.of()), JOE);
        assertEquals(List.of(DiskSpec.of(Path.of("/var/vm/tpl.img"), DiskSpec.Format.AUTO)),
                launcher.last().spec.disks(), "an instance without -d inherits its template's disks");
    }

    /** vmctl log verbose reaches every running VM process (and through it its devices), not only vmd. */
    @Test
    void logVerboseReachesEveryRunningVmProcess() throws Exception {
        reg.load(parse(CONF));
        CompletableFuture<VmInfo> web = reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        launcher.last().started();
        web.get(1, TimeUnit.SECONDS);
        RecordingLauncher.Launch w = launcher.last();
        CompletableFuture<VmInfo> db = reg.start(VmRef.of("db"), StartOptions.none(), ROOT);
        launcher.last().started();
        db.get(1, TimeUnit.SECONDS);
        reg.setVerbose(true);
        reg.setVerbose(false);
        assertEquals(List.of("verbose", "brief"), w.calls);
        assertEquals(List.of("verbose", "brief"), launcher.last().calls);
    }

    @Test
    void aProcessThatDiesBeforeStartedFailsTheStart() throws Exception {
        reg.load(parse(CONF));
        CompletableFuture<VmInfo> f = reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        launcher.last().terminated(Termination.TERM_ERROR);
        assertThrows(ExecutionException.class, () -> f.get(1, TimeUnit.SECONDS));
        assertEquals(VmState.STOPPED, info("web").state());
    }

    @Test
    void waitCompletesWhenTheVmTerminates() throws Exception {
        reg.load(parse(CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        launcher.last().started();
        CompletableFuture<VmInfo> w = reg.waitFor(VmRef.of("web"), JOE);
        assertFalse(w.isDone());
        launcher.last().terminated(Termination.TERM_POWEROFF);
        assertEquals("web", w.get(1, TimeUnit.SECONDS).name());
    }

    @Test
    void reloadKeepsRunningVmsAndDropsStoppedOnesThatAreGone() throws Exception {
        reg.load(parse(CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        launcher.last().started();
        List<Integer> toStart = reg.load(parse("""
                vm "new" {
                  boot "bzImage"
                }
                """));
        assertEquals(VmState.RUNNING, info("web").state(), "web keeps running");
        assertTrue(reg.info(VmRef.of("db")).isEmpty(), "stopped db is gone");
        assertEquals(List.of(info("new").id()), toStart);
        assertEquals(4, info("new").id(), "ids are never reused");
        launcher.last().terminated(Termination.TERM_POWEROFF);
        assertTrue(reg.info(VmRef.of("web")).isEmpty(), "web is forgotten once it stops");
    }

    @Test
    void addKeepsEveryKnownVmAsItIsAndRegistersTheRest() throws Exception {
        reg.load(parse(CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        launcher.last().started();
        Registry.Added added = reg.add(parse("""
                vm "web" {
                  boot "bzImage"
                  memory 2G
                }
                vm "db" {
                  boot "bzImage"
                  memory 3G
                  disable
                }
                vm "new" {
                  boot "bzImage"
                  memory 256M
                }
                vm "off" {
                  boot "bzImage"
                  disable
                }
                """));
        assertEquals(VmState.RUNNING, info("web").state(), "running web is untouched");
        assertEquals(512L << 20, info("web").maxMemory(), "and keeps its settings");
        assertEquals(1L << 30, info("db").maxMemory(), "stopped db is known: skipped, not redefined");
        assertEquals(VmState.STOPPED, info("auto").state(), "auto is not in the file and stays");
        assertEquals(4, info("new").id());
        assertEquals(256L << 20, info("new").maxMemory());
        assertEquals(5, info("off").id());
        assertEquals(List.of(4), added.toStart(), "only the enabled VMs added are to start");
        assertEquals(List.of("web", "db", "auto", "new", "off"),
                reg.config().vms().stream().map(org.jvmd.vmd.config.VmSpec::name).toList());
    }

    @Test
    void addKeepsKnownSwitchesAndTheGlobalsAndReturnsTheNewSwitches() {
        reg.load(parse("local prefix 100.80.0.0/16\nswitch \"lan\" {\n  interface br-lan\n}\n" + CONF));
        Registry.Added added = reg.add(parse("""
                local prefix 100.90.0.0/16
                switch "lan" {
                  interface br-other
                }
                switch "dmz" {
                  interface br-dmz
                }
                """));
        assertEquals(List.of("dmz"), added.switches().stream().map(org.jvmd.vmd.config.SwitchSpec::name).toList());
        assertEquals("br-lan", reg.config().switchNamed("lan").orElseThrow().ifname(), "a known switch is kept");
        assertEquals("br-dmz", reg.config().switchNamed("dmz").orElseThrow().ifname());
        assertEquals("100.80.0.0/16", reg.config().globals().localPrefix().toString(), "globals are not loaded");
        assertEquals(List.of(), added.toStart());
    }

    @Test
    void purgeOfVmsForgetsStoppedVmsAtOnceAndRunningOnesWhenTheyEnd() throws Exception {
        reg.load(parse("local prefix 100.80.0.0/16\nswitch \"lan\" {\n  interface br-lan\n}\n" + CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        launcher.last().started();
        reg.purge(true, false);
        assertTrue(reg.info(VmRef.of("db")).isEmpty(), "stopped db is forgotten");
        assertTrue(reg.info(VmRef.of("auto")).isEmpty());
        assertEquals(VmState.RUNNING, info("web").state(), "web runs until it is stopped");
        assertEquals(List.of(), reg.config().vms());
        assertEquals(1, reg.config().switches().size(), "switches stay");
        assertEquals("100.64.0.0/10", reg.config().globals().localPrefix().toString(), "the local prefix is reset");
        launcher.last().terminated(Termination.TERM_POWEROFF);
        assertTrue(reg.info(VmRef.of("web")).isEmpty(), "web is forgotten once it stops");
        assertEquals(List.of(), reg.status());
        VmdException e = assertThrows(VmdException.class, () -> reg.start(VmRef.of("db"), StartOptions.none(), ROOT));
        assertEquals(VmdException.ENOENT, e.errno());
    }

    @Test
    void purgeOfSwitchesKeepsTheVms() {
        reg.load(parse("switch \"lan\" {\n  interface br-lan\n}\n" + CONF));
        reg.purge(false, true);
        assertEquals(List.of(), reg.config().switches());
        assertEquals(3, reg.status().size());
        assertEquals(3, reg.config().vms().size());
    }

    @Test
    void staggeredVmsWaitUntilStarted() {
        List<Integer> ids = reg.load(parse(CONF));
        reg.markWaiting(ids);
        assertEquals(VmState.WAITING, info("auto").state());
        reg.startQueued(ids.get(0));
        assertEquals(VmState.STARTING, info("auto").state());
    }

    @Test
    void onlyRootStartsAdHocVms() throws Exception {
        reg.load(parse(CONF));
        StartOptions adhoc = new StartOptions(java.util.Optional.empty(),
                java.util.Optional.of(dir.resolve("bzImage")), 256L << 20, 1, List.of(), List.of());
        assertEquals(VmdException.EPERM, assertThrows(VmdException.class,
                () -> reg.start(VmRef.of("tmp"), adhoc, JOE)).errno());
        reg.start(VmRef.of("tmp"), adhoc, ROOT);
        VmInfo v = info("tmp");
        assertEquals(256L << 20, v.maxMemory());
        assertEquals(1, launcher.last().spec.interfaces().size());
        launcher.last().started();
        reg.stop(VmRef.of("tmp"), true, ROOT);
        assertEquals(List.of("stop-force"), launcher.last().calls);
        launcher.last().terminated(Termination.TERM_STOPPED);
        assertTrue(reg.info(VmRef.of("tmp")).isEmpty(), "an ad-hoc VM is forgotten when it stops");
    }

    @Test
    void stopAllStopsEveryRunningVm() throws Exception {
        reg.load(parse(CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        reg.start(VmRef.of("db"), StartOptions.none(), ROOT);
        launcher.launches.forEach(RecordingLauncher.Launch::started);
        Thread t = Thread.ofVirtual().start(() -> reg.stopAll(100));
        t.join(5000);
        for (var l : launcher.launches) {
            assertTrue(l.calls.contains("stop"), l.calls.toString());
            assertTrue(l.calls.contains("kill"), "killed after the timeout: " + l.calls);
        }
        assertEquals(VmState.STOPPED, info("web").state());
        assertEquals(VmState.STOPPED, info("db").state());
    }

    @Test
    void aStopWhileTheProcessIsStillStartingForcesItOnceLaunched() throws Exception {
        java.util.List<Runnable> pending = new java.util.ArrayList<>();
        reg = new Registry(launcher, pending::add, now::get, LladdrGenerator.secure());
        reg.load(parse(CONF));
        reg.start(VmRef.of("web"), StartOptions.none(), ROOT);
        CompletableFuture<VmInfo> stopped = reg.stop(VmRef.of("web"), false, ROOT);
        pending.remove(0).run();
        assertEquals(List.of(), launcher.last().calls);
        pending.remove(0).run();
        assertEquals(List.of("stop-force"), launcher.last().calls);
        launcher.last().terminated(Termination.TERM_STOPPED);
        assertEquals(VmState.STOPPED, stopped.get(1, TimeUnit.SECONDS).state());
    }

    @Test
    void startDashLAddsALocalInterface() throws Exception {
        reg.load(parse(CONF));
        StartOptions local = new StartOptions(java.util.Optional.empty(),
                java.util.Optional.of(dir.resolve("bzImage")), 0, -1, List.of("."), List.of());
        reg.start(VmRef.of("tmp"), local, ROOT);
        var ifs = launcher.last().spec.interfaces();
        assertEquals(1, ifs.size());
        assertTrue(ifs.get(0).local());
        assertTrue(ifs.get(0).switchName().isEmpty());
    }

    private static void assertDoesNotThrow(org.junit.jupiter.api.function.Executable e) {
        org.junit.jupiter.api.Assertions.assertDoesNotThrow(e);
    }

    @Test
    void aVmKeepsThePassedFilesThroughRebootsAndClosesThemWhenForgottenOrReplaced() throws Exception {
        reg.load(parse(CONF + "vm \"tpl\" {\n  boot \"bzImage\"\n  disable\n"
                + "  allow instance { boot, disk, owner joe }\n}\n"));
        org.jvmd.sys.Fd kernel = org.jvmd.sys.LibC.open("/dev/null", org.jvmd.sys.LibC.O_RDONLY | org.jvmd.sys.LibC.O_CLOEXEC);
        org.jvmd.sys.Fd image = org.jvmd.sys.LibC.open("/dev/null", org.jvmd.sys.LibC.O_RDONLY | org.jvmd.sys.LibC.O_CLOEXEC);
        StartOptions opts = new StartOptions(java.util.Optional.of("tpl"), java.util.Optional.of(Path.of("/home/joe/k")),
                0, -1, List.of(), List.of(new DiskSpec(Path.of("/home/joe/a.img"), DiskSpec.Format.RAW, List.of(image))),
                java.util.Optional.empty()).withBootFds(java.util.Optional.of(kernel), java.util.Optional.empty());
        reg.start(VmRef.of("j1"), opts, JOE);
        kernel.close();
        image.close(); // the request's copies are its handler's
        org.jvmd.vmd.config.VmSpec spec = launcher.last().spec;
        List<org.jvmd.sys.Fd> kept = spec.passedFds();
        assertEquals(2, kept.size());
        assertTrue(kept.stream().allMatch(org.jvmd.sys.Fd::isOpen));
        launcher.last().started();
        launcher.last().terminated(Termination.TERM_REBOOT);
        assertTrue(kept.stream().allMatch(org.jvmd.sys.Fd::isOpen), "a guest reboot starts it again from the same files");
        assertEquals(kept, launcher.last().spec.passedFds());
        launcher.last().started();
        launcher.last().terminated(Termination.TERM_POWEROFF);
        assertTrue(kept.stream().noneMatch(org.jvmd.sys.Fd::isOpen), "the instance is forgotten, its passed files closed");

        // root's -b on a configured VM: kept while it is the VM's kernel, closed when reload replaces it
        org.jvmd.sys.Fd rootKernel = org.jvmd.sys.LibC.open("/dev/null", org.jvmd.sys.LibC.O_RDONLY | org.jvmd.sys.LibC.O_CLOEXEC);
        reg.start(VmRef.of("web"), new StartOptions(java.util.Optional.empty(), java.util.Optional.of(Path.of("/root/k")),
                0, -1, List.of(), List.of(), java.util.Optional.empty())
                .withBootFds(java.util.Optional.of(rootKernel), java.util.Optional.empty()), ROOT);
        rootKernel.close();
        org.jvmd.sys.Fd webKernel = launcher.last().spec.kernelFd().orElseThrow();
        launcher.last().started();
        launcher.last().terminated(Termination.TERM_POWEROFF);
        assertTrue(webKernel.isOpen(), "a configured VM keeps root's kernel while stopped");
        reg.load(parse(CONF));
        assertFalse(webKernel.isOpen(), "reload gives it vm.conf's kernel back");
    }
}
