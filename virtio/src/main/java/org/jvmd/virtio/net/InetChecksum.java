package org.jvmd.virtio.net;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import org.jvmd.bytes.BigEndian;

/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624), on byte arrays.
 *
 * <p>A <em>sum</em> here is the 16-bit ones' complement sum of big-endian 16-bit words, folded
 * but not complemented, as an int in [0, 0xFFFF]; sums of pieces combine with {@link #add}.
 * A <em>checksum</em> is the complement of a sum, the value stored in a header.
 *
 * <p>The fast path reads 8 bytes at a time through a byte-array view VarHandle and adds each
 * 64-bit word as two 32-bit halves into a 64-bit accumulator: the carries out of bit 15 pile
 * up in the upper bits and are folded back in at the end (RFC 1071 §2(C) "deferred carries";
 * the end-around carry is applied once, by {@link #fold}). Two accumulators let the adds run
 * in parallel. No allocation.
 */
public final class InetChecksum {
    private InetChecksum() {}

    private static final VarHandle LONG_BE =
        MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT_BE =
        MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    private static final long LOW32 = 0xFFFF_FFFFL;

    /**
     * The ones' complement sum of {@code b[off..off+len)} plus {@code seed} (a sum), where
     * {@code b[off]} is the high byte of the first word and an odd last byte is padded with
     * a zero low byte (RFC 1071 §4.1).
     */
    public static int sum(byte[] b, int off, int len, int seed) {
        return fold(rawSum(b, off, len) + (seed & 0xFFFF));
    }

    /** The checksum (complemented sum) of {@code b[off..off+len)}. */
    public static int checksum(byte[] b, int off, int len) {
        return ~sum(b, off, len, 0) & 0xFFFF;
    }

    /**
     * The unfolded sum as a non-negative long. Each 8-byte step adds less than 2^33, so the
     * accumulators cannot overflow for any int length.
     */
    static long rawSum(byte[] b, int off, int len) {
        if (off < 0 || len < 0 || off > b.length - len) {
            throw new IndexOutOfBoundsException("off " + off + " len " + len + " of " + b.length);
        }
        long a0 = 0;
        long a1 = 0;
        int i = off;
        int end = off + len;
        for (; end - i >= 16; i += 16) {
            long w0 = (long) LONG_BE.get(b, i);
            long w1 = (long) LONG_BE.get(b, i + 8);
            a0 += (w0 >>> 32) + (w0 & LOW32);
            a1 += (w1 >>> 32) + (w1 & LOW32);
        }
        if (end - i >= 8) {
            long w = (long) LONG_BE.get(b, i);
            a0 += (w >>> 32) + (w & LOW32);
            i += 8;
        }
        if (end - i >= 4) {
            a1 += (int) INT_BE.get(b, i) & LOW32;
            i += 4;
        }
        if (end - i >= 2) {
            a0 += (b[i] & 0xFF) << 8 | (b[i + 1] & 0xFF);
            i += 2;
        }
        if (i < end) {
            a1 += (b[i] & 0xFF) << 8;
        }
        return a0 + a1;
    }

    /** Folds a non-negative accumulator to 16 bits with end-around carries. */
    public static int fold(long acc) {
        acc = (acc & LOW32) + (acc >>> 32);
        acc = (acc & LOW32) + (acc >>> 32);
        acc = (acc & 0xFFFF) + (acc >>> 16);
        acc = (acc & 0xFFFF) + (acc >>> 16);
        acc = (acc & 0xFFFF) + (acc >>> 16);
        return (int) acc;
    }

    /** The ones' complement sum of two sums. */
    public static int add(int a, int b) {
        return fold((a & 0xFFFFL) + (b & 0xFFFFL));
    }

    /** A sum as stored: its complement, 16 bits. */
    public static int finish(int sum) {
        return ~sum & 0xFFFF;
    }

    /**
     * RFC 1624 eqn. 3: the new checksum after a 16-bit word covered by checksum {@code hc}
     * changed from {@code oldWord} to {@code newWord}: HC' = ~(~HC + ~m + m').
     */
    public static int update16(int hc, int oldWord, int newWord) {
        long s = (~hc & 0xFFFFL) + (~oldWord & 0xFFFFL) + (newWord & 0xFFFFL);
        return ~fold(s) & 0xFFFF;
    }

    /** RFC 1624 for a 32-bit field (two words), e.g. a TCP sequence number. */
    public static int update32(int hc, int oldValue, int newValue) {
        long s = (~hc & 0xFFFFL)
            + (~(oldValue >>> 16) & 0xFFFFL) + (~oldValue & 0xFFFFL)
            + ((newValue >>> 16) & 0xFFFFL) + (newValue & 0xFFFFL);
        return ~fold(s) & 0xFFFF;
    }

    /**
     * Computes and stores the IPv4 header checksum (RFC 791) of the header at {@code b[l3]}
     * with length {@code ihlBytes}.
     */
    public static void writeIpv4HeaderChecksum(byte[] b, int l3, int ihlBytes) {
        b[l3 + 10] = 0;
        b[l3 + 11] = 0;
        BigEndian.put16(b, l3 + 10, checksum(b, l3, ihlBytes));
    }

    /**
     * The sum of the IPv4 pseudo header (RFC 793 §3.1, RFC 768): source and destination
     * address of the IPv4 header at {@code b[l3]}, zero, protocol, and {@code l4Len}.
     */
    public static int pseudoHeaderV4(byte[] b, int l3, int protocol, int l4Len) {
        long acc = rawSum(b, l3 + 12, 8) + (protocol & 0xFF) + (l4Len & 0xFFFF);
        return fold(acc);
    }

    /**
     * The sum of the IPv6 pseudo header (RFC 8200 §8.1): source and destination address of
     * the IPv6 header at {@code b[l3]}, the 32-bit upper-layer length and the next header
     * value of the upper-layer protocol.
     */
    public static int pseudoHeaderV6(byte[] b, int l3, int protocol, int l4Len) {
        long acc = rawSum(b, l3 + 8, 32) + (protocol & 0xFF) + ((l4Len >>> 16) & 0xFFFF) + (l4Len & 0xFFFF);
        return fold(acc);
    }

    /**
     * Finishes a partial checksum as the device must for NEEDS_CSUM (virtio 1.2 §5.1.6.2):
     * the driver left the pseudo-header sum in the checksum field, so the ones' complement
     * sum from {@code csumStart} to the end of the frame, complemented, is the checksum. It
     * is stored at {@code csumStart + csumOffset}; a result of 0 is stored as 0xFFFF, as
     * Linux's {@code skb_checksum_help()} does (RFC 768: zero means "no checksum" for UDP).
     *
     * <p>Offsets are relative to the frame at {@code b[off]}; the caller has validated
     * {@code csumStart + csumOffset + 2 <= len}.
     */
    public static void completePartial(byte[] b, int off, int len, int csumStart, int csumOffset) {
        if (csumStart < 0 || csumOffset < 0 || csumStart + csumOffset + 2 > len) {
            throw new IndexOutOfBoundsException("csum_start " + csumStart + " csum_offset " + csumOffset + " len " + len);
        }
        int start = off + csumStart;
        int c = finish(sum(b, start, len - csumStart, 0));
        BigEndian.put16(b, start + csumOffset, c == 0 ? 0xFFFF : c);
    }
}
