package org.jvmd.virtio.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.jvmd.bytes.BigEndian;

class InetChecksumTest {

    @Test
    void sumMatchesRfc1071WorkedExample() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to dd f2.
        byte[] b = HexFormat.of().parseHex("0001f203f4f5f6f7");
        assertEquals(0xDDF2, InetChecksum.sum(b, 0, b.length, 0));
        assertEquals(0x220D, InetChecksum.checksum(b, 0, b.length));
    }

    @Test
    void ipv4HeaderChecksumMatchesKnownHeader() {
        // A captured header whose checksum field is b861.
        byte[] h = HexFormat.of().parseHex("45000073000040004011b861c0a80001c0a800c7");
        h[10] = 0x12;
        h[11] = 0x34;
        InetChecksum.writeIpv4HeaderChecksum(h, 0, 20);
        assertEquals(0xB861, BigEndian.get16(h, 10));
    }

    @Test
    void oddLengthPadsTheLastByteAsHighByte() {
        byte[] b = {0x01, 0x02, 0x03};
        assertEquals(0x0102 + 0x0300, InetChecksum.sum(b, 0, 3, 0));
    }

    @Test
    void emptyRangeSumsToTheSeed() {
        assertEquals(0x1234, InetChecksum.sum(new byte[4], 2, 0, 0x1234));
    }

    @Test
    void sumRefusesARangeOutsideTheArray() {
        assertThrows(IndexOutOfBoundsException.class, () -> InetChecksum.sum(new byte[8], 4, 5, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> InetChecksum.sum(new byte[8], -1, 2, 0));
    }

    @Test
    void allOnesDataFoldsWithoutLosingCarries() {
        byte[] b = new byte[70000];
        java.util.Arrays.fill(b, (byte) 0xFF);
        assertEquals(IndependentChecksum.sum(b, 0, b.length), InetChecksum.sum(b, 0, b.length, 0xFFFF));
    }

    @Test
    void completePartialWritesTheChecksumThatVerifies() {
        TestFrames t = new TestFrames();
        t.payload(1000, 1);
        byte[] f = t.build(); // checksum field holds the pseudo-header sum
        InetChecksum.completePartial(f, 0, f.length, t.l4Off, 16);
        assertTrue(IndependentChecksum.l4Valid(f, t.l3Off, 4, TestFrames.TCP, t.l4Off, f.length - t.l4Off));
    }

    @Test
    void completePartialStoresZeroAsAllOnes() {
        // Data whose sum is 0xFFFF: the checksum would be 0, which UDP reserves.
        byte[] f = new byte[8];
        f[0] = (byte) 0xFF;
        f[1] = (byte) 0xFF;
        InetChecksum.completePartial(f, 0, 8, 0, 6);
        assertEquals(0xFFFF, BigEndian.get16(f, 6));
    }

    @Test
    void completePartialRefusesAFieldOutsideTheFrame() {
        assertThrows(IndexOutOfBoundsException.class, () -> InetChecksum.completePartial(new byte[40], 0, 40, 30, 9));
    }

    @Test
    void pseudoHeadersMatchTheIndependentOnes() {
        for (int v : new int[] {4, 6}) {
            TestFrames t = new TestFrames();
            t.ipVersion = v;
            byte[] f = t.payload(10, 2).build();
            int mine = v == 4 ? InetChecksum.pseudoHeaderV4(f, t.l3Off, 6, 12345)
                : InetChecksum.pseudoHeaderV6(f, t.l3Off, 6, 0x12345);
            int ref = IndependentChecksum.pseudo(f, t.l3Off, v, 6, v == 4 ? 12345 : 0x12345);
            assertEquals(ref, mine, "IPv" + v);
        }
    }

    @Property(tries = 300)
    void fastSumEqualsNaiveSumAtAnyOffsetAndLength(@ForAll @Size(max = 3000) byte[] data,
                                                   @ForAll @IntRange(max = 64) int from,
                                                   @ForAll @IntRange(max = 64) int cut,
                                                   @ForAll @IntRange(max = 0xFFFF) int seed) {
        int off = Math.min(from, data.length);
        int len = Math.max(0, data.length - off - cut);
        int naive = IndependentChecksum.sum(data, off, len);
        long s = naive + (long) seed;
        while ((s >> 16) != 0) {
            s = (s & 0xFFFF) + (s >> 16);
        }
        assertEquals((int) s, InetChecksum.sum(data, off, len, seed));
    }

    @Property(tries = 50)
    void fastSumEqualsNaiveSumOnLargeRandomBuffers(@ForAll long seed, @ForAll @IntRange(min = 60000, max = 70000) int len,
                                                   @ForAll @IntRange(max = 7) int off) {
        byte[] b = new byte[len + off];
        new Random(seed).nextBytes(b);
        assertEquals(IndependentChecksum.sum(b, off, len), InetChecksum.sum(b, off, len, 0));
    }

    @Property(tries = 300)
    void sumsOfPiecesAddUpToTheSumOfTheWhole(@ForAll @Size(max = 500) byte[] data, @ForAll @IntRange(max = 250) int half) {
        int cut = Math.min(2 * half, data.length & ~1); // an even cut keeps word alignment
        int whole = InetChecksum.sum(data, 0, data.length, 0);
        int pieces = InetChecksum.add(InetChecksum.sum(data, 0, cut, 0), InetChecksum.sum(data, cut, data.length - cut, 0));
        assertEquals(whole, pieces);
    }

    @Property(tries = 300)
    void incrementalUpdate16EqualsRecomputation(@ForAll @Size(min = 2, max = 200) byte[] data,
                                                @ForAll @IntRange(max = 99) int word,
                                                @ForAll @IntRange(max = 0xFFFF) int newWord) {
        int at = 2 * (word % (data.length / 2));
        int before = InetChecksum.checksum(data, 0, data.length);
        int oldWord = BigEndian.get16(data, at);
        BigEndian.put16(data, at, newWord);
        int after = IndependentChecksum.finish(IndependentChecksum.sum(data, 0, data.length));
        assertTrue(sameOnesComplement(after, InetChecksum.update16(before, oldWord, newWord)),
            () -> "recomputed " + after + " incremental " + InetChecksum.update16(before, oldWord, newWord));
    }

    @Property(tries = 300)
    void incrementalUpdate32EqualsRecomputation(@ForAll @Size(min = 4, max = 200) byte[] data,
                                                @ForAll @IntRange(max = 99) int field,
                                                @ForAll int newValue) {
        int at = 2 * (field % (data.length / 2 - 1));
        int before = InetChecksum.checksum(data, 0, data.length);
        int oldValue = BigEndian.get32(data, at);
        BigEndian.put32(data, at, newValue);
        int after = IndependentChecksum.finish(IndependentChecksum.sum(data, 0, data.length));
        assertTrue(sameOnesComplement(after, InetChecksum.update32(before, oldValue, newValue)));
    }

    /** RFC 1624 §3: +0 and -0 (0x0000 and 0xFFFF) are the same checksum value. */
    private static boolean sameOnesComplement(int a, int b) {
        return a == b || (a == 0 && b == 0xFFFF) || (a == 0xFFFF && b == 0);
    }
}
