package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StatusRequest;
import org.jvmd.sys.ipc.ControlSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real vmd process with its own socket in a temporary directory, driven by vmctl and raw clients. */
class VmdDaemonTest {
    @TempDir
    Path dir;

    String conf(String... vms) throws IOException {
        Files.writeString(dir.resolve("bzImage"), "not a kernel");
        StringBuilder b = new StringBuilder("socket owner root:root\n");
        for (String vm : vms) {
            b.append(vm).append('\n');
        }
        return b.toString();
    }

    static String vm(String name, String extra) {
        return "vm \"" + name + "\" {\n  boot \"bzImage\"\n  disable\n" + extra + "}\n";
    }

    record Exec(int status, String output) {
    }

    Exec vmdOnce(String... args) throws Exception {
        Process p = new ProcessBuilder(VmdProcess.java("org.jvmd.vmd.Vmd", List.of(args))).redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Exec(p.exitValue(), out.lines().filter(l -> !l.startsWith("WARNING:"))
                .reduce("", (a, l) -> a + l + "\n"));
    }

    @Test
    void noActionPrintsConfigurationOkAndExitsZero() throws Exception {
        Path f = dir.resolve("vm.conf");
        Files.writeString(f, conf(vm("web", "")));
        Exec e = vmdOnce("-n", "-f", f.toString());
        assertEquals(0, e.status());
        assertEquals("configuration OK\n", e.output());
    }

    @Test
    void noActionPrintsEachErrorAsFileLineMessageAndExitsOne() throws Exception {
        Path f = dir.resolve("bad.conf");
        Files.writeString(f, "vm \"x\" {\n  boot \"/nonexistent/bzImage\"\n  memory lots\n}\n");
        Exec e = vmdOnce("-n", "-f", f.toString());
        assertEquals(1, e.status());
        List<String> lines = e.output().lines().toList();
        assertTrue(lines.contains(f + ":3: invalid memory size: lots"), e.output());
        assertTrue(lines.stream().allMatch(l -> l.startsWith(f + ":")), e.output());
    }

    @Test
    void noActionOnAMissingFileIsAnEmptyConfiguration() throws Exception {
        Exec e = vmdOnce("-n", "-f", dir.resolve("absent.conf").toString());
        assertEquals(0, e.status());
        assertEquals("configuration OK\n", e.output());
    }

    @Test
    void macrosFromTheCommandLineOverrideTheFile() throws Exception {
        Path f = dir.resolve("vm.conf");
        Files.writeString(dir.resolve("bzImage"), "k");
        Files.writeString(f, "mem=\"nonsense\"\nvm \"web\" {\n  boot \"bzImage\"\n  memory $mem\n}\n");
        assertEquals(1, vmdOnce("-n", "-f", f.toString()).status());
        assertEquals(0, vmdOnce("-n", "-D", "mem=1G", "-f", f.toString()).status());
    }

    @Test
    void badOptionsPrintVmdsUsage() throws Exception {
        Exec e = vmdOnce("-x");
        assertEquals(1, e.status());
        assertTrue(e.output().endsWith("usage: vmd [-dnv] [-D macro=value] [-f file] [-s socket]\n"), e.output());
    }

