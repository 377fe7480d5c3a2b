package org.jvmd.vmd.config;

import java.util.HexFormat;
import java.util.Optional;

/**
 * A 48-bit Ethernet link-layer address (lladdr).
 *
 * @param value the address in the low 48 bits, first octet most significant
 */
public record MacAddress(long value) {
    public MacAddress {
        if ((value & ~0xffff_ffff_ffffL) != 0) {
            throw new IllegalArgumentException("not a 48-bit address: " + Long.toHexString(value));
        }
    }

    /** Builds an address from six octets. */
    public static MacAddress of(byte[] octets) {
        if (octets.length != 6) {
            throw new IllegalArgumentException("an Ethernet address has 6 octets, not " + octets.length);
        }
        long v = 0;
        for (byte b : octets) {
            v = (v << 8) | (b & 0xff);
        }
        return new MacAddress(v);
    }

    /**
     * Parses {@code x:x:x:x:x:x} with one or two hex digits per octet, as ether_aton(3) does.
     */
    public static Optional<MacAddress> parse(String text) {
        String[] parts = text.split(":", -1);
        if (parts.length != 6) {
            return Optional.empty();
        }
        long v = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 2) {
                return Optional.empty();
            }
            for (int i = 0; i < p.length(); i++) {
                if (Character.digit(p.charAt(i), 16) < 0) {
                    return Optional.empty();
                }
            }
            v = (v << 8) | Integer.parseInt(p, 16);
        }
        return Optional.of(new MacAddress(v));
    }

    /** The six octets, first octet first. */
    public byte[] octets() {
        byte[] b = new byte[6];
        for (int i = 0; i < 6; i++) {
            b[i] = (byte) (value >>> (8 * (5 - i)));
        }
        return b;
    }

    /** The I/G bit of the first octet (IEEE 802 §8.2): a group address. */
    public boolean isMulticast() {
        return (value >>> 40 & 0x01) != 0;
    }

    /** All zeroes: vmd's "no address configured". */
    public boolean isZero() {
        return value == 0;
    }

    @Override
    public String toString() {
        HexFormat hex = HexFormat.ofDelimiter(":");
        return hex.formatHex(octets());
    }
}
