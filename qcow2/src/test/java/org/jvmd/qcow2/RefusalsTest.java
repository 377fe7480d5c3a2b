package org.jvmd.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the library refuses, and the messages a person reads at vmctl start. */
class RefusalsTest {
    @TempDir
    Path dir;

    static byte[] image(long size, String backing) throws Exception {
        return image(size, backing, backing == null ? null : ImageFormat.RAW);
    }

    static byte[] image(long size, String backing, ImageFormat format) throws Exception {
        MemImageFile f = new MemImageFile();
        Qcow2Create.create(f, size, backing, format);
        return f.bytes();
    }

    static byte[] with(byte[] img, int at, long value, int width) {
        byte[] b = img.clone();
        ByteBuffer bb = ByteBuffer.wrap(b);
        if (width == 4) {
            bb.putInt(at, (int) value);
        } else {
            bb.putLong(at, value);
        }
        return b;
    }

    static String refusal(byte[] img, boolean readOnly, List<Layer> bases) {
        return assertThrows(ImageException.class, () -> Qcow2Image.open(new MemImageFile(img), bases, readOnly))
                .getMessage();
    }

    @Test
    void encryptionIsRefused() throws Exception {
        assertEquals("mem: encrypted images are not supported (crypt_method 2)",
                refusal(with(image(1 << 20, null), 32, 2, 4), true, List.of()));
    }

    @Test
    void externalDataFilesAndUnknownFeaturesAreRefused() throws Exception {
        byte[] img = image(1 << 20, null);
        assertEquals("mem: images with an external data file are not supported",
                refusal(with(img, 72, 1L << 2, 8), true, List.of()));
        assertEquals("mem: extended L2 entries (subclusters) are not supported",
                refusal(with(img, 72, 1L << 4, 8), true, List.of()));
        assertEquals("mem: unknown incompatible features 0x100000",
                refusal(with(img, 72, 1L << 20, 8), true, List.of()));
        assertTrue(refusal(with(img, 72, 1L << 3, 8), true, List.of()).contains("compression type"));
    }

    @Test
    void dirtyAndCorruptImagesOpenOnlyReadOnly() throws Exception {
        byte[] dirty = with(image(1 << 20, null), 72, 1, 8);
        assertTrue(refusal(dirty, false, List.of()).contains("qemu-img check -r all"));
        Qcow2Image.open(new MemImageFile(dirty), List.of(), true).close();
        byte[] corrupt = with(image(1 << 20, null), 72, 2, 8);
        assertTrue(refusal(corrupt, false, List.of()).contains("marked corrupt"));
    }

    @Test
    void tablesOutsideTheFileAreRefused() throws Exception {
        byte[] img = image(1 << 20, null);
        assertTrue(refusal(with(img, 40, 1L << 40, 8), true, List.of()).startsWith("mem: L1 table ("));
        assertTrue(refusal(with(img, 48, 1L << 40, 8), true, List.of()).startsWith("mem: refcount table ("));
        assertTrue(refusal(with(img, 36, 0x7fffffff, 4), true, List.of()).contains("L1 table too large"));
        assertEquals("mem: unsupported qcow2 version 4", refusal(with(img, 4, 4, 4), true, List.of()));
        assertEquals("mem: not a qcow2 image (bad magic)", refusal(with(img, 0, 0, 4), true, List.of()));
    }

    @Test
    void baseChainMismatchesAreRefused() throws Exception {
        byte[] thin = image(1 << 20, "base.raw");
        assertEquals("mem: missing base image 'base.raw'", refusal(thin, true, List.of()));
        Layer big = new Layer(new MemImageFile(new byte[2 << 20]), ImageFormat.RAW);
        assertEquals("mem: base image mem (2097152 bytes) is larger than the disk (1048576 bytes)",
                refusal(thin, true, List.of(big)));
        Layer small = new Layer(new MemImageFile(new byte[4096]), ImageFormat.RAW);
        Qcow2Image.open(new MemImageFile(thin), List.of(small), true).close(); // a smaller base is fine
        assertEquals("mem: the image has no base, but 1 base layer(s) were given",
                refusal(image(1 << 20, null), true, List.of(small)));
        assertTrue(refusal(thin, true, List.of(small, small)).contains("a raw base has no base"));
    }

    @Test
    void chainResolutionRefusesLoopsAndLargerBases() throws Exception {
        Path a = dir.resolve("a.qcow2");
        Path b = dir.resolve("b.qcow2");
        Files.write(a, image(1 << 20, "b.qcow2", ImageFormat.QCOW2));
        Files.write(b, image(1 << 20, "./a.qcow2", null)); // no format: detected by magic
        ImageException e = assertThrows(ImageException.class, () -> BackingChain.resolve(a, null));
        assertEquals(a + ": backing file loop: " + a + " appears twice in the chain", e.getMessage());
        Path top = dir.resolve("top.qcow2");
        Files.write(top, image(1 << 20, "big.raw"));
        Files.write(dir.resolve("big.raw"), new byte[3 << 20]);
        e = assertThrows(ImageException.class, () -> BackingChain.resolve(top, null));
        assertTrue(e.getMessage().endsWith("is larger than the disk (1048576 bytes)"), e.getMessage());
        Files.write(top, image(1 << 20, "nowhere.raw"));
        e = assertThrows(ImageException.class, () -> BackingChain.resolve(top, null));
        assertTrue(e.getMessage().contains("nowhere.raw not found"), e.getMessage());
    }

    @Test
    void hostileBaseNamesAndUnreadableBasesAreImageExceptions() throws Exception {
        Path top = dir.resolve("nul.qcow2");
        Files.write(top, image(1 << 20, "a\0b"));
        ImageException e = assertThrows(ImageException.class, () -> BackingChain.resolve(top, null));
        assertEquals(top + ": invalid base image name 'a?b'", e.getMessage());
        Path t2 = dir.resolve("t2.qcow2");
        Files.write(t2, image(1 << 20, "b.raw"));
        Files.write(dir.resolve("b.raw"), new byte[4096]);
        e = assertThrows(ImageException.class, () -> BackingChain.resolve(t2, null, p -> {
            if (p.toString().endsWith("b.raw")) {
                throw new java.nio.file.AccessDeniedException(p.toString());
            }
            return ChannelImageFile.open(p, true);
        }));
        assertEquals(t2 + ": base image " + dir.resolve("b.raw") + ": Permission denied", e.getMessage());
    }

    @Test
    void readOnlyImagesRefuseWrites() throws Exception {
        try (DiskImage d = Qcow2Image.open(new MemImageFile(image(1 << 20, null)), List.of(), true)) {
            assertEquals("mem: the image is read-only",
                    assertThrows(ImageException.class, () -> d.write(0, ByteBuffer.allocate(1))).getMessage());
            assertTrue(assertThrows(ImageException.class, () -> d.read(1 << 20, ByteBuffer.allocate(1))).getMessage()
                    .contains("outside the disk"));
        }
    }

    @Test
    void discardedClustersArePunchedOnceTheirUnmappingIsDurable() throws Exception {
        MemImageFile f = new MemImageFile(image(4 << 20, null));
        try (DiskImage d = Qcow2Image.open(f, List.of(), false)) {
            byte[] b = new byte[1 << 20];
            java.util.Arrays.fill(b, (byte) 7);
            d.write(0, ByteBuffer.wrap(b));
            d.flush();
            d.discard(0, 1 << 20);
            assertEquals(0, f.punched, "nothing punched before the unmapping is durable");
            d.flush();
            assertEquals(1 << 20, f.punched);
        }
    }
}
