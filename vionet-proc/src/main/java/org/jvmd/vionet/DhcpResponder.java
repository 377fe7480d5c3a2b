package org.jvmd.vionet;

import java.util.Arrays;
import org.jvmd.bytes.BigEndian;
import org.jvmd.virtio.net.InetChecksum;

/**
 * vmd's "local interface": vionet answers the guest's DHCP itself, so the guest gets the
 * address vmd chose without a DHCP server on the host. There is no state machine: every
 * request gets the same address and options (RFC 2131 §4.3):
 * <ul>
 *   <li>DHCPDISCOVER -> DHCPOFFER; DHCPREQUEST for our address (option 50, or ciaddr when
 *       renewing) or for none -> DHCPACK, for another address -> DHCPNAK; a REQUEST naming
 *       another server (option 54) is not for us; DHCPINFORM -> DHCPACK without a lease;
 *       DECLINE and RELEASE get no answer; a plain BOOTP request gets a BOOTREPLY.</li>
 *   <li>yiaddr = the guest's address; server identifier, router and DNS server = the
 *       gateway (the tap side); subnet mask from the prefix length; lease 0xffffffff (the
 *       address never changes, as in vmd).</li>
 *   <li>Replies go to the client's hardware and IP address, or to broadcast when the client
 *       set the BROADCAST flag and for a NAK (RFC 2131 §4.1, §4.3.2).</li>
 * </ul>
 * Pure code on byte arrays; one instance per NIC, one thread, no allocation.
 */
public final class DhcpResponder {
    /** RFC 1542 §3.1.1: BOOTP messages are at least 300 bytes (RFC 951 layout + 64 bytes vend). */
    static final int BOOTP_MIN_LEN = 300;
    static final int REPLY_MAX = DhcpMessage.ETH_HLEN + 20 + DhcpMessage.UDP_HLEN + BOOTP_MIN_LEN + 64;
    private static final int BOOTREPLY = 2;
    private static final int FLAG_BROADCAST = 0x8000;
    private static final int OPT_SUBNET_MASK = 1;
    private static final int OPT_ROUTER = 3;
    private static final int OPT_DNS = 6;
    private static final int OPT_LEASE_TIME = 51;

    private final byte[] mac;
    private final byte[] serverMac;
    private final int guestAddr;
    private final int gatewayAddr;
    private final int netmask;

    public DhcpResponder(byte[] guestMac, int guestAddr, int gatewayAddr, int prefixLen) {
        if (guestMac.length != 6 || prefixLen < 0 || prefixLen > 32) {
            throw new IllegalArgumentException("mac length " + guestMac.length + " prefix " + prefixLen);
        }
        this.mac = guestMac.clone();
        this.serverMac = guestMac.clone();
        serverMac[5]++;
        this.guestAddr = guestAddr;
        this.gatewayAddr = gatewayAddr;
        this.netmask = prefixLen == 0 ? 0 : -1 << (32 - prefixLen);
    }

    /** True if {@code m} (already parsed) comes from this NIC's guest: Ethernet source and chaddr are its MAC. */
    public boolean fromGuest(DhcpMessage m) {
        return m.htype == 1 && m.hlen == 6 && Arrays.equals(m.ethSrc, mac) && Arrays.equals(m.chaddr, mac);
    }

