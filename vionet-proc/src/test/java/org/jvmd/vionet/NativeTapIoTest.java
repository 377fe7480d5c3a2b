package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.jvmd.testkit.Allocation;
import org.jvmd.testkit.Frame;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.sys.net.Netns;
import org.jvmd.sys.net.Tap;
import org.jvmd.virtio.blk.GuestSpans;

/** The real tap port in a namespace this test creates: zero-copy writev from guest memory, cut frames detected. */
@NetnsTest
class NativeTapIoTest {
    @Test
    void framesGoFromGuestMemoryToTheTapAndACutFrameIsReportedAsLongerThanTheBuffers(NetNs ns) throws Exception {
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open("vt0"));
                Fd memfd = Memfd.create("guest", 1 << 20);
                MappedGuestMemory mem = MappedGuestMemory.map(memfd, 1 << 20)) {
            ns.ip("addr", "add", "100.64.62.1/24", "dev", "vt0");
            ns.ip("link", "set", "vt0", "up");
            tap.setNonBlocking(true);
            NativeTapIo port = new NativeTapIo(tap, mem);
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
    void theNativeHotPathAllocatesNothingPerFrame(NetNs ns) throws Exception {
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open("vt1"));
                Fd memfd = Memfd.create("guest", 1 << 20);
                MappedGuestMemory mem = MappedGuestMemory.map(memfd, 1 << 20);
                org.jvmd.sys.EventFd call = org.jvmd.sys.EventFd.create(true)) {
            ns.ip("link", "set", "vt1", "up");
            tap.setNonBlocking(true);
            NativeTapIo port = new NativeTapIo(tap, mem);
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
            for (int i = 0; i < 50_000; i++) {
                round.run();
            }
            Allocation.assertNonePerCall("writev + readv + irqfd signal/read rounds", round, 20_000, 50, 2_000);
        }
    }

    /** An ARP request (RFC 826) for 100.64.62.1 from 02:00:00:00:62:02 at 100.64.62.2, after the 12-byte virtio_net_hdr. */
    static byte[] arpRequest() {
        byte[] mac = {2, 0, 0, 0, 0x62, 2};
        return Frame.ethernet(new byte[] {-1, -1, -1, -1, -1, -1}, mac).headroom(12)
                .arp(1, mac, new byte[] {100, 64, 62, 2}, new byte[6], new byte[] {100, 64, 62, 1}).build();
    }
}
