package org.jvmd.qcow2;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * The child of {@link CrashTest}: writes through the library until it is killed. Op i touches
 * slot {@link #slot}(i) only, a slot is one cluster and no two ops share a slot. It prints
 * "S i" before op i starts and "F n" once a flush covering ops below n has completed.
 */
public final class CrashWriter {
    static final int SLOT = 1 << 16;
    static final int SLOTS = 4096;
    static final long SIZE = (long) SLOT * SLOTS;
    static final long BASE_DATA = SIZE / 2;

    private CrashWriter() {
    }

    static long slot(int i) {
        return (i * 1237L) % SLOTS; // 1237 is prime: a permutation of the slots
    }

    static byte baseByte(long slot) {
        return slot * SLOT < BASE_DATA ? (byte) 0x5a : 0;
    }

    /** What the slot of op i holds once op i completed. */
    static byte[] expected(int i) {
        Random r = new Random(i);
        int kind = r.nextInt(10);
        byte[] b = new byte[SLOT];
        if (kind >= 8) {
            return b; // write-zeroes or discard of the whole cluster
        }
        byte[] p = new byte[SLOT];
        r.nextBytes(p);
        if (kind < 6) {
            return p;
        }
        int from = r.nextInt(SLOT);
        int to = from + r.nextInt(SLOT - from) + 1;
        Arrays.fill(b, baseByte(slot(i)));
        System.arraycopy(p, from, b, from, to - from);
        return b;
    }

    static void apply(DiskImage d, int i) throws Exception {
        Random r = new Random(i);
        int kind = r.nextInt(10);
        long off = slot(i) * SLOT;
        if (kind == 8) {
            d.writeZeroes(off, SLOT);
            return;
        }
        if (kind == 9) {
            d.discard(off, SLOT);
            return;
        }
        byte[] p = new byte[SLOT];
        r.nextBytes(p);
        if (kind < 6) {
            d.write(off, ByteBuffer.wrap(p));
            return;
        }
        int from = r.nextInt(SLOT);
        int to = from + r.nextInt(SLOT - from) + 1;
        d.write(off + from, ByteBuffer.wrap(p, from, to - from));
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true);
        int start = Integer.parseInt(args[1]);
        int count = Integer.parseInt(args[2]);
        Random pace = new Random(start);
        try (DiskImage d = ImageFiles.openChain(Path.of(args[0]), false)) {
            out.println("READY");
            for (int i = start; i < start + count; i++) {
                out.println("S " + i);
                apply(d, i);
                if (pace.nextInt(4) == 0) {
                    d.flush();
                    out.println("F " + (i + 1));
                }
                Thread.sleep(pace.nextInt(3));
            }
            d.flush();
            out.println("F " + (start + count));
            Thread.sleep(60_000);
        }
    }
}
