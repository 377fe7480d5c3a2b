package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The file under an image, as the library is handed it: the disk process implements it over a
 * descriptor it received (pread/pwrite/fstat/ftruncate/fdatasync), vmctl and the tests over a
 * {@link java.nio.channels.FileChannel} ({@link ChannelImageFile}). The library opens nothing.
 *
 * <p>Reads and writes are positional and may be short, like pread(2)/pwrite(2); the library
 * loops. Whoever hands an ImageFile to {@link DiskImage#open} hands over its ownership: the
 * image's {@code close()} closes it.
 *
 * <p>Thread safety: a qcow2 image writes the data of cluster runs outside its lock, so reads,
 * writes and flushes may come from several threads at once, as pread/pwrite/fdatasync may.
 */
public interface ImageFile extends AutoCloseable {
    /** pread(2): reads up to dst.remaining() bytes at position; -1 at end of file. */
    int read(ByteBuffer dst, long position) throws IOException;

    /** pwrite(2): writes up to src.remaining() bytes at position (the file grows as needed). */
    int write(ByteBuffer src, long position) throws IOException;

    /** fstat(2) st_size. */
    long size() throws IOException;

    /** ftruncate(2): shrinks or extends (with zeros) the file. */
    void setSize(long size) throws IOException;

    /** fdatasync(2): everything written so far is on stable storage when this returns. */
    void flush() throws IOException;

    /**
     * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): the range reads as zeros afterwards
     * and may give its blocks back. Returns false where the file cannot (nothing was done).
     */
    default boolean punchHole(long offset, long length) throws IOException {
        return false;
    }

    /** A name for messages ("vm1.qcow2"); never opened. */
    default String name() {
        return "image";
    }

    @Override
    void close() throws IOException;

    /** Reads exactly dst.remaining() bytes at position; a file ending early is an {@link ImageException}. */
    default void readFully(ByteBuffer dst, long position, String what) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = read(dst, pos);
            if (n < 0) {
                throw new ImageException(name() + ": " + what + " at offset " + position
                        + " lies beyond the end of the file");
            }
            pos += n;
        }
    }

    /** Reads dst.remaining() bytes at position; what lies beyond the end of the file reads as zeros. */
    default void readOrZero(ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = read(dst, pos);
            if (n < 0) {
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                return;
            }
            pos += n;
        }
    }

    /** Writes all of src at position. */
    default void writeFully(ByteBuffer src, long position) throws IOException {
        long pos = position;
        while (src.hasRemaining()) {
            int n = write(src, pos);
            if (n <= 0) {
                throw new ImageException(name() + ": short write at offset " + pos);
            }
            pos += n;
        }
    }
}
