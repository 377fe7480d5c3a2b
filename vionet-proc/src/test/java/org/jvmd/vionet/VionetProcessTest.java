package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvmd.virtio.net.VirtioNetFeatures.bit;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.Frame;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;
import org.jvmd.testkit.Dropped;
import org.jvmd.proto.DriverOk;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FeaturesAcked;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.LogLevel;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.Pause;
import org.jvmd.proto.Unpause;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.StatsRequest;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.VionetInit;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.sys.net.Netns;
import org.jvmd.sys.net.Tap;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Spawner;
import org.jvmd.sys.proc.Users;
import org.jvmd.sys.proc.WaitStatus;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.net.TunFlags;
import org.jvmd.virtio.net.VirtioNetFeatures;

/**
 * The real vionet-proc as a child JVM: a memfd for guest memory, a tap in a network
 * namespace this test creates (100.64.60.0/24), eventfds for kicks and interrupts. It must
 * drop privilege (non-root, no_new_privs, seccomp) and carry a frame each way: the guest's
 * ARP request reaches the namespace's kernel, whose ARP reply reaches the guest.
 */
@NetnsTest
class VionetProcessTest {
    private static final byte[] MAC = {2, 0, 0, 0, 0x60, 2};
    private static final long FEATURES = bit(VirtioNetFeatures.VERSION_1) | bit(Virtq.F_EVENT_IDX)
            | bit(VirtioNetFeatures.CSUM) | bit(VirtioNetFeatures.GUEST_CSUM) | bit(VirtioNetFeatures.HOST_TSO4)
            | bit(VirtioNetFeatures.GUEST_TSO4) | bit(VirtioNetFeatures.MRG_RXBUF) | bit(VirtioNetFeatures.MAC);
    private static final int MEM = 8 << 20;

    private static FromVionet next(Child c) throws IOException {
        try (Received<FromVionet> r = c.channel().receive(FromVionet.parser(), 20_000)) {
            return r.message();
        }
    }