    @Test
    void statusListsConfiguredVmsColumnByColumn() throws Exception {
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vm("web", "  memory 1G\n  vcpus 2\n"),
                vm("db", "  owner root:root\n")))) {
            Vmctl.Result r = vmd.vmctl("status");
            assertEquals(0, r.status(), r.err());
            List<String> lines = r.out().lines().toList();
            assertEquals(3, lines.size(), r.out());
            assertEquals(List.of("   ID", "  PID", "VCPUS", " MAXMEM", " CURMEM", "    TTY", "       OWNER",
                    "   STATE", "NAME"), List.of(StatusTableTest.columns(lines.get(0))));
            assertEquals(List.of("    1", "    -", "    2", "   1.0G", "      -", "      -", "        root",
                    " stopped", "web"), List.of(StatusTableTest.columns(lines.get(1))));
            assertEquals(List.of("    2", "    -", "    1", "   512M", "      -", "      -", "   root:root",
                    " stopped", "db"), List.of(StatusTableTest.columns(lines.get(2))));
            Vmctl.Result one = vmd.vmctl("show", "db");
            assertEquals(2, one.out().lines().count());
            assertEquals("db", StatusTableTest.columns(one.out().lines().toList().get(1))[8]);
            Vmctl.Result running = vmd.vmctl("status", "-r");
            assertEquals(1, running.status(), "no VM is running");
            assertEquals(1, running.out().lines().count());
        }
    }

    @Test
    void controlSocketIsMode0660AndGoneAfterSigterm() throws Exception {
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vm("web", "")))) {
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(vmd.socket)), vmd.logText() + vmd.process.info());
            assertEquals(0, vmd.terminate(), vmd.logText());
            assertFalse(Files.exists(vmd.socket));
        }
    }

    @Test
    void requestsForUnknownVmsGetVmctlsMessages() throws Exception {
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vm("web", "")))) {
            Vmctl.Result r = vmd.vmctl("stop", "nope");
            assertEquals(1, r.status());
            assertEquals("stopping vm nope: vm not found\n", r.err());
            r = vmd.vmctl("stop", "web");
            assertEquals("stopping vm web: cannot stop vm that is not running\n", r.err());
            assertEquals(1, r.status());
            r = vmd.vmctl("pause", "web");
            assertEquals("vmctl: pause vm command failed: Invalid argument\n", r.err());
            r = vmd.vmctl("start", "nope");
            assertEquals("vmctl: start vm command failed: No such file or directory\n", r.err());
            r = vmd.vmctl("start", "x", "-t", "nope");
            assertEquals("vmctl: invalid template\n", r.err());
            r = vmd.vmctl("console", "web");
            assertEquals("vmctl: console not found\n", r.err());
            r = vmd.vmctl("stop", "-a");
            assertEquals(0, r.status(), "nothing runs, nothing to stop");
            r = vmd.vmctl("log", "verbose");
            assertEquals(0, r.status(), r.err());
        }
    }

    @Test
    void hundredConcurrentStatusClientsAllGetTheFullList() throws Exception {
        List<String> vms = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            vms.add(vm("vm" + i, ""));
        }
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vms.toArray(String[]::new)));
                ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            long fdsBefore = vmd.fdCount();
            List<Future<Integer>> answers = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                answers.add(pool.submit(() -> {
                    try (ControlSocket.Connection c = ControlSocket.connect(vmd.socket)) {
                        c.write(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
                        Response r = c.read(Response.parser());
                        return r.getStatus().getVmsCount();
                    }
                }));
            }
            for (Future<Integer> f : answers) {
                assertEquals(10, f.get(60, TimeUnit.SECONDS));
            }
            vmd.awaitUntil(() -> fdCountQuietly(vmd) <= fdsBefore, 10_000, "vmd's fds back to " + fdsBefore);
            assertTrue(vmd.process.isAlive());
        }
    }

    static long fdCountQuietly(VmdProcess vmd) {
        try {
            return vmd.fdCount();
        } catch (IOException e) {
            return Long.MAX_VALUE;
        }
    }

    @Test
    void garbageAndHalfRequestsLeaveVmdUpWithoutLeakingFds() throws Exception {
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vm("web", "")))) {
            assertEquals(0, vmd.vmctl("status").status());
            long fdsBefore = vmd.fdCount();
            Random rnd = new Random(6);
            for (int i = 0; i < 30; i++) {
                try (ControlSocket.Connection c = ControlSocket.connect(vmd.socket)) {
                    OutputStream o = c.out();
                    switch (i % 5) {
                        case 0 -> {
                            byte[] junk = new byte[1 + rnd.nextInt(300)];
                            rnd.nextBytes(junk);
                            o.write(junk);
                        }
                        case 1 -> o.write(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f});
                        case 2 -> o.write(new byte[] {20, 0x1a, 0x03});
                        case 3 -> {
                            byte[] req = Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build()
                                    .toByteArray();
                            o.write(new byte[] {(byte) (req.length + 5)});
                            o.write(req);
                        }
                        default -> {
                            // connect and go away
                        }
                    }
                    o.flush();
                } catch (IOException e) {
                    // vmd may hang up first: fine
                }
            }
            Vmctl.Result r = vmd.vmctl("status");
            assertEquals(0, r.status(), r.err() + vmd.logText());
            assertEquals(2, r.out().lines().count());
            vmd.awaitUntil(() -> fdCountQuietly(vmd) <= fdsBefore, 10_000, "vmd's fds back to " + fdsBefore);
            assertTrue(vmd.process.isAlive());
        }
    }

    @Test
    void sighupReloadsTheConfigurationAndKeepsServing() throws Exception {
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vm("web", "")))) {
            Files.writeString(vmd.conf, conf(vm("web", ""), vm("added", "  memory 256M\n")));
            vmd.signal("HUP");
            vmd.awaitUntil(() -> vmd.vmctl("status", "added").out().contains(" added"), 20_000, "the added VM");
            List<String> lines = vmd.vmctl("status").out().lines().toList();
            assertEquals(3, lines.size());
            assertEquals("    2", StatusTableTest.columns(lines.get(2))[0]);
            assertEquals("   256M", StatusTableTest.columns(lines.get(2))[3]);
        }
    }

    /**
     * A vmd started with SIGHUP and SIGINT ignored (as nohup and a script's background leave
     * them) still reloads on SIGHUP and stops on SIGINT: the JVM handles no shutdown signal
     * that was ignored when it started, so vmd resets them first.
     */
    @Test
    void aVmdStartedWithHupIgnoredStillReloadsOnSighup() throws Exception {
        List<String> ignoring = List.of("sh", "-c", "trap '' HUP INT; exec \"$@\"", "sh");
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vm("web", "")), null, List.of(), ignoring)) {
            Files.writeString(vmd.conf, conf(vm("web", ""), vm("added", "")));
            vmd.signal("HUP");
            vmd.awaitUntil(() -> vmd.vmctl("status", "added").out().contains(" added"), 20_000, "the added VM");
            vmd.signal("INT");
            assertTrue(vmd.process.waitFor(30, TimeUnit.SECONDS), "SIGINT stops vmd");
        }
    }

    @Test
    void reloadRequestWithABrokenConfigurationFailsAndKeepsTheOldOne() throws Exception {
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vm("web", "")))) {
            Files.writeString(vmd.conf, "vm \"web\" {\n  memory lots\n}\n");
            Vmctl.Result r = vmd.vmctl("reload");
            assertEquals(1, r.status());
            assertEquals("vmctl: command failed: Invalid argument\n", r.err());
            assertTrue(vmd.vmctl("status").out().contains(" web"));
            Path other = dir.resolve("other.conf");
            Files.writeString(other, vm("loaded", ""));
            assertEquals(0, vmd.vmctl("load", other.toString()).status());
            vmd.awaitUntil(() -> vmd.vmctl("status").out().contains(" loaded"), 10_000, "the loaded VM");
        }
    }

    static List<String> names(Vmctl.Result status) {
        return status.out().lines().skip(1).filter(l -> !l.startsWith("      disk"))
                .map(l -> StatusTableTest.columns(l)[8]).toList();
    }

    @Test
    void loadAddsToTheRunningConfigurationAndReloadStillReadsTheConfigurationFile() throws Exception {
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vm("web", ""), vm("db", "")))) {
            Path other = dir.resolve("other.conf");
            Files.writeString(other, conf(vm("web", "  memory 2G\n"), vm("extra", "  memory 256M\n")));
            Vmctl.Result r = vmd.vmctl("load", other.toString());
            assertEquals(0, r.status(), r.err() + vmd.logText());
            Vmctl.Result st = vmd.vmctl("status");
            assertEquals(List.of("web", "db", "extra"), names(st), st.out());
            List<String> lines = st.out().lines().toList();
            assertEquals("   512M", StatusTableTest.columns(lines.get(1))[3], "web is known: the file does not redefine it");
            assertEquals("    3", StatusTableTest.columns(lines.get(3))[0]);
            assertEquals("   256M", StatusTableTest.columns(lines.get(3))[3]);
            assertEquals(0, vmd.vmctl("reload").status());
            assertEquals(List.of("web", "db"), names(vmd.vmctl("status")),
                    "reload reads vm.conf again, not the loaded file: the stopped loaded VM is forgotten");
            Path broken = dir.resolve("broken.conf");
            Files.writeString(broken, "vm \"x\" {\n  memory lots\n}\n");
            r = vmd.vmctl("load", broken.toString());
            assertEquals(1, r.status());
            assertEquals("vmctl: command failed: Invalid argument\n", r.err());
            assertEquals(List.of("web", "db"), names(vmd.vmctl("status")), "a broken file adds nothing");
        }
    }

    @Test
    void resetForgetsTheVmsOrSwitchesWithoutReadingTheConfigurationFile() throws Exception {
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vm("web", ""), vm("db", "")))) {
            Files.writeString(vmd.conf, conf(vm("web", ""), vm("db", ""), vm("later", "")));
            Vmctl.Result r = vmd.vmctl("reset", "switches");
            assertEquals(0, r.status(), r.err());
            assertEquals(List.of("web", "db"), names(vmd.vmctl("status")), "reset switches keeps the VMs");
            r = vmd.vmctl("reset", "VMS");
            assertEquals(0, r.status(), r.err());
            Vmctl.Result st = vmd.vmctl("status");
            assertEquals(1, st.status(), "no VM left: " + st.out());
            assertEquals(List.of(), names(st), "vm.conf is not read again: 'later' does not appear");
            assertEquals(0, vmd.vmctl("reload").status());
            assertEquals(List.of("web", "db", "later"), names(vmd.vmctl("status")), "reload reads it");
            assertEquals(0, vmd.vmctl("reset").status(), "reset alone is reset all");
            assertEquals(List.of(), names(vmd.vmctl("status")));
        }
    }

    @Test
    void vmdRefusesASocketInUseByAnotherVmd() throws Exception {
        try (VmdProcess vmd = VmdProcess.start(dir, conf(vm("web", "")))) {
            Exec e = vmdOnce("-d", "-f", vmd.conf.toString(), "-s", vmd.socket.toString());
            assertEquals(1, e.status());
            assertNotNull(e.output());
            assertTrue(e.output().contains("in use"), e.output());
            assertEquals(0, vmd.vmctl("status").status());
        }
    }

    @Test
    void staggeredStartKeepsLaterBatchesWaitingAndStopCancelsOne() throws Exception {
        String enabled = "vm \"a\" {\n  boot \"bzImage\"\n}\nvm \"b\" {\n  boot \"bzImage\"\n}\n"
                + "vm \"c\" {\n  boot \"bzImage\"\n}\n";
        try (VmdProcess vmd = VmdProcess.start(dir, conf("staggered start parallel 1 delay 3600\n" + enabled))) {
            // a is launched at once (and fails here: no vmm-proc on this classpath); b and c wait an hour
            vmd.awaitUntil(() -> vmd.vmctl("status", "a").out().contains(" stopped a"), 30_000, "a tried");
            List<String> lines = vmd.vmctl("status").out().lines().toList();
            assertEquals("  waiting", " " + StatusTableTest.columns(lines.get(2))[7]);
            assertEquals("  waiting", " " + StatusTableTest.columns(lines.get(3))[7]);
            Vmctl.Result r = vmd.vmctl("stop", "c");
            assertEquals("stopping vm c: requested to shutdown vm 3\n", r.err());
            assertEquals(" stopped", StatusTableTest.columns(vmd.vmctl("status", "c").out().lines().toList()
                    .get(1))[7]);
            assertTrue(vmd.logText().contains("vm a: start failed"), vmd.logText());
        }
    }
}
