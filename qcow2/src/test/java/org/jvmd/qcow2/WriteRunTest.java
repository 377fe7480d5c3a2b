package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A large cluster-aligned write goes to the file as one write (issue 15's sequential-write
 * row): into a run of neighbouring new clusters on first write, in place when it overwrites
 * clusters the image already owns side by side; the model and power-loss properties check
 * that the content and the crash ordering stay right.
 */
class WriteRunTest {
    private static final int CLUSTER = 1 << 16;
    private static final int MIB = 1 << 20;

    /** Records the size and position of every write. */
    static final class RecordingFile implements ImageFile {
        final MemImageFile mem = new MemImageFile();
        final List<long[]> writes = new ArrayList<>();

        @Override
        public int read(ByteBuffer dst, long position) {
            return mem.read(dst, position);
        }

        @Override
        public synchronized int write(ByteBuffer src, long position) throws IOException {
            writes.add(new long[] {position, src.remaining()});
            return mem.write(src, position);
        }

        @Override
        public long size() {
            return mem.size();
        }

        @Override
        public void setSize(long size) throws IOException {
            mem.setSize(size);
        }

        @Override
        public void flush() throws IOException {
            mem.flush();
        }

        @Override
        public void close() throws IOException {
            mem.close();
        }

        List<long[]> dataWrites() {
            return writes.stream().filter(w -> w[1] > CLUSTER).toList();
        }
    }

    @Test
    void aLargeAlignedWriteIsOneWriteIntoNewThenOwnedClusters() throws IOException {
        RecordingFile f = new RecordingFile();
        Qcow2Create.create(f, 64L * MIB, null, null, Qcow2Create.Options.DEFAULT);
        byte[] a = new byte[MIB];
        byte[] b = new byte[MIB];
        new Random(1).nextBytes(a);
        new Random(2).nextBytes(b);
        try (Qcow2Image img = Qcow2Image.open(f, List.of(), false)) {
            f.writes.clear();
            img.write(3L * MIB, ByteBuffer.wrap(a));
            assertEquals(1, f.dataWrites().size(), "1 MiB into new clusters: one write");
            long at = f.dataWrites().get(0)[0];
            assertEquals(MIB, f.dataWrites().get(0)[1]);
            assertEquals(0, at % CLUSTER);

            f.writes.clear();
            img.write(3L * MIB, ByteBuffer.wrap(b));
            assertEquals(1, f.dataWrites().size(), "overwrite of owned neighbouring clusters: one write");
            assertEquals(at, f.dataWrites().get(0)[0], "in place");

            byte[] back = new byte[MIB];
            img.read(3L * MIB, ByteBuffer.wrap(back));
            assertArrayEquals(b, back);
            img.flush();
        }
        try (Qcow2Image img = Qcow2Image.open(f, List.of(), true)) {
            byte[] back = new byte[MIB];
            img.read(3L * MIB, ByteBuffer.wrap(back));
            assertArrayEquals(b, back, "after reopening");
        }
    }
}
