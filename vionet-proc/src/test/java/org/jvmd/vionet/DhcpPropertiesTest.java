package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/** The DHCP parser and responder over generated packets: guest input is hostile. */
class DhcpPropertiesTest {
    static final byte[] MAC = {2, 0, 0, 0, 0, 1};
    static final int GUEST = 0x64400903;
    static final int GATEWAY = 0x64400902;
    final DhcpResponder responder = new DhcpResponder(MAC, GUEST, GATEWAY, 31);

    @Property(tries = 2000)
    void parsingArbitraryBytesNeverThrowsAndNeverReadsOutside(@ForAll @Size(max = 700) byte[] junk,
                                                              @ForAll @IntRange(max = 16) int off) {
        byte[] b = new byte[off + junk.length + 16];
        Arrays.fill(b, (byte) 0x5A);
        System.arraycopy(junk, 0, b, off, junk.length);
        DhcpMessage m = new DhcpMessage();
        if (m.parse(b, off, junk.length)) {
            byte[] out = new byte[DhcpResponder.REPLY_MAX];
            responder.respond(m, out, 0);
        }
    }

    @Property(tries = 1000)
    void mutatedRequestsNeverThrow(@ForAll("requests") byte[] request, @ForAll @IntRange(max = 400) int at,
                                   @ForAll byte value, @ForAll @IntRange(min = 0, max = 600) int cut) {
        byte[] b = request.clone();
        b[12 + Math.min(at, b.length - 13)] = value;
        int len = Math.min(b.length - 12, cut + 282);
        DhcpMessage m = new DhcpMessage();
        if (m.parse(b, 12, len)) {
            responder.respond(m, new byte[DhcpResponder.REPLY_MAX], 0);
        }
    }

    @Provide
    Arbitrary<byte[]> requests() {
        return Combinators.combine(Arbitraries.of(1, 3, 4, 7, 8), Arbitraries.integers(),
                Arbitraries.integers().between(0, 40), Arbitraries.of(true, false))
                .as((type, xid, pad, bc) -> {
                    byte[] opts = new byte[8 + pad];
                    int o = 0;
                    for (int i = 0; i < pad; i++) {
                        opts[o++] = 0;   // PAD options before the type
                    }
                    opts[o++] = 53;
                    opts[o++] = 1;
                    opts[o++] = (byte) (int) type;
                    opts[o++] = (byte) 255;
                    return DhcpPackets.frame(MAC, xid, 0, bc ? 0x8000 : 0, opts, o, pad);
                });
    }

    @Property(tries = 500)
    void generatedRequestsParseToWhatWasSentAndGetTheRightAnswer(
            @ForAll("types") int type, @ForAll int xid, @ForAll boolean broadcast,
            @ForAll @IntRange(max = 3) int requestedKind, @ForAll @IntRange(max = 2) int serverKind,
            @ForAll @IntRange(max = 30) int padding) {
        int requested = switch (requestedKind) {
            case 0 -> 0;
            case 1 -> GUEST;
            default -> GUEST + requestedKind;   // another address
        };
        int server = switch (serverKind) {
            case 0 -> 0;
            case 1 -> GATEWAY;
            default -> GATEWAY + 77;            // another server
        };
        byte[] opts = new byte[32 + padding];
        int o = 0;
        for (int i = 0; i < padding; i++) {
            opts[o++] = 0;
        }
        o = DhcpPackets.options(opts, o, type, requested, server);
        opts[o++] = (byte) 255;
        byte[] f = DhcpPackets.frame(MAC, xid, 0, broadcast ? 0x8000 : 0, opts, o, 0);

        DhcpMessage m = new DhcpMessage();
        assertTrue(m.parse(f, 12, f.length - 12));
        assertEquals(type, m.messageType);
        assertEquals(xid, m.xid);
        assertEquals(requested, m.requestedAddress);
        assertEquals(server, m.serverId);
        assertArrayEquals(MAC, m.chaddr);
        assertTrue(responder.fromGuest(m));

        byte[] out = new byte[12 + DhcpResponder.REPLY_MAX];
        int n = responder.respond(m, out, 12);
        int expected = switch (type) {
            case DhcpMessage.DISCOVER -> DhcpMessage.OFFER;
            case DhcpMessage.REQUEST -> server != 0 && server != GATEWAY ? 0
                    : requested == 0 || requested == GUEST ? DhcpMessage.ACK : DhcpMessage.NAK;
            case DhcpMessage.INFORM -> DhcpMessage.ACK;
            default -> 0;
        };
        if (expected == 0) {
            assertEquals(0, n);
            return;
        }
        assertTrue(n >= 14 + 20 + 8 + 300, "BOOTP minimum length");
        DhcpPackets.Reply r = DhcpPackets.parseReply(out, 12);
        assertEquals(expected, r.type());
        assertEquals(xid, r.xid());
        assertEquals(GATEWAY, r.serverId());
        if (expected == DhcpMessage.NAK) {
            assertEquals(0, r.yiaddr());
            assertEquals(-1, r.ipDst(), "a NAK is broadcast");
        } else if (type != DhcpMessage.INFORM) {
            assertEquals(GUEST, r.yiaddr());
            assertEquals(0xFFFFFFFE, r.netmask());
            assertEquals(GATEWAY, r.router());
            assertEquals(broadcast ? -1 : GUEST, r.ipDst());
            assertArrayEquals(broadcast ? new byte[] {-1, -1, -1, -1, -1, -1} : MAC, r.ethDst());
        }
    }

    @Provide
    Arbitrary<Integer> types() {
        return Arbitraries.of(DhcpMessage.DISCOVER, DhcpMessage.REQUEST, DhcpMessage.DECLINE, DhcpMessage.RELEASE,
                DhcpMessage.INFORM, 0);
    }

    @Test
    void aRequestFromAnotherMacIsNotOurGuests() {
        byte[] f = DhcpPackets.request(new byte[] {2, 0, 0, 0, 0, 7}, DhcpMessage.DISCOVER, 1, 0, 0, 0, false);
        DhcpMessage m = new DhcpMessage();
        assertTrue(m.parse(f, 12, f.length - 12));
        assertFalse(responder.fromGuest(m));
    }

    @Test
    void aFragmentOrAnotherPortIsNotDhcp() {
        byte[] f = DhcpPackets.request(MAC, DhcpMessage.DISCOVER, 1, 0, 0, 0, false);
        byte[] frag = f.clone();
        frag[12 + 14 + 6] = 0x20;     // MF
        byte[] port = f.clone();
        port[12 + 14 + 20 + 3] = 68;
        DhcpMessage m = new DhcpMessage();
        assertFalse(m.parse(frag, 12, frag.length - 12));
        assertFalse(m.parse(port, 12, port.length - 12));
        assertTrue(m.parse(f, 12, f.length - 12));
    }
}
