package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.EchoGuest;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.testkit.RequiresKvm;

/**
 * vmd's start-up and SIGTERM with real VMs (EchoGuest on this machine's KVM): enabled VMs start
 * with vmd; SIGTERM stops each (the guest that listens powers off, the one that does not is
 * forced after the stop timeout), removes the taps and the socket, and vmd exits 0.
 */
@Tag("e2e")
@RequiresKvm
@NetnsTest
class VmdShutdownTest {
    @TempDir
    Path dir;
    @AutoClose
    VmdProcess vmd;

    @Test
    void enabledVmsStartWithVmdAndSigtermStopsThemRemovesTapsAndSocketAndExitsZero(NetNs ns) throws Exception {
        Path echo = dir.resolve("echo.bzImage");
        Files.write(echo, EchoGuest.bzImage());
        Path deaf = dir.resolve("deaf.bzImage");
        Files.write(deaf, EchoGuest.ignoringPowerButton());
        String conf = "vm \"up\" {\n  memory 64M\n  boot \"" + echo + "\"\n  local interface\n}\n"
                + "vm \"deaf\" {\n  memory 64M\n  boot \"" + deaf + "\"\n}\n"
                + "vm \"off\" {\n  memory 64M\n  boot \"" + echo + "\"\n  disable\n}\n";
        vmd = VmdProcess.start(dir, conf, ns.name(),
                List.of("-Djvmd.stopTimeoutMs=1500", "-Djvmd.shutdownTimeoutMs=20000"));
        vmd.awaitUntil(() -> vmd.vmctl("status", "-r").out().lines().count() == 3, 60_000, "up and deaf running");
        List<String> rows = vmd.vmctl("status").out().lines().skip(1).toList();
        assertEquals(" running", StatusTableTest.columns(rows.get(0))[7], rows.get(0));
        assertEquals(" running", StatusTableTest.columns(rows.get(1))[7], rows.get(1));
        assertEquals(" stopped", StatusTableTest.columns(rows.get(2))[7], "disabled: not started");
        int up = Integer.parseInt(StatusTableTest.columns(rows.get(0))[1].strip());
        int deafPid = Integer.parseInt(StatusTableTest.columns(rows.get(1))[1].strip());
        assertTrue(vmd.linkExists("vm1-if0"));

        vmd.signal("TERM");
        assertTrue(vmd.process.waitFor(60, TimeUnit.SECONDS), vmd.logText());
        assertEquals(0, vmd.process.exitValue(), vmd.logText());
        assertFalse(Files.exists(vmd.socket), "the socket is removed");
        assertFalse(ProcessHandle.of(up).map(ProcessHandle::isAlive).orElse(false));
        assertFalse(ProcessHandle.of(deafPid).map(ProcessHandle::isAlive).orElse(false));
        assertFalse(vmd.linkExists("vm1-if0"), "the tap is removed");
        String log = vmd.logText();
        assertTrue(log.contains("vm up: terminated (TERM_STOPPED: stopped by vmd (") && log.contains("powered off"),
                log);
        assertTrue(log.contains("vm deaf: terminated (TERM_STOPPED: stopped by vmd: the guest did not shut down in"
                + " time)"), log);
    }
}