    /**
     * Writes the answer to {@code m} as an Ethernet frame at {@code out[off]} and returns its
     * length, or 0 if {@code m} gets no answer. {@code out} needs {@link #REPLY_MAX} bytes.
     */
    public int respond(DhcpMessage m, byte[] out, int off) {
        int type;
        switch (m.dhcp ? m.messageType : -1) {
            case -1 -> type = 0;   // BOOTP
            case DhcpMessage.DISCOVER -> type = DhcpMessage.OFFER;
            case DhcpMessage.REQUEST -> {
                if (m.serverId != 0 && m.serverId != gatewayAddr) {
                    return 0;   // the client chose another server (RFC 2131 §4.3.2)
                }
                int wanted = m.requestedAddress != 0 ? m.requestedAddress : m.ciaddr;
                type = wanted == 0 || wanted == guestAddr ? DhcpMessage.ACK : DhcpMessage.NAK;
            }
            case DhcpMessage.INFORM -> type = DhcpMessage.ACK;
            default -> {
                return 0;
            }
        }
        boolean inform = m.messageType == DhcpMessage.INFORM;
        int yiaddr = type == DhcpMessage.NAK || inform ? 0 : guestAddr;
        boolean broadcast = type == DhcpMessage.NAK || ((m.flags & FLAG_BROADCAST) != 0 && !inform);
        int ipDst = broadcast ? -1 : inform ? m.ciaddr : yiaddr;

        Arrays.fill(out, off, off + REPLY_MAX, (byte) 0);
        int eth = off;
        int ip = eth + DhcpMessage.ETH_HLEN;
        int udp = ip + 20;
        int b = udp + DhcpMessage.UDP_HLEN;
        // BOOTP fixed part (RFC 2131 §2, table 1)
        out[b] = BOOTREPLY;
        out[b + 1] = 1;
        out[b + 2] = 6;
        BigEndian.put32(out, b + 4, m.xid);
        BigEndian.put16(out, b + 10, m.flags);
        BigEndian.put32(out, b + 12, inform ? m.ciaddr : 0);
        BigEndian.put32(out, b + 16, yiaddr);
        BigEndian.put32(out, b + 20, gatewayAddr);
        System.arraycopy(m.chaddr, 0, out, b + 28, 6);
        int o = b + DhcpMessage.FIXED_LEN;
        out[o++] = 99;
        out[o++] = (byte) 130;
        out[o++] = 83;
        out[o++] = 99;
        if (type != 0) {
            o = option(out, o, DhcpMessage.OPT_MESSAGE_TYPE, 1, type);
            o = option(out, o, DhcpMessage.OPT_SERVER_ID, 4, gatewayAddr);
        }
        if (type != DhcpMessage.NAK) {
            if (type != 0 && !inform) {
                o = option(out, o, OPT_LEASE_TIME, 4, 0xFFFFFFFF);
            }
            o = option(out, o, OPT_SUBNET_MASK, 4, netmask);
            o = option(out, o, OPT_ROUTER, 4, gatewayAddr);
            o = option(out, o, OPT_DNS, 4, gatewayAddr);
        }
        out[o++] = (byte) DhcpMessage.OPT_END;
        int bootpLen = Math.max(o - b, BOOTP_MIN_LEN);
        int udpLen = DhcpMessage.UDP_HLEN + bootpLen;
        // UDP (RFC 768), checksum over the pseudo header
        BigEndian.put16(out, udp, DhcpMessage.SERVER_PORT);
        BigEndian.put16(out, udp + 2, DhcpMessage.CLIENT_PORT);
        BigEndian.put16(out, udp + 4, udpLen);
        // IPv4 (RFC 791): no options, TTL 64, protocol UDP
        out[ip] = 0x45;
        BigEndian.put16(out, ip + 2, 20 + udpLen);
        out[ip + 8] = 64;
        out[ip + 9] = 17;
        BigEndian.put32(out, ip + 12, gatewayAddr);
        BigEndian.put32(out, ip + 16, ipDst);
        InetChecksum.writeIpv4HeaderChecksum(out, ip, 20);
        int c = InetChecksum.finish(InetChecksum.sum(out, udp, udpLen,
                InetChecksum.pseudoHeaderV4(out, ip, 17, udpLen)));
        BigEndian.put16(out, udp + 6, c == 0 ? 0xFFFF : c);
        // Ethernet
        if (broadcast) {
            Arrays.fill(out, eth, eth + 6, (byte) 0xFF);
        } else {
            System.arraycopy(m.chaddr, 0, out, eth, 6);
        }
        System.arraycopy(serverMac, 0, out, eth + 6, 6);
        BigEndian.put16(out, eth + 12, 0x0800);
        return DhcpMessage.ETH_HLEN + 20 + udpLen;
    }

    private static int option(byte[] out, int o, int code, int len, int value) {
        out[o++] = (byte) code;
        out[o++] = (byte) len;
        if (len == 1) {
            out[o++] = (byte) value;
        } else {
            BigEndian.put32(out, o, value);
            o += 4;
        }
        return o;
    }
}
