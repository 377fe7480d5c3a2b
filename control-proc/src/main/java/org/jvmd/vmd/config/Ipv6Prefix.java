package org.jvmd.vmd.config;

import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * An IPv6 network prefix, such as {@code local inet6 prefix}'s argument.
 *
 * @param address the network address (host bits zero)
 * @param length the prefix length
 */
public record Ipv6Prefix(Inet6Address address, int length) {
    /** vm.conf(5): the prefix must be /64 or shorter; the default length is 64. */
    public static final int MAX_LOCAL_LENGTH = 64;

    public Ipv6Prefix {
        if (length < 0 || length > 128) {
            throw new IllegalArgumentException("prefix length " + length);
        }
    }

    /**
     * Parses {@code local inet6 prefix}'s argument as vmd's parse_prefix6 does: a numeric IPv6
     * address, an optional {@code /len} from 0 to 64 (default 64), no bits outside the prefix.
     *
     * @throws IllegalArgumentException with the reason, e.g. "bad mask"
     */
    public static Ipv6Prefix parseLocal(String text) {
        String addr = text;
        int length = MAX_LOCAL_LENGTH;
        int slash = text.lastIndexOf('/');
        if (slash >= 0) {
            addr = text.substring(0, slash);
            length = Ipv4Prefix.prefixLength(text.substring(slash + 1), 0, MAX_LOCAL_LENGTH);
        }
        if (addr.isEmpty() || addr.indexOf('%') >= 0 || addr.indexOf('[') >= 0 || addr.indexOf(':') < 0) {
            throw new IllegalArgumentException("invalid format");
        }
        InetAddress parsed;
        try {
            parsed = Inet6Address.ofLiteral(addr);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid format", e);
        }
        if (!(parsed instanceof Inet6Address a6)) {
            throw new IllegalArgumentException("not an IPv6 address");
        }
        byte[] b = a6.getAddress();
        for (int i = 0; i < 16; i++) {
            int bits = Math.clamp(length - 8L * i, 0, 8);
            int hostBits = 0xff >>> bits;
            if ((b[i] & hostBits) != 0) {
                throw new IllegalArgumentException("bad mask");
            }
        }
        return new Ipv6Prefix(a6, length);
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + length;
    }
}
