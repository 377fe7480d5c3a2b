package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;

/** A raw image: guest offset = file offset (vmd's vioraw.c). Its size is the file's size at open. */
public final class RawImage implements DiskImage {
    private static final int ZERO_CHUNK = 1 << 16;

    private final ImageFile file;
    private final boolean readOnly;
    private final long size;
    private volatile boolean closed;

    public RawImage(ImageFile file, boolean readOnly) throws IOException {
        this.file = file;
        this.readOnly = readOnly;
        this.size = file.size();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public int discardGranularity() {
        return 1;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        DiskImage.checkRange(file.name(), size, offset, dst.remaining());
        file.readOrZero(dst, offset);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        checkWritable();
        DiskImage.checkRange(file.name(), size, offset, src.remaining());
        file.writeFully(src, offset);
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) {
            file.flush();
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        checkWritable();
        DiskImage.checkRange(file.name(), size, offset, length);
        if (!file.punchHole(offset, length)) {
            writeZeroBytes(offset, length);
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkWritable();
        DiskImage.checkRange(file.name(), size, offset, length);
        if (!file.punchHole(offset, length)) {
            writeZeroBytes(offset, length);
        }
    }

    private void writeZeroBytes(long offset, long length) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(ZERO_CHUNK, Math.max(length, 1)));
        for (long done = 0; done < length;) {
            int n = (int) Math.min(zeros.capacity(), length - done);
            file.writeFully(zeros.clear().limit(n), offset + done);
            done += n;
        }
    }

    private void checkWritable() throws ImageException {
        if (readOnly) {
            throw new ImageException(file.name() + ": the image is read-only");
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            flush();
        } finally {
            file.close();
        }
    }
}
