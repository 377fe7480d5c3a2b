package org.jvmd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * An off-heap byte buffer that readv/writev can use, for callers outside this module that
 * may not touch {@code java.lang.foreign}: a scratch frame, a header, a receive buffer.
 * Freed when unreachable.
 */
public final class NativeBuffer {
    private final MemorySegment seg;

    public NativeBuffer(long size) {
        this.seg = Arena.ofAuto().allocate(size, 64);
    }

    public long size() {
        return seg.byteSize();
    }

    /** A direct little-endian ByteBuffer view of the whole buffer (one allocation; keep it). */
    public ByteBuffer asByteBuffer() {
        return seg.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    public void get(long off, byte[] dst, int dstOff, int len) {
        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, dst, dstOff, len);
    }

    public void put(long off, byte[] src, int srcOff, int len) {
        MemorySegment.copy(src, srcOff, seg, ValueLayout.JAVA_BYTE, off, len);
    }

    public byte getByte(long off) {
        return seg.get(ValueLayout.JAVA_BYTE, off);
    }

    public void putByte(long off, byte v) {
        seg.set(ValueLayout.JAVA_BYTE, off, v);
    }

    public MemorySegment segment() {
        return seg;
    }
}
