package org.jvmd.virtio.blk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;
import org.jvmd.bytes.LittleEndian;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestFault;

/**
 * Arbitrary virtio-blk requests as a hostile driver builds them: any type, sectors in,
 * at and past the end (and overflowing), headers short or split, data in either
 * direction, lengths not a sector multiple, too many or too large segments, status bytes
 * missing, discard/write-zeroes segments with any fields; completed by the "I/O threads"
 * in a random order. The device must throw nothing, use every chain exactly once, answer
 * the status a reference written from the spec expects, keep counters that add up, and
 * move data exactly as a reference image says.
 */
class HostileRequestProperties {
    static final int IMAGE = 64 * 1024;          // 128 sectors
    static final long SECTORS = IMAGE / 512;
    static final VioblkLimits LIMITS = new VioblkLimits(4, 2048, 16, 3, 16, 3);
    static final Integer[] TYPES = {VirtioBlk.T_IN, VirtioBlk.T_OUT, VirtioBlk.T_FLUSH, VirtioBlk.T_GET_ID,
        VirtioBlk.T_DISCARD, VirtioBlk.T_WRITE_ZEROES};

    /**
     * One request: the header's bytes cut into descriptors ({@code headerCuts}, a length
     * below 16 truncates it), readable data descriptors, writable descriptors, and whether
     * a 1-byte status descriptor ends the chain.
     */
    record Req(int type, long sector, List<Integer> headerCuts, List<Integer> readable, List<Integer> writable,
               boolean status, List<long[]> ranges) {}

    record Case(int queueSize, boolean readOnly, boolean ring, List<Req> reqs, long seed) {}

