package org.jvmd.it.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.blk.VirtioBlk;

/**
 * Workloads that check data: random writes into distinct units (never two requests on the
 * same bytes in flight, so the order the device completes them in cannot matter), recorded
 * in a shadow copy of the disk, and reads compared against it.
 */
final class Blocks {
    /** The unit of the random writes: each request lies inside one. */
    static final int UNIT = 64 * 1024;

    final byte[] shadow;
    final MappedGuestMemory mem;
    private final SplittableRandom random;
    final List<String> mismatches = new ArrayList<>();

    Blocks(MappedGuestMemory mem, long diskBytes, long seed) {
        this.mem = mem;
        this.shadow = new byte[Math.toIntExact(diskBytes)];
        this.random = new SplittableRandom(seed);
    }

    /** {@code count} distinct units in random order. */
    int[] randomUnits(int count) {
        int units = shadow.length / UNIT;
        int[] all = new int[units];
        for (int i = 0; i < units; i++) {
            all[i] = i;
        }
        for (int i = units - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        return Arrays.copyOf(all, count);
    }

    /** Writes a random sector-aligned range of random bytes inside each of {@code units}. */
    Workload writes(int[] units) {
        return writes(units, false);
    }

    /** Writes random bytes over each of {@code units}, whole or a random sector-aligned range of it. */
    Workload writes(int[] units, boolean whole) {
        return new Workload() {
            int i;

            @Override
            public boolean next(BlkRequest r) throws GuestFault {
                if (i == units.length) {
                    return false;
                }
                long unit = (long) units[i++] * UNIT;
                int off = whole ? 0 : random.nextInt(UNIT / VirtioBlk.SECTOR_SIZE) * VirtioBlk.SECTOR_SIZE;
                int len = whole ? UNIT : (1 + random.nextInt((UNIT - off) / VirtioBlk.SECTOR_SIZE)) * VirtioBlk.SECTOR_SIZE;
                byte[] data = new byte[len];
                random.nextBytes(data);
                mem.write(r.data(), data, 0, len);
                System.arraycopy(data, 0, shadow, (int) (unit + off), len);
                r.set(VirtioBlk.T_OUT, (unit + off) / VirtioBlk.SECTOR_SIZE, len);
                return true;
            }

            @Override
            public void done(BlkRequest r, int status, int usedLen, long latencyNanos) {
                assertEquals(VirtioBlk.S_OK, status, r + " status");
                assertEquals(1, usedLen, r + ": the device wrote the status byte only");
            }
        };
    }

    /** Reads the whole disk in {@code block}-byte requests and compares each with the shadow. */
    Workload readAndCompare(int block) {
        return new Workload() {
            long next;

            @Override
            public boolean next(BlkRequest r) {
                if (next >= shadow.length) {
                    return false;
                }
                int len = (int) Math.min(block, shadow.length - next);
                r.set(VirtioBlk.T_IN, next / VirtioBlk.SECTOR_SIZE, len);
                next += len;
                return true;
            }

            @Override
            public void done(BlkRequest r, int status, int usedLen, long latencyNanos) throws GuestFault {
                assertEquals(VirtioBlk.S_OK, status, r + " status");
                assertEquals(r.len() + 1, usedLen, r + ": the device wrote the data and the status byte");
                byte[] got = new byte[r.len()];
                mem.read(r.data(), got, 0, got.length);
                int at = (int) (r.sector() * VirtioBlk.SECTOR_SIZE);
                int diff = Arrays.mismatch(got, 0, got.length, shadow, at, at + got.length);
                if (diff >= 0 && mismatches.size() < 10) {
                    mismatches.add("byte " + (at + diff) + ": read " + got[diff] + ", written " + shadow[at + diff]);
                }
            }
        };
    }
}