    @Test
    void theProcessDropsPrivilegeAndCarriesAFrameEachWay(NetNs ns) throws Exception {
        Path log = Path.of("target", "vionet-process.log");
        Files.deleteIfExists(log);
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open("vn0"));
                Fd memfd = Memfd.create("guest", MEM);
                MappedGuestMemory mem = MappedGuestMemory.map(memfd, MEM);
                EventFd kickRx = EventFd.create(false);
                EventFd kickTx = EventFd.create(false);
                EventFd callRx = EventFd.create(true);
                EventFd callTx = EventFd.create(true);
                Child c = Spawner.role(org.jvmd.sys.proc.Role.VIONET, "vm/test/vionet0").classpath(cp)
                        .output(log).spawn()) {
            ns.ip("addr", "add", "100.64.60.1/24", "dev", "vn0");
            ns.ip("link", "set", "vn0", "up");

            c.channel().send(init(), memfd.dup(), tap.fd().dup(), kickRx.fd().dup(), kickTx.fd().dup(),
                    callRx.fd().dup(), callTx.fd().dup());
            long t0 = System.nanoTime();
            FromVionet ready = c.awaitReady(FromVionet.parser(), 60_000);
            System.out.println("vionet answered Ready " + (System.nanoTime() - t0) / 1_000_000 + " ms after init");
            assertEquals(c.pid(), ready.getReady().getPid());
            assertEquals("vm/test/vionet0", ready.getReady().getProcess());

            // Nothing named: every thread dropped to the role's user, chrooted in its empty /var/empty.
            Dropped.assertDropped(c.pid(), "_vmd", Path.of("/var/empty"));

            // The transport's part: features, queues, DRIVER_OK.
            GuestDriver guest = new GuestDriver(mem, FEATURES, 64, 2048, false);
            c.channel().send(ToVionet.newBuilder().setFeaturesAcked(FeaturesAcked.newBuilder().setFeatures(FEATURES))
                    .build());
            c.channel().send(queueReady(0, guest.rx, 0));
            c.channel().send(queueReady(1, guest.tx, 1));
            guest.postRx(64);
            c.channel().send(ToVionet.newBuilder().setDriverOk(DriverOk.getDefaultInstance()).build());

            // TUNSCAP: apply what vionet asks on our copy of the tap, answer.
            FromVionet m = next(c);
            assertTrue(m.hasTuncap(), m.toString());
            TunCapabilities caps = m.getTuncap();
            assertEquals(TunFlags.CSUM | TunFlags.TSO4, caps.getTunFlags() & (TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6));
            tap.setOffload(caps.getTunFlags());
            c.channel().send(ToVionet.newBuilder().setTuncapReply(TunCapabilitiesReply.newBuilder()
                    .setOk(true).setAppliedFlags(caps.getTunFlags())).build());
            String k = ns.exec("ethtool", "-k", "vn0");
            assertTrue(k.contains("tx-checksumming: on") && k.contains("tx-tcp-segmentation: on")
                    && k.contains("tx-tcp6-segmentation: off"), k);

            // Guest -> tap: an ARP request for the namespace's address.
            byte[] arp = arpRequest();
            assertNotEquals(DriverQueue.NONE, guest.send(arp, 0, arp.length));
            if (guest.tx.kick()) {
                kickTx.signal();
            }
            // Tap -> guest: the kernel's ARP reply.
            byte[] reply = null;
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (reply == null && System.nanoTime() < deadline) {
                LibC.poll(callRx.fd(), LibC.POLLIN, 200);
                callRx.read();
                for (byte[] f; (f = guest.receive()) != null; ) {
                    if ((f[12 + 12] & 0xFF) == 0x08 && f[12 + 13] == 0x06 && f[12 + 21] == 2) {
                        reply = f;
                    }
                }
                if (guest.tx.kick()) {
                    kickTx.signal();
                }
            }
            assertNotNull(reply, "no ARP reply reached the guest; vionet log:\n" + Files.readString(log));
            for (int i = 0; i < 6; i++) {
                assertEquals(MAC[i], reply[12 + i], "the reply is addressed to the guest");
            }

            // vmctl pause: vionet answers Paused; then datagrams the namespace sends stay in the tap
            // and nothing reaches guest memory, no interrupt is raised, until Unpause.
            // vmctl log verbose reaches vionet too: its pause is a debug line in its log.
            c.channel().send(ToVionet.newBuilder().setLog(LogLevel.newBuilder().setVerbose(true)).build());
            c.channel().send(ToVionet.newBuilder().setPause(Pause.getDefaultInstance()).build());
            FromVionet p = next(c);
            while (!p.hasPaused()) {
                p = next(c);
            }
            assertTrue(Files.readString(log).contains("vm/test/vionet0: debug: paused"), Files.readString(log));
            while (guest.receive() != null) {
                // what arrived before the pause
            }
            callRx.read();
            ns.ip("neigh", "replace", "100.64.60.2", "lladdr", "02:00:00:00:60:02", "dev", "vn0");
            ns.exec("bash", "-c", "for i in 1 2 3; do echo held > /dev/udp/100.64.60.2/9; done");
            assertEquals(0, LibC.poll(callRx.fd(), LibC.POLLIN, 500), "an interrupt while paused");
            assertNull(guest.receive(), "a frame reached guest memory while paused");
            c.channel().send(ToVionet.newBuilder().setUnpause(Unpause.getDefaultInstance()).build());
            int held = 0;
            deadline = System.nanoTime() + 20_000_000_000L;
            while (held < 3 && System.nanoTime() < deadline) {
                LibC.poll(callRx.fd(), LibC.POLLIN, 200);
                callRx.read();
                for (byte[] f; (f = guest.receive()) != null; ) {
                    int ip = 12 + 14;
                    if (f.length > ip + 28 && f[12 + 12] == 0x08 && f[12 + 13] == 0 && f[ip + 9] == 17 && f[ip + 23] == 9) {
                        held++;   // UDP to port 9
                    }
                }
            }
            if (held != 3) {
                c.channel().send(ToVionet.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
                FromVionet dbg = next(c);
                while (!dbg.hasStats()) {
                    dbg = next(c);
                }
                throw new AssertionError("the datagrams held in the tap reach the guest once unpaused: " + held
                        + "\n" + dbg + ns.ip("-s", "link", "show", "vn0"));
            }

            // A TSO super-frame with a partial checksum passes to the kernel as is; its TCP
            // answers (RST: nothing listens) come back to the guest.
            ns.ip("addr", "add", "100.64.0.1/24", "dev", "vn0");
            ns.ip("neigh", "replace", "100.64.0.2", "lladdr", "02:00:00:00:60:02", "dev", "vn0");
            byte[] tapMac = parseMac(ns.exec("cat", "/sys/class/net/vn0/address").trim());
            byte[] tso = Packets.tcp4(tapMac, MAC, 20000, true, 1448);
            assertNotEquals(DriverQueue.NONE, guest.send(tso, 0, tso.length));
            if (guest.tx.kick()) {
                kickTx.signal();
            }
            boolean rst = false;
            deadline = System.nanoTime() + 20_000_000_000L;
            while (!rst && System.nanoTime() < deadline) {
                LibC.poll(callRx.fd(), LibC.POLLIN, 200);
                callRx.read();
                for (byte[] f; (f = guest.receive()) != null; ) {
                    int ip = 12 + 14;
                    if (f.length >= ip + 40 && f[12 + 12] == 0x08 && f[12 + 13] == 0 && f[ip + 9] == 6
                            && (f[ip + 20 + 13] & 0x04) != 0) {
                        rst = true;
                    }
                }
                if (guest.tx.kick()) {
                    kickTx.signal();
                }
            }
            if (!rst) {
                c.channel().send(ToVionet.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
                FromVionet dbg = next(c);
                throw new AssertionError("no TCP reset for the TSO frame; vionet log:\n" + Files.readString(log)
                        + "\n" + dbg + "\n" + ns.ip("-s", "link", "show", "vn0")
                        + ns.exec("nstat", "-az"));
            }
            // Transmit runs on its own thread: the answer may reach the guest before the
            // transmit thread publishes its used ring, so wait for both chains.
            int reaped = guest.reapTx();
            deadline = System.nanoTime() + 10_000_000_000L;
            while (reaped < 2 && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
                reaped += guest.reapTx();
            }
            assertEquals(2, reaped);

            c.channel().send(ToVionet.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
            FromVionet s = next(c);
            while (!s.hasStats()) {
                s = next(c);
            }
            NicStats st = s.getStats().getNics(0);
            assertEquals(2, st.getTxFrames(), st.toString());
            assertEquals(1, st.getTxTsoFrames(), st.toString());
            assertEquals(0, st.getTapErrors(), st.toString());
            assertTrue(st.getRxFrames() >= 2, st.toString());
            // the device's thread waited for this traffic: every wait is counted, polled or slept
            assertTrue(st.getWaitsSlept() > 0, st.toString());

            // Reset: the tap is asked to hand no offloads, then ResetDone.
            c.channel().send(ToVionet.newBuilder().setReset(org.jvmd.proto.Reset.getDefaultInstance()).build());
            FromVionet t = next(c);
            assertTrue(t.hasTuncap() && t.getTuncap().getTunFlags() == 0, t.toString());
            tap.setOffload(0);
            assertTrue(next(c).hasResetDone());
            c.channel().send(ToVionet.newBuilder().setTuncapReply(TunCapabilitiesReply.newBuilder().setOk(true)).build());
            String off = ns.exec("ethtool", "-k", "vn0");
            assertTrue(off.contains("tx-checksumming: off") && off.contains("tx-tcp-segmentation: off"), off);

            // An unexpected message is answered with an error and vionet keeps serving.
            c.channel().send(init().toBuilder().clearFds().build());
            FromVionet e = next(c);
            assertTrue(e.getError().getMessage().contains("unexpected message INIT"), e.toString());
            assertTrue(e.hasError(), e.toString());
            c.channel().send(ToVionet.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
            assertTrue(next(c).hasStats());

            // The parent goes away: vionet says so and exits 0.
            c.channel().close();
            WaitStatus w = c.waitFor(20_000);
            assertNotNull(w, "vionet did not exit at end of file");
            assertEquals(0, w.exitCode(), Files.readString(log));
            assertTrue(Files.readString(log).contains("vm/test/vionet0: info: channel closed by parent (EOF), exiting"),
                    Files.readString(log));
            // one format (sys's org.jvmd.sys.log), before and after the drop: title: level: message
            for (String line : Files.readAllLines(log)) {
                if (line.startsWith("vm/test/vionet0: ") || line.startsWith("vionet: ")) {
                    assertTrue(line.matches("[^:]+: (debug|info|warning|error): .*"), line);
                }
            }
        }
    }

    private static byte[] parseMac(String s) {
        String[] p = s.split(":");
        byte[] b = new byte[6];
        for (int i = 0; i < 6; i++) {
            b[i] = (byte) Integer.parseInt(p[i], 16);
        }
        return b;
    }

    /** VionetInit for tap vn0 and MEM bytes of guest memory: memfd, tap, two kicks and two calls follow. */
    private static ToVionet init() {
        NicConfig nic = NicConfig.newBuilder().setMac(ByteString.copyFrom(MAC)).setMtu(1500)
                .setFeatures(FEATURES).setTapName("vn0").build();
        return ToVionet.newBuilder().setInit(VionetInit.newBuilder().setNic(nic).setTitle("vm/test/vionet0")
                        .setUser("").setChroot("") // as vmd sends them: the role's defaults
                        .addRegions(MemoryRegion.newBuilder().setGuestPhys(0).setSize(MEM)))
                .addFds(slot(FdRole.FD_MEMFD, 0)).addFds(slot(FdRole.FD_TAP, 0))
                .addFds(slot(FdRole.FD_KICK, 0)).addFds(slot(FdRole.FD_KICK, 1))
                .addFds(slot(FdRole.FD_CALL, 0)).addFds(slot(FdRole.FD_CALL, 1))
                .build();
    }

    /** A vionet-proc with debug logging to {@code log}, nothing sent to it yet. */
    private static Child spawnAhead(Path log) throws IOException {
        Files.deleteIfExists(log);
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        return Spawner.role(org.jvmd.sys.proc.Role.VIONET, "vm/test/vionet0").classpath(cp)
                .jvmOptions("-Djvmd.debug=true").output(log).spawn();
    }

    /** Waits until the process started ahead says it warmed up and waits for init. */
    private static void awaitWarmedUpAhead(Path log) throws Exception {
        long end = System.nanoTime() + 60_000_000_000L;
        while (!(Files.exists(log) && Files.readString(log).contains("warmed up ahead of init in "))) {
            assertTrue(System.nanoTime() < end, () -> "no warm-up ahead in 60 s: " + readQuietly(log));
            Thread.sleep(50);
        }
    }

    private static String readQuietly(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }

    /**
     * Started ahead of its NIC (vmm-proc starts it before it builds its VM; a vmm-proc in vmd's
     * warm pool before it has a VM at all), it warms up and waits, as root, holding nothing;
     * a late init then goes exactly as a queued one: Ready, dropped like every vionet-proc.
     */
    @Test
    void startedAheadItWarmsUpWaitsAndTakesALateInitAsAFreshOne(NetNs ns) throws Exception {
        Path log = Path.of("target", "vionet-ahead.log");
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open("vn0"));
                Fd memfd = Memfd.create("guest", MEM);
                EventFd kickRx = EventFd.create(false);
                EventFd kickTx = EventFd.create(false);
                EventFd callRx = EventFd.create(true);
                EventFd callTx = EventFd.create(true);
                Child c = spawnAhead(log)) {
            awaitWarmedUpAhead(log);
            Thread.sleep(500);
            assertTrue(c.waitFor(0) == null, "still waiting: " + readQuietly(log));
            String st = Files.readString(Path.of("/proc/" + c.pid() + "/status"));
            assertTrue(st.contains("\nUid:\t0\t") && st.contains("\nSeccomp:\t0\n"), "not dropped before init: " + st);
            c.channel().send(init(), memfd.dup(), tap.fd().dup(), kickRx.fd().dup(), kickTx.fd().dup(),
                    callRx.fd().dup(), callTx.fd().dup());
            FromVionet ready = c.awaitReady(FromVionet.parser(), 60_000);
            assertEquals("vm/test/vionet0", ready.getReady().getProcess());
            Dropped.assertDropped(c.pid(), "_vmd", Path.of("/var/empty"));
            assertTrue(!readQuietly(log).contains("warning"), readQuietly(log));
        }
    }

    /** Let go before init (its VM did not start, or the warm vmm-proc holding it closed): exit 0, no warning. */
    @Test
    void startedAheadAndLetGoBeforeInitItExitsQuietly() throws Exception {
        Path log = Path.of("target", "vionet-let-go.log");
        try (Child c = spawnAhead(log)) {
            awaitWarmedUpAhead(log);
            c.channel().close();
            WaitStatus s = c.waitFor(30_000);
            assertNotNull(s, "still running 30 s after its channel closed");
            assertTrue(s.exited() && s.exitCode() == 0, s.describe() + ": " + readQuietly(log));
            String out = readQuietly(log);
            assertTrue(out.contains("channel closed before init: exiting") && !out.contains("warning"), out);
        }
    }

    private static FdSlot slot(FdRole role, int index) {
        return FdSlot.newBuilder().setRole(role).setIndex(index).build();
    }

    private static ToVionet queueReady(int q, DriverQueue dq, int vector) {
        return ToVionet.newBuilder().setQueueReady(QueueReady.newBuilder().setQueue(q).setSize(dq.size())
                .setDesc(dq.layout().desc()).setDriver(dq.layout().avail()).setDevice(dq.layout().used())
                .setMsixVector(vector)).build();
    }

    /** A 12-byte empty header and an ARP request 100.64.60.2 -> who has 100.64.60.1. */
    /** An ARP request (RFC 826) for 100.64.60.1 from MAC at 100.64.60.2, after the 12-byte virtio_net_hdr. */
    private static byte[] arpRequest() {
        return Frame.ethernet(new byte[] {-1, -1, -1, -1, -1, -1}, MAC).headroom(12)
                .arp(1, MAC, new byte[] {100, 64, 60, 2}, new byte[6], new byte[] {100, 64, 60, 1}).build();
    }
}