    @Provide
    Arbitrary<Case> cases() {
        Arbitrary<Integer> type = Arbitraries.frequencyOf(
                Tuple.of(8, Arbitraries.of(TYPES)),
                Tuple.of(1, Arbitraries.integers().between(-1, 20)),
                Tuple.of(1, Arbitraries.integers()));
        Arbitrary<Long> sector = Arbitraries.frequencyOf(
                Tuple.of(8, Arbitraries.longs().between(0, SECTORS)),
                Tuple.of(1, Arbitraries.longs().between(SECTORS - 4, SECTORS + 4)),
                Tuple.of(1, Arbitraries.of(-1L, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 55, -8L)));
        Arbitrary<Integer> len = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.of(512, 1024, 2048)),
                Tuple.of(2, Arbitraries.of(0, 1, 20, 511, 513, 4096)),
                Tuple.of(1, Arbitraries.integers().between(0, 3000)));
        Arbitrary<List<Integer>> header = Arbitraries.frequencyOf(
                Tuple.of(8, Arbitraries.just(List.of(16))),
                Tuple.of(2, Arbitraries.integers().between(1, 15).map(c -> List.of(c, 16 - c))),
                Tuple.of(1, Arbitraries.integers().between(0, 15).map(List::of)));
        Arbitrary<long[]> range = Combinators.combine(
                Arbitraries.frequencyOf(Tuple.of(8, Arbitraries.longs().between(0, SECTORS)),
                        Tuple.of(1, Arbitraries.of(-1L, SECTORS + 1))),
                Arbitraries.frequencyOf(Tuple.of(8, Arbitraries.longs().between(0, 16)),
                        Tuple.of(1, Arbitraries.of(17L, 0xffffffffL))),
                Arbitraries.frequencyOf(Tuple.of(8, Arbitraries.of(0L, 1L)),
                        Tuple.of(1, Arbitraries.of(2L, 0x80000000L)))).as((s, n, f) -> new long[] {s, n, f});
        Arbitrary<Req> req = Combinators.combine(type, sector, header,
                len.list().ofMaxSize(5), len.list().ofMaxSize(5),
                Arbitraries.frequency(Tuple.of(9, true), Tuple.of(1, false)),
                range.list().ofMaxSize(4)).as(Req::new);
        return Combinators.combine(Arbitraries.of(16, 32, 64), Arbitraries.frequency(Tuple.of(4, false), Tuple.of(1, true)),
                Arbitraries.of(true, false), req.list().ofMinSize(1).ofMaxSize(40), Arbitraries.longs())
                .as(Case::new);
    }

    /** What the guest sees of one request. */
    record Added(Req req, byte[] readableBytes, long[] wAddr, int[] wLen, long statusAt) {}

    @Property(tries = 300)
    void everyChainIsUsedOnceWithTheExpectedStatusAndData(@ForAll("cases") Case c) throws GuestFault {
        long driver = Vioblk.offeredFeatures(c.readOnly) & (c.ring ? ~0L : ~BlkHarness.RING);
        BlkHarness h = new BlkHarness(IMAGE, c.readOnly, c.queueSize, driver, LIMITS);
        boolean inline = (c.seed & 1) == 0;
        h.device.serveLoneRequestsInline(inline);
        Random rnd = new Random(c.seed);
        rnd.nextBytes(h.backend.image());
        byte[] ref = h.backend.image().clone();
        long requests = 0;
        int noStatus = 0;
        for (int from = 0; from < c.reqs.size(); ) {
            Map<Integer, Added> batch = new HashMap<>();
            while (from < c.reqs.size()) {
                Req r = c.reqs.get(from);
                Added a = stage(h, r, rnd);
                int head = h.queue.add();
                if (head == DriverQueue.NONE) {
                    break;   // ring full: the rest goes in the next batch
                }
                from++;
                batch.put(head, a);
            }
            if (batch.isEmpty()) {
                throw new IllegalStateException("a request did not fit an empty queue");
            }
            h.queue.kick();
            h.device.kick();
            List<BlockRequest> io = new ArrayList<>(h.submitted);
            h.submitted.clear();
            java.util.Set<Integer> handedOn = new java.util.HashSet<>();
            io.forEach(br -> handedOn.add(br.head()));
            int inlined = 0;
            for (Map.Entry<Integer, Added> e : batch.entrySet()) {
                Added a = e.getValue();
                int type = a.readableBytes.length >= 16 ? LittleEndian.get32(a.readableBytes, 0) : -1;
                boolean rw = type == VirtioBlk.T_IN || type == VirtioBlk.T_OUT;
                if (rw && expect(a, c.readOnly).status == VirtioBlk.S_OK && !handedOn.contains(e.getKey())) {
                    // served on the device thread during the kick, before anything handed on
                    assertTrue(inline && io.isEmpty(), "only a lone request is served inline");
                    inlined++;
                    long bytes = type == VirtioBlk.T_IN ? Arrays.stream(a.wLen).sum() - 1 : a.readableBytes.length - 16;
                    if (type == VirtioBlk.T_OUT) {
                        System.arraycopy(a.readableBytes, 16, ref, (int) (a.req.sector * 512), (int) bytes);
                    } else {
                        assertArrayEquals(Arrays.copyOfRange(ref, (int) (a.req.sector * 512),
                                (int) (a.req.sector * 512 + bytes)), readBack(h, a, (int) bytes));
                    }
                }
            }
            assertTrue(inlined <= 1);
            Statistics.label("inline").collect(inlined);
            Collections.shuffle(io, rnd);
            for (BlockRequest br : io) {
                Added a = batch.get(br.head());
                byte[] before = ref.clone();
                br.execute();
                apply(ref, a, br);
                if (br.op() == BlockRequest.Op.READ && br.status() == VirtioBlk.S_OK) {
                    assertArrayEquals(Arrays.copyOfRange(before, (int) (a.req.sector * 512),
                            (int) (a.req.sector * 512 + br.data().bytes())), readBack(h, a, (int) br.data().bytes()));
                }
                h.device.complete(br);
            }
            h.device.completionsDone();
            assertEquals(0, h.device.inFlight());
            Map<Integer, Integer> used = new HashMap<>();
            for (int[] u : h.reap()) {
                assertEquals(null, used.put(u[0], u[1]), "head " + u[0] + " used twice");
            }
            assertEquals(batch.keySet(), used.keySet(), "every chain used exactly once");
            for (Map.Entry<Integer, Added> e : batch.entrySet()) {
                Added a = e.getValue();
                Expect x = expect(a, c.readOnly);
                requests++;
                if (x.status < 0) {
                    noStatus++;
                    assertEquals(0, used.get(e.getKey()), "no status byte: used with length 0");
                    continue;
                }
                assertEquals(x.status, h.status(a.statusAt), a.req.toString());
                assertEquals(x.status == VirtioBlk.S_OK ? x.usedLen : 1, used.get(e.getKey()), a.req.toString());
                Statistics.label("status").collect(x.status);
            }
        }
        assertArrayEquals(ref, h.backend.image(), "the image is what the reference says");
        BlockCounters k = h.device.counters();
        assertEquals(requests, k.completedOk() + k.unsupported() + k.totalErrors(), k.toString());
        assertEquals(noStatus, k.errors(BlockError.NO_STATUS));
        assertEquals(0, h.device.ringCounters().total(), "the chains were well-formed rings");
        assertTrue(!h.device.isBroken());
    }

    /** Writes the request's descriptors into the staging area of the driver queue. */
    private static Added stage(BlkHarness h, Req r, Random rnd) throws GuestFault {
        byte[] hdr = new byte[16];
        LittleEndian.put32(hdr, 0, r.type);
        LittleEndian.put32(hdr, 4, rnd.nextInt(8) == 0 ? rnd.nextInt() : 0);
        LittleEndian.put64(hdr, 8, r.sector);
        java.io.ByteArrayOutputStream readable = new java.io.ByteArrayOutputStream();
        int at = 0;
        for (int cut : r.headerCuts) {
            long b = h.buffer(Math.max(cut, 1));
            h.memory.write(b, hdr, at, cut);
            readable.write(hdr, at, cut);
            at += cut;
            h.queue.readable(b, cut);
        }
        boolean ranged = r.type == VirtioBlk.T_DISCARD || r.type == VirtioBlk.T_WRITE_ZEROES;
        if (ranged && at == 16 && !r.ranges.isEmpty() && rnd.nextInt(8) != 0) {
            byte[] p = new byte[16 * r.ranges.size()];
            for (int i = 0; i < r.ranges.size(); i++) {
                LittleEndian.put64(p, 16 * i, r.ranges.get(i)[0]);
                LittleEndian.put32(p, 16 * i + 8, (int) r.ranges.get(i)[1]);
                LittleEndian.put32(p, 16 * i + 12, (int) r.ranges.get(i)[2]);
            }
            long b = h.buffer(p.length);
            h.memory.write(b, p, 0, p.length);
            readable.write(p, 0, p.length);
            h.queue.readable(b, p.length);
        } else if (at == 16) {
            for (int len : r.readable) {
                byte[] d = new byte[len];
                rnd.nextBytes(d);
                long b = h.buffer(Math.max(len, 1));
                h.memory.write(b, d, 0, len);
                readable.write(d, 0, len);
                h.queue.readable(b, len);
            }
        }
        List<Integer> w = new ArrayList<>(r.writable);
        if (r.status) {
            w.add(1);
        }
        long[] wAddr = new long[w.size()];
        int[] wLen = new int[w.size()];
        long statusAt = -1;
        for (int i = 0; i < w.size(); i++) {
            wAddr[i] = h.buffer(Math.max(w.get(i), 1));
            wLen[i] = w.get(i);
            for (int k = 0; k < wLen[i]; k++) {
                h.memory.writeByte(wAddr[i] + k, (byte) 0x7f);
            }
            h.queue.writable(wAddr[i], wLen[i]);
            if (wLen[i] > 0) {
                statusAt = wAddr[i] + wLen[i] - 1;
            }
        }
        if (readable.size() == 0 && w.isEmpty()) {
            long b = h.buffer(1);   // a chain needs a descriptor: an empty readable one
            h.queue.readable(b, 0);
        }
        return new Added(r, readable.toByteArray(), wAddr, wLen, statusAt);
    }

    record Expect(int status, int usedLen) {}

    /** The spec, written out plainly (virtio 1.2 §5.2.6); status -1: no status byte. */
    static Expect expect(Added a, boolean readOnly) {
        long writable = Arrays.stream(a.wLen).asLongStream().sum();
        if (writable == 0) {
            return new Expect(-1, 0);
        }
        byte[] rd = a.readableBytes;
        if (rd.length < 16) {
            return new Expect(VirtioBlk.S_IOERR, 1);
        }
        int type = LittleEndian.get32(rd, 0);
        long sector = LittleEndian.get64(rd, 8);
        long dataW = writable - 1;
        long dataR = rd.length - 16;
        boolean ro = readOnly;
        switch (type) {
            case VirtioBlk.T_IN:
                if (dataR != 0 || !dataOk(writableSegments(a, dataW)) || !inRange(sector, dataW / 512) || dataW % 512 != 0) {
                    return new Expect(VirtioBlk.S_IOERR, 1);
                }
                return new Expect(VirtioBlk.S_OK, (int) dataW + 1);
            case VirtioBlk.T_OUT:
                if (dataW != 0 || ro || dataR % 512 != 0 || !dataOk(readableSegments(a)) || !inRange(sector, dataR / 512)) {
                    return new Expect(VirtioBlk.S_IOERR, 1);
                }
                return new Expect(VirtioBlk.S_OK, 1);
            case VirtioBlk.T_FLUSH:
                return new Expect(VirtioBlk.S_OK, 1);
            case VirtioBlk.T_GET_ID:
                return new Expect(dataW < 20 ? VirtioBlk.S_IOERR : VirtioBlk.S_OK, 21);
            case VirtioBlk.T_DISCARD:
            case VirtioBlk.T_WRITE_ZEROES:
                boolean z = type == VirtioBlk.T_WRITE_ZEROES;
                if (ro) {
                    return new Expect(VirtioBlk.S_UNSUPP, 1);
                }
                if (dataR == 0 || dataR % 16 != 0 || dataR / 16 > 3) {
                    return new Expect(VirtioBlk.S_IOERR, 1);
                }
                for (int i = 0; i < dataR / 16; i++) {
                    long s = LittleEndian.get64(rd, 16 + 16 * i);
                    long n = Integer.toUnsignedLong(LittleEndian.get32(rd, 16 + 16 * i + 8));
                    long f = Integer.toUnsignedLong(LittleEndian.get32(rd, 16 + 16 * i + 12));
                    if ((f & ~(z ? 1L : 0L)) != 0) {
                        return new Expect(VirtioBlk.S_UNSUPP, 1);
                    }
                    if (n > 16 || !inRange(s, n)) {
                        return new Expect(VirtioBlk.S_IOERR, 1);
                    }
                }
                return new Expect(VirtioBlk.S_OK, 1);
            default:
                return new Expect(VirtioBlk.S_UNSUPP, 1);
        }
    }

    /** The non-empty pieces of the first {@code bytes} writable bytes. */
    private static List<Integer> writableSegments(Added a, long bytes) {
        List<Integer> out = new ArrayList<>();
        for (int len : a.wLen) {
            int take = (int) Math.min(len, bytes);
            if (take > 0) {
                out.add(take);
            }
            bytes -= take;
        }
        return out;
    }

    /** The non-empty data pieces after the 16 header bytes of the readable part. */
    private static List<Integer> readableSegments(Added a) {
        List<Integer> out = new ArrayList<>();
        int skip = 16;
        List<Integer> lens = new ArrayList<>(a.req.headerCuts);
        lens.addAll(a.req.readable);
        for (int len : lens) {
            int take = len - Math.min(skip, len);
            skip -= Math.min(skip, len);
            if (take > 0) {
                out.add(take);
            }
        }
        return out;
    }

    private static boolean dataOk(List<Integer> segs) {
        return segs.size() <= LIMITS.segMax() && segs.stream().allMatch(s -> s <= LIMITS.sizeMax());
    }

    private static boolean inRange(long sector, long sectors) {
        return sector >= 0 && sector <= SECTORS && sectors <= SECTORS - sector;
    }

    /** Applies a request's effect on the image to the reference. */
    private static void apply(byte[] ref, Added a, BlockRequest br) {
        if (br.status() != VirtioBlk.S_OK) {
            return;
        }
        if (br.op() == BlockRequest.Op.WRITE) {
            System.arraycopy(a.readableBytes, 16, ref, (int) (a.req.sector * 512), a.readableBytes.length - 16);
        } else if (br.op() == BlockRequest.Op.WRITE_ZEROES) {
            byte[] rd = a.readableBytes;
            for (int i = 16; i < rd.length; i += 16) {
                long s = LittleEndian.get64(rd, i);
                long n = Integer.toUnsignedLong(LittleEndian.get32(rd, i + 8));
                Arrays.fill(ref, (int) (s * 512), (int) ((s + n) * 512), (byte) 0);
            }
        }
    }

    private static byte[] readBack(BlkHarness h, Added a, int bytes) throws GuestFault {
        byte[] out = new byte[bytes];
        int at = 0;
        for (int i = 0; i < a.wAddr.length && at < bytes; i++) {
            int take = Math.min(a.wLen[i], bytes - at);
            h.memory.read(a.wAddr[i], out, at, take);
            at += take;
        }
        return out;
    }
}
