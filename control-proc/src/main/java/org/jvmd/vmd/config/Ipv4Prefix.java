package org.jvmd.vmd.config;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 network prefix, such as {@code local prefix}'s 100.64.0.0/10.
 *
 * @param address the network address (host bits zero)
 * @param length the prefix length
 */
public record Ipv4Prefix(Inet4Address address, int length) {
    /** vm.conf(5): local interfaces take their subnets from 100.64.0.0/10 by default. */
    public static final Ipv4Prefix DEFAULT_LOCAL = new Ipv4Prefix(toAddress(0x6440_0000), 10);
    /**
     * vmd (parse_prefix4) keeps the low 16 bits for the VM id and interface id of each local
     * interface's subnet, so the prefix is at most /16, which is also the default length.
     */
    public static final int MAX_LOCAL_LENGTH = 16;

    public Ipv4Prefix {
        if (length < 0 || length > 32) {
            throw new IllegalArgumentException("prefix length " + length);
        }
    }

    /**
     * Parses {@code local prefix}'s argument as vmd does: an address in dotted form, where
     * trailing octets may be left out as inet_net_pton(3) allows ("100.64"), then an optional
     * {@code /len} from 1 to 16 (default 16); the address must have no bits outside the prefix.
     *
     * @throws IllegalArgumentException with the reason, e.g. "bad mask"
     */
    public static Ipv4Prefix parseLocal(String text) {
        String addr = text;
        int length = MAX_LOCAL_LENGTH;
        int slash = text.lastIndexOf('/');
        if (slash >= 0) {
            addr = text.substring(0, slash);
            length = prefixLength(text.substring(slash + 1), 1, MAX_LOCAL_LENGTH);
        }
        int value = parseAddress(addr);
        int mask = length == 0 ? 0 : -1 << (32 - length);
        if ((value & mask) != value) {
            throw new IllegalArgumentException("bad mask");
        }
        return new Ipv4Prefix(toAddress(value), length);
    }

    /** strtonum(3)'s range check with its reasons. */
    static int prefixLength(String text, int min, int max) {
        if (text.isEmpty() || text.length() > 9 || !text.chars().allMatch(Lexer::isDigit)) {
            throw new IllegalArgumentException("invalid prefix length");
        }
        int v = Integer.parseInt(text);
        if (v < min) {
            throw new IllegalArgumentException("prefix length too small");
        }
        if (v > max) {
            throw new IllegalArgumentException("prefix length too large");
        }
        return v;
    }

    private static int parseAddress(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length > 4) {
            throw new IllegalArgumentException("invalid format");
        }
        int value = 0;
        for (int i = 0; i < 4; i++) {
            int octet = 0;
            if (i < parts.length) {
                String p = parts[i];
                if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Lexer::isDigit)) {
                    throw new IllegalArgumentException("invalid format");
                }
                octet = Integer.parseInt(p);
                if (octet > 255) {
                    throw new IllegalArgumentException("invalid format");
                }
            }
            value = (value << 8) | octet;
        }
        return value;
    }

    private static Inet4Address toAddress(int value) {
        byte[] b = {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
        try {
            return (Inet4Address) InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new AssertionError("four octets are always an IPv4 address", e);
        }
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + length;
    }
}
