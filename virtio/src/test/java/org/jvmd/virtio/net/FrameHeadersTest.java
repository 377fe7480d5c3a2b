package org.jvmd.virtio.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.jvmd.bytes.BigEndian;

class FrameHeadersTest {
    private final FrameHeaders fh = new FrameHeaders();

    @Test
    void untaggedTcpv4FrameIsLocated() {
        TestFrames t = new TestFrames();
        t.ipv4OptionWords = 2;
        t.tcpOptionWords = 3;
        byte[] f = t.payload(10, 1).build();
        assertEquals(DropReason.NONE, fh.parse(f, 0, f.length));
        assertEquals(0, fh.vlanTags);
        assertEquals(14, fh.l3Off);
        assertEquals(4, fh.ipVersion);
        assertEquals(28, fh.l3HdrLen);
        assertEquals(42, fh.l4Off);
        assertEquals(FrameHeaders.IPPROTO_TCP, fh.l4Proto);
        assertEquals(32, fh.l4HdrLen);
        assertEquals(t.hdrLen, fh.headersEnd());
    }

    @Test
    void dot1qTagShiftsL3ByFourBytes() {
        TestFrames t = new TestFrames();
        t.vlanTags = 1;
        byte[] f = t.payload(10, 2).build();
        assertEquals(DropReason.NONE, fh.parse(f, 0, f.length));
        assertEquals(1, fh.vlanTags);
        assertEquals(18, fh.l3Off);
    }

    @Test
    void qinqTagsShiftL3ByEightBytes() {
        TestFrames t = new TestFrames();
        t.vlanTags = 2;
        t.ipVersion = 6;
        t.l4 = TestFrames.UDP;
        byte[] f = t.payload(10, 3).build();
        assertEquals(DropReason.NONE, fh.parse(f, 0, f.length));
        assertEquals(2, fh.vlanTags);
        assertEquals(22, fh.l3Off);
        assertEquals(62, fh.l4Off);
        assertEquals(8, fh.l4HdrLen);
    }

    @Test
    void aThirdVlanTagIsRefused() {
        TestFrames t = new TestFrames();
        t.vlanTags = 2;
        byte[] f = t.payload(10, 4).build();
        byte[] three = new byte[f.length + 4];
        System.arraycopy(f, 0, three, 0, 12);
        three[12] = (byte) 0x81;
        three[13] = 0x00;
        System.arraycopy(f, 12, three, 16, f.length - 12);
        assertEquals(DropReason.TOO_MANY_VLAN_TAGS, fh.parse(three, 0, three.length));
    }

    @Test
    void ipv6ExtensionHeadersAreWalked() {
        TestFrames t = new TestFrames();
        t.ipVersion = 6;
        t.ipv6HopByHop = 1;
        t.ipv6DestOpts = 1;
        byte[] f = t.payload(10, 5).build();
        assertEquals(DropReason.NONE, fh.parse(f, 0, f.length));
        assertEquals(14 + 40 + 16, fh.l4Off);
        assertEquals(FrameHeaders.IPPROTO_TCP, fh.l4Proto);
    }

    @Test
    void ipv6FragmentHeaderIsRefused() {
        TestFrames t = new TestFrames();
        t.ipVersion = 6;
        byte[] f = t.payload(10, 6).build();
        f[14 + 6] = 44;
        assertEquals(DropReason.IP_FRAGMENT, fh.parse(f, 0, f.length));
    }

    @Test
    void ipv6RoutingHeaderWithSegmentsLeftIsRefused() {
        TestFrames t = new TestFrames();
        t.ipVersion = 6;
        t.ipv6DestOpts = 1;
        byte[] f = t.payload(10, 7).build();
        f[14 + 6] = 43; // turn the destination options header into a routing header
        f[54 + 3] = 1;  // segments left
        assertEquals(DropReason.BAD_IPV6_EXTENSION, fh.parse(f, 0, f.length));
        f[54 + 3] = 0;
        assertEquals(DropReason.NONE, fh.parse(f, 0, f.length));
    }

    @Test
    void nonIpEtherTypeIsRefused() {
        byte[] arp = new byte[60];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assertEquals(DropReason.NOT_IP, fh.parse(arp, 0, arp.length));
    }

    @Test
    void ipv4HeaderShorterThanTwentyBytesIsRefused() {
        TestFrames t = new TestFrames();
        byte[] f = t.payload(10, 8).build();
        f[14] = 0x44;
        assertEquals(DropReason.BAD_L3_HEADER, fh.parse(f, 0, f.length));
        f[14] = 0x65; // version 6 in an IPv4 EtherType
        assertEquals(DropReason.BAD_L3_HEADER, fh.parse(f, 0, f.length));
    }

    @Test
    void parseReadsOnlyInsideItsRange() {
        TestFrames t = new TestFrames();
        byte[] f = t.payload(0, 9).build();
        byte[] shifted = new byte[f.length + 10];
        System.arraycopy(f, 0, shifted, 5, f.length);
        assertEquals(DropReason.NONE, fh.parse(shifted, 5, f.length));
        assertEquals(DropReason.BAD_L4_HEADER, fh.parse(shifted, 5, f.length - 1));
    }

    @Property(tries = 2000)
    void parseNeverThrowsAndStaysInsideTheFrame(@ForAll @Size(max = 200) byte[] frame,
                                                @ForAll @IntRange(max = 5) int shape) {
        // Bias some tries towards plausible L2/L3 so parsing goes deeper.
        if (frame.length > 14) {
            int type = switch (shape) {
                case 0 -> 0x0800;
                case 1 -> 0x86DD;
                case 2 -> 0x8100;
                case 3 -> 0x88A8;
                default -> BigEndian.get16(frame, 12);
            };
            BigEndian.put16(frame, 12, type);
            if (shape == 0) {
                frame[14] = (byte) (0x40 | (frame[14] & 0x0F));
            } else if (shape == 1) {
                frame[14] = (byte) (0x60 | (frame[14] & 0x0F));
            }
        }
        byte[] padded = Arrays.copyOf(frame, frame.length + 64); // garbage past the end must not matter
        Arrays.fill(padded, frame.length, padded.length, (byte) 0xFF);
        DropReason a = fh.parse(frame, 0, frame.length);
        int l4End = fh.headersEnd();
        DropReason b = fh.parse(padded, 0, frame.length);
        assertEquals(a, b);
        if (a == DropReason.NONE) {
            assertTrue(l4End <= frame.length && fh.l4Off >= fh.l3Off + 20 && fh.l3Off >= 14);
            assertEquals(l4End, fh.headersEnd());
        }
    }
}
