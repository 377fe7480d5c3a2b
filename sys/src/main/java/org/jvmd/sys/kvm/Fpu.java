package org.jvmd.sys.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;

/**
 * struct kvm_fpu (linux/kvm.h, x86; 416 bytes): x87 and SSE state in FXSAVE terms. A plain
 * mutable mirror of the C struct; the register files are raw bytes.
 */
public final class Fpu {
    static final int BYTES = 416;

    /** fpr[8][16]: the x87 registers. */
    public final byte[] fpr = new byte[128];
    public int fcw;
    public int fsw;
    public int ftwx;
    public int lastOpcode;
    public long lastIp;
    public long lastDp;
    /** xmm[16][16]. */
    public final byte[] xmm = new byte[256];
    public int mxcsr;

    void decode(MemorySegment s) {
        MemorySegment.copy(s, JAVA_BYTE, 0, fpr, 0, 128);
        fcw = s.get(JAVA_SHORT, 128) & 0xFFFF;
        fsw = s.get(JAVA_SHORT, 130) & 0xFFFF;
        ftwx = s.get(JAVA_BYTE, 132) & 0xFF;
        lastOpcode = s.get(JAVA_SHORT, 134) & 0xFFFF;
        lastIp = s.get(JAVA_LONG, 136);
        lastDp = s.get(JAVA_LONG, 144);
        MemorySegment.copy(s, JAVA_BYTE, 152, xmm, 0, 256);
        mxcsr = s.get(JAVA_INT, 408);
    }

    void encode(MemorySegment s) {
        s.fill((byte) 0);
        MemorySegment.copy(fpr, 0, s, JAVA_BYTE, 0, 128);
        s.set(JAVA_SHORT, 128, (short) fcw);
        s.set(JAVA_SHORT, 130, (short) fsw);
        s.set(JAVA_BYTE, 132, (byte) ftwx);
        s.set(JAVA_SHORT, 134, (short) lastOpcode);
        s.set(JAVA_LONG, 136, lastIp);
        s.set(JAVA_LONG, 144, lastDp);
        MemorySegment.copy(xmm, 0, s, JAVA_BYTE, 152, 256);
        s.set(JAVA_INT, 408, mxcsr);
    }
}
