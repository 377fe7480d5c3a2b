package org.jvmd.it.pkg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jvmd.sys.proc.SdNotify;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/vmd under a fake service manager: a $NOTIFY_SOCKET the test listens on, as systemd's
 * for a Type=notify unit. READY=1 comes once the control socket exists, RELOADING=1 then
 * READY=1 around a SIGHUP reload (same process), STOPPING=1 on SIGTERM.
 */
class VmdNotifyTest {
    @TempDir
    Path dir;

    /** The datagrams, as a blocking reader thread receives them. */
    private final BlockingQueue<String> received = new LinkedBlockingQueue<>();

    private String next(Process vmd, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String s = received.poll(100, TimeUnit.MILLISECONDS);
            if (s != null) {
                return s;
            }
            if (!vmd.isAlive() && received.isEmpty()) {
                fail("vmd ended (" + vmd.exitValue() + ") before notifying: " + Files.readString(log));
            }
        }
        fail("no sd_notify datagram in 60 s: " + Files.readString(log));
        return null;
    }

    @Test
    void readyOnceTheSocketListensReloadingAroundSighupStoppingOnSigterm() throws Exception {
        Path root = DebPackage.projectRoot();
        Path notify = dir.resolve("notify");
        Path sock = dir.resolve("vmd.sock");
        Path conf = dir.resolve("vm.conf");
        Path log = dir.resolve("vmd.log");
        Files.writeString(conf, "# empty\n");
        try (SdNotify.Receiver ch = SdNotify.Receiver.bind(notify)) {
            Thread.ofPlatform().daemon(true).start(() -> {
                try {
                    while (true) {
                        received.add(ch.receive());
                    }
                } catch (java.io.IOException closed) {
                    // the channel closed at the end of the test
                }
            });
            ProcessBuilder pb = new ProcessBuilder(root.resolve("bin/vmd").toString(), "-d", "-f", conf.toString(),
                    "-s", sock.toString());
            pb.environment().put("NOTIFY_SOCKET", notify.toString());
            Process vmd = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                String ready = next(vmd, log);
                assertTrue(ready.startsWith("READY=1\nSTATUS=0 vms configured"), ready);
                assertTrue(Files.exists(sock), "READY=1 before the control socket exists");

                Files.writeString(conf, "vm \"a\" {\n\tmemory 64M\n\tboot \"" + conf + "\"\n\tdisable\n}\n");
                Process hup = new ProcessBuilder("kill", "-HUP", Long.toString(vmd.pid())).start();
                assertEquals(0, hup.waitFor());
                assertTrue(next(vmd, log).startsWith("RELOADING=1\n"));
                String again = next(vmd, log);
                assertTrue(again.startsWith("READY=1\nSTATUS=1 vms configured"), again);
                assertTrue(vmd.isAlive());

                vmd.destroy(); // SIGTERM
                assertTrue(next(vmd, log).startsWith("STOPPING=1"));
                assertTrue(vmd.waitFor(60, TimeUnit.SECONDS), Files.readString(log));
                assertEquals(0, vmd.exitValue(), Files.readString(log));
            } finally {
                vmd.destroyForcibly();
            }
        }
    }
}
