package org.jvmd.vmm.boot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A kernel or initrd to load, read where it lies: its size and positional reads, so that
 * {@link LinuxLoader} copies it into guest memory a piece at a time. (vmm-proc used to read
 * both whole into its heap: 14 + 5 MB for the lab's test guest, pages that stayed touched in
 * every VM process for its life; issue 17.)
 *
 * <p>The file is untrusted and may change under us (vm.conf names it, root opens it): a read
 * that ends before the size taken at open is a {@link BootException}, never a short load.
 */
public sealed interface BootFile extends AutoCloseable {
    /** No initrd. */
    BootFile NONE = of("initrd", new byte[0]);

    /** What the file is ("kernel", "initrd"), for messages. */
    String what();

    /** Its size when opened. */
    long size();

    /** Reads exactly {@code len} bytes at {@code offset} into {@code dst[off, off + len)}. */
    void readFully(long offset, byte[] dst, int off, int len) throws BootException;

    @Override
    default void close() {
    }

    /** A file already in memory (tests, small images). */
    static BootFile of(String what, byte[] bytes) {
        return new Bytes(what, bytes);
    }

    /** Opens {@code path} for reading; its size is taken now. */
    static BootFile open(String what, Path path) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new IOException(what + ": " + path + ": no such file");
        }
        try {
            return new Channel(what, ch, ch.size());
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** An array. */
    record Bytes(String what, byte[] bytes) implements BootFile {
        @Override
        public long size() {
            return bytes.length;
        }

        @Override
        public void readFully(long offset, byte[] dst, int off, int len) throws BootException {
            if (offset < 0 || offset > bytes.length - (long) len) {
                throw new BootException(what + ": read of " + len + " bytes at " + offset + " past its end (" + bytes.length + ")");
            }
            System.arraycopy(bytes, (int) offset, dst, off, len);
        }
    }

    /** An open file, read with pread(2) (FileChannel's positional reads). */
    record Channel(String what, FileChannel channel, long size) implements BootFile {
        @Override
        public void readFully(long offset, byte[] dst, int off, int len) throws BootException {
            ByteBuffer b = ByteBuffer.wrap(dst, off, len);
            try {
                while (b.hasRemaining()) {
                    int n = channel.read(b, offset + b.position() - off);
                    if (n < 0) {
                        throw new BootException(what + ": the file ended at " + (offset + b.position() - off)
                                + " bytes while it was loaded (it had " + size + " when opened)");
                    }
                }
            } catch (IOException e) {
                throw new BootException(what + ": read failed: " + e.getMessage());
            }
        }

        @Override
        public void close() {
            try {
                channel.close();
            } catch (IOException e) {
                // a read-only file: nothing was written that a failed close could lose
            }
        }
    }
}
