package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.sys.net.Netns;
import org.jvmd.sys.net.Tap;
import org.jvmd.virtio.blk.GuestSpans;

/** The real tap port in a namespace this test creates: zero-copy writev from guest memory, cut frames detected. */
class NativeTapPortTest {
    private static final String NS = "jvmd-vtap-" + ProcessHandle.current().pid();

    @BeforeAll
    static void namespace() throws Exception {
        VionetProcessTest.sh("ip", "netns", "add", NS);
    }

    @AfterAll
    static void cleanup() throws Exception {
        VionetProcessTest.sh("ip", "netns", "del", NS);
    }

    @Test
    void framesGoFromGuestMemoryToTheTapAndACutFrameIsReportedAsLongerThanTheBuffers() throws Exception {
        try (Tap tap = Netns.call(NS, () -> Tap.open("vt0"));
                Fd memfd = Memfd.create("guest", 1 << 20);
                MappedGuestMemory mem = MappedGuestMemory.map(memfd, 1 << 20)) {
            VionetProcessTest.sh("ip", "-n", NS, "addr", "add", "100.64.62.1/24", "dev", "vt0");
            VionetProcessTest.sh("ip", "-n", NS, "link", "set", "vt0", "up");
            tap.setNonBlocking(true);
            NativeTapPort port = new NativeTapPort(tap, mem);
            byte[] arp = arpRequest();
            // the frame in guest memory, in two pieces; the header from our array
            mem.write(0x1000, arp, 12, 20);
            mem.write(0x3000, arp, 32, arp.length - 32);
            GuestSpans spans = new GuestSpans(8);
            spans.add(0x1000, 20);
            spans.add(0x3000, arp.length - 32);
            assertEquals(arp.length, port.write(arp, 12, spans));

            byte[] hdr = new byte[12];
            GuestSpans small = new GuestSpans(2);
            small.add(0x8000, 20);
            GuestSpans big = new GuestSpans(2);
            big.add(0x9000, 2048);
            boolean cut = false;
            boolean reply = false;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while ((!cut || !reply) && System.nanoTime() < deadline) {
                LibC.poll(tap.fd(), LibC.POLLIN, 100);
                long n = port.read(hdr, cut ? big : small);
                if (n == -11) {
                    continue;
                }
                assertTrue(n > 0, "read: " + n);
                if (!cut) {
                    assertTrue(n > 12 + 20, "a frame longer than 20 bytes shows as cut: " + n);
                    cut = true;
                    assertEquals(arp.length, port.write(arp, 12, spans), "ask again: the reply may have been cut");
                } else if (mem.readByte(0x9000 + 12) == 8 && mem.readByte(0x9000 + 13) == 6) {
                    assertEquals(12 + 42, n, "the ARP reply, whole");
                    reply = true;
                }
            }
            assertTrue(cut && reply, "cut " + cut + " reply " + reply);
        }
    }

    @Test
    void theNativeHotPathAllocatesNothingPerFrame() throws Exception {
        try (Tap tap = Netns.call(NS, () -> Tap.open("vt1"));
                Fd memfd = Memfd.create("guest", 1 << 20);
                MappedGuestMemory mem = MappedGuestMemory.map(memfd, 1 << 20);
                org.jvmd.sys.EventFd call = org.jvmd.sys.EventFd.create(true)) {
            VionetProcessTest.sh("ip", "-n", NS, "link", "set", "vt1", "up");
            tap.setNonBlocking(true);
            NativeTapPort port = new NativeTapPort(tap, mem);
            byte[] udp = Packets.udp4(new byte[] {2, 0, 0, 0, 0, 9}, new byte[] {2, 0, 0, 0, 0x62, 3}, 1400, true, 0);
            mem.write(0x1000, udp, 12, udp.length - 12);
            GuestSpans out = new GuestSpans(4);
            GuestSpans in = new GuestSpans(4);
            in.add(0x10000, 65536);
            byte[] hdr = new byte[12];
            Runnable round = () -> {
                out.clear();
                out.add(0x1000, 700);
                out.add(0x1000 + 700, udp.length - 12 - 700);
                port.write(udp, 12, out);
                while (port.read(hdr, in) > 0) {
                    // drain whatever the kernel queued
                }
                try {
                    org.jvmd.sys.EventFd.signal(call.fd(), 1);
                    org.jvmd.sys.EventFd.read(call.fd());
                } catch (org.jvmd.sys.SysException e) {
                    throw new AssertionError(e);
                }
            };
            // C2 must have compiled the downcalls: until then the JDK allocates a slice of the
            // errno capture segment per call (SharedUtils.checkCaptureSegment; C1 keeps doing so).
            for (int i = 0; i < 150_000; i++) {
                round.run();
            }
            com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean)
                    java.lang.management.ManagementFactory.getThreadMXBean();
            long tid = Thread.currentThread().threadId();
            long before = mx.getThreadAllocatedBytes(tid);
            int rounds = 20_000;
            for (int i = 0; i < rounds; i++) {
                round.run();
            }
            long bytes = mx.getThreadAllocatedBytes(tid) - before;
            System.out.println("native allocation: " + bytes + " bytes for " + rounds
                    + " writev + readv + irqfd signal/read rounds");
            assertTrue(bytes < rounds / 10, bytes + " bytes for " + rounds + " rounds");
        }
    }

    static byte[] arpRequest() {
        byte[] b = new byte[12 + 42];
        int f = 12;
        for (int i = 0; i < 6; i++) {
            b[f + i] = (byte) 0xFF;
        }
        byte[] mac = {2, 0, 0, 0, 0x62, 2};
        System.arraycopy(mac, 0, b, f + 6, 6);
        b[f + 12] = 0x08;
        b[f + 13] = 0x06;
        int a = f + 14;
        b[a + 1] = 1;
        b[a + 2] = 0x08;
        b[a + 4] = 6;
        b[a + 5] = 4;
        b[a + 7] = 1;
        System.arraycopy(mac, 0, b, a + 8, 6);
        byte[] spa = {100, 64, 62, 2};
        byte[] tpa = {100, 64, 62, 1};
        System.arraycopy(spa, 0, b, a + 14, 4);
        System.arraycopy(tpa, 0, b, a + 24, 4);
        return b;
    }
}
