package org.jvmd.testkit;

import org.jvmd.bytes.BigEndian;

/**
 * DHCP messages (RFC 2131 over BOOTP, RFC 951) as a client sends them, for the UDP payload
 * of a {@link Frame}: the fixed 236 bytes, the magic cookie 99.130.83.99, then the options.
 */
public final class Dhcp {
    public static final int BOOTREQUEST = 1;
    public static final int CLIENT_PORT = 68;
    public static final int SERVER_PORT = 67;
    public static final int DISCOVER = 1;
    public static final int REQUEST = 3;
    public static final int INFORM = 8;
    /** Fixed BOOTP part plus the cookie: where the options start. */
    public static final int OPTIONS = 240;

    private Dhcp() {}

    /**
     * A BOOTREQUEST from hardware address {@code chaddr} (6 bytes): {@code xid}, {@code flags}
     * (0x8000: broadcast), {@code ciaddr}, then {@code optLen} bytes of {@code options} and
     * {@code pad} zero bytes.
     */
    public static byte[] request(byte[] chaddr, int xid, int flags, int ciaddr, byte[] options, int optLen, int pad) {
        byte[] p = new byte[OPTIONS + optLen + pad];
        p[0] = BOOTREQUEST;
        p[1] = 1; // htype Ethernet
        p[2] = 6; // hlen
        BigEndian.put32(p, 4, xid);
        BigEndian.put16(p, 10, flags);
        BigEndian.put32(p, 12, ciaddr);
        System.arraycopy(chaddr, 0, p, 28, 6);
        BigEndian.put32(p, 236, 0x63825363); // RFC 2131 §3: the magic cookie
        System.arraycopy(options, 0, p, OPTIONS, optLen);
        return p;
    }
}
