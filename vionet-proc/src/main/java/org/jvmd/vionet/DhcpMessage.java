package org.jvmd.vionet;

import org.jvmd.bytes.BigEndian;

/**
 * A DHCP (RFC 2131) or BOOTP (RFC 951) request from the guest, located in an Ethernet frame
 * it transmitted: untagged IPv4, not fragmented, UDP from port 68 to port 67. Only what the
 * local-interface responder needs is decoded. Mutable and reusable; {@link #parse} reads
 * only inside the frame, never throws for any content, and allocates nothing.
 */
public final class DhcpMessage {
    static final int ETH_HLEN = 14;
    static final int UDP_HLEN = 8;
    /** op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname, file (RFC 2131 §2). */
    static final int FIXED_LEN = 236;
    /** The options start with the magic cookie 99.130.83.99 (RFC 2131 §3). */
    static final int COOKIE_LEN = 4;
    static final int CLIENT_PORT = 68;
    static final int SERVER_PORT = 67;
    static final int BOOTREQUEST = 1;
    /** RFC 2132 option codes. */
    static final int OPT_PAD = 0;
    static final int OPT_END = 255;
    static final int OPT_REQUESTED_ADDRESS = 50;
    static final int OPT_MESSAGE_TYPE = 53;
    static final int OPT_SERVER_ID = 54;
    /** RFC 2132 §9.6 DHCP message types. */
    public static final int DISCOVER = 1;
    public static final int OFFER = 2;
    public static final int REQUEST = 3;
    public static final int DECLINE = 4;
    public static final int ACK = 5;
    public static final int NAK = 6;
    public static final int RELEASE = 7;
    public static final int INFORM = 8;

    /** Ethernet source address. */
    public final byte[] ethSrc = new byte[6];
    public int htype;
    public int hlen;
    public int hops;
    public int xid;
    public int flags;
    public int ciaddr;
    public int giaddr;
    /** The first 6 bytes of chaddr. */
    public final byte[] chaddr = new byte[6];
    /** The DHCP message type (option 53); 0 without it. */
    public int messageType;
    /** Option 53 was present: a DHCP message, not plain BOOTP. */
    public boolean dhcp;
    /** Option 50, or 0. */
    public int requestedAddress;
    /** Option 54, or 0. */
    public int serverId;
    /** Source IPv4 address of the packet. */
    public int ipSrc;

    /**
     * True if {@code frame[off..off+len)} is a BOOTREQUEST to the DHCP server port; the
     * fields then describe it. The options are walked within the UDP payload, bounded by
     * its length.
     */
    public boolean parse(byte[] frame, int off, int len) {
        clear();
        if (off < 0 || len < 0 || off > frame.length - len) {
            return false;
        }
        if (len < ETH_HLEN + 20 + UDP_HLEN + FIXED_LEN || BigEndian.get16(frame, off + 12) != 0x0800) {
            return false;
        }
        int ip = off + ETH_HLEN;
        int ihl = (frame[ip] & 0x0F) * 4;
        if ((frame[ip] & 0xF0) != 0x40 || ihl < 20 || (frame[ip + 9] & 0xFF) != 17
                || (BigEndian.get16(frame, ip + 6) & 0x3FFF) != 0) {   // RFC 791: MF or offset = a fragment
            return false;
        }
        int ipTotal = BigEndian.get16(frame, ip + 2);
        int frameEnd = off + len;
        if (ipTotal < ihl + UDP_HLEN || ip + ipTotal > frameEnd) {
            return false;
        }
        int udp = ip + ihl;
        int udpLen = BigEndian.get16(frame, udp + 4);
        if (BigEndian.get16(frame, udp) != CLIENT_PORT || BigEndian.get16(frame, udp + 2) != SERVER_PORT
                || udpLen < UDP_HLEN + FIXED_LEN || udp + udpLen > ip + ipTotal) {
            return false;
        }
        int b = udp + UDP_HLEN;
        int end = udp + udpLen;
        if ((frame[b] & 0xFF) != BOOTREQUEST) {
            return false;
        }
        System.arraycopy(frame, off + 6, ethSrc, 0, 6);
        ipSrc = BigEndian.get32(frame, ip + 12);
        htype = frame[b + 1] & 0xFF;
        hlen = frame[b + 2] & 0xFF;
        hops = frame[b + 3] & 0xFF;
        xid = BigEndian.get32(frame, b + 4);
        flags = BigEndian.get16(frame, b + 10);
        ciaddr = BigEndian.get32(frame, b + 12);
        giaddr = BigEndian.get32(frame, b + 24);
        System.arraycopy(frame, b + 28, chaddr, 0, 6);
        int o = b + FIXED_LEN;
        if (o + COOKIE_LEN <= end && frame[o] == 99 && (frame[o + 1] & 0xFF) == 130 && frame[o + 2] == 83
                && frame[o + 3] == 99) {
            parseOptions(frame, o + COOKIE_LEN, end);
        }
        return true;
    }

    /** RFC 2132 §2: code, length, data; PAD and END have no length. Stops at END or the end. */
    private void parseOptions(byte[] f, int p, int end) {
        while (p < end) {
            int code = f[p] & 0xFF;
            if (code == OPT_END) {
                return;
            }
            if (code == OPT_PAD) {
                p++;
                continue;
            }
            if (p + 2 > end) {
                return;
            }
            int n = f[p + 1] & 0xFF;
            int data = p + 2;
            if (data + n > end) {
                return;
            }
            switch (code) {
                case OPT_MESSAGE_TYPE -> {
                    dhcp = true;
                    messageType = n == 1 ? f[data] & 0xFF : 0;
                }
                case OPT_REQUESTED_ADDRESS -> requestedAddress = n == 4 ? BigEndian.get32(f, data) : requestedAddress;
                case OPT_SERVER_ID -> serverId = n == 4 ? BigEndian.get32(f, data) : serverId;
                default -> { }
            }
            p = data + n;
        }
    }

    private void clear() {
        java.util.Arrays.fill(ethSrc, (byte) 0);
        java.util.Arrays.fill(chaddr, (byte) 0);
        htype = 0;
        hlen = 0;
        hops = 0;
        xid = 0;
        flags = 0;
        ciaddr = 0;
        giaddr = 0;
        messageType = 0;
        dhcp = false;
        requestedAddress = 0;
        serverId = 0;
        ipSrc = 0;
    }
}
