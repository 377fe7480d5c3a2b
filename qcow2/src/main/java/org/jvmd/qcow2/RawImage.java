package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;

/** A raw image: guest offset = file offset (vmd's vioraw.c). Its size is the file's size at open. */
public final class RawImage extends ImageBase {
    private static final int ZERO_CHUNK = 1 << 16;

    private final ImageFile file;
    private volatile boolean closed;

    public RawImage(ImageFile file, boolean readOnly) throws IOException {
        super(file.name(), file.size(), readOnly);
        this.file = file;
    }

    @Override
    public int discardGranularity() {
        return 1;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        checkRange(offset, dst.remaining());
        file.readOrZero(dst, offset);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        checkChange(offset, src.remaining());
        file.writeFully(src, offset);
    }

    /** The file's bytes are the disk's: one extent, nothing pinned (a raw image never moves data). */
    @Override
    public Mapping map(long offset, long length, boolean write) throws IOException {
        if (write) {
            checkChange(offset, length);
        } else {
            checkRange(offset, length);
        }
        return Mapping.of(new Extent.Data(0, offset, length));
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) {
            file.flush();
        }
    }

    /** A raw file gives the range back where it can (a hole reads as zeros), else writes zeros. */
    @Override
    public void discard(long offset, long length) throws IOException {
        writeZeroes(offset, length);
    }

    /** A hole where the file system punches one, zero bytes written where it does not. */
    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkChange(offset, length);
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
