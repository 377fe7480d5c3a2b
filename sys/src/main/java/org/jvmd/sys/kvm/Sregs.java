package org.jvmd.sys.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;

/**
 * struct kvm_sregs (linux/kvm.h, x86; 312 bytes): segment registers, descriptor tables,
 * control registers, EFER, the APIC base and the pending-interrupt bitmap. A plain
 * mutable mirror of the C struct.
 */
public final class Sregs {
    static final int BYTES = 312;
    private static final int SEGMENT_BYTES = 24;
    private static final int OFF_GDT = 192;
    private static final int OFF_IDT = 208;
    private static final int OFF_CR0 = 224;

    /** struct kvm_segment (24 bytes): the hidden part of a segment register. */
    public static final class Segment {
        public long base;
        public int limit;
        public int selector;
        public int type;
        public boolean present;
        public int dpl;
        public boolean db;
        public boolean s;
        public boolean l;
        public boolean g;
        public boolean avl;
        public boolean unusable;

        void decode(MemorySegment m, long o) {
            base = m.get(JAVA_LONG, o);
            limit = m.get(JAVA_INT, o + 8);
            selector = m.get(JAVA_SHORT, o + 12) & 0xFFFF;
            type = m.get(JAVA_BYTE, o + 14) & 0xFF;
            present = m.get(JAVA_BYTE, o + 15) != 0;
            dpl = m.get(JAVA_BYTE, o + 16) & 0xFF;
            db = m.get(JAVA_BYTE, o + 17) != 0;
            s = m.get(JAVA_BYTE, o + 18) != 0;
            l = m.get(JAVA_BYTE, o + 19) != 0;
            g = m.get(JAVA_BYTE, o + 20) != 0;
            avl = m.get(JAVA_BYTE, o + 21) != 0;
            unusable = m.get(JAVA_BYTE, o + 22) != 0;
        }

        void encode(MemorySegment m, long o) {
            m.set(JAVA_LONG, o, base);
            m.set(JAVA_INT, o + 8, limit);
            m.set(JAVA_SHORT, o + 12, (short) selector);
            m.set(JAVA_BYTE, o + 14, (byte) type);
            m.set(JAVA_BYTE, o + 15, (byte) (present ? 1 : 0));
            m.set(JAVA_BYTE, o + 16, (byte) dpl);
            m.set(JAVA_BYTE, o + 17, (byte) (db ? 1 : 0));
            m.set(JAVA_BYTE, o + 18, (byte) (s ? 1 : 0));
            m.set(JAVA_BYTE, o + 19, (byte) (l ? 1 : 0));
            m.set(JAVA_BYTE, o + 20, (byte) (g ? 1 : 0));
            m.set(JAVA_BYTE, o + 21, (byte) (avl ? 1 : 0));
            m.set(JAVA_BYTE, o + 22, (byte) (unusable ? 1 : 0));
            m.set(JAVA_BYTE, o + 23, (byte) 0);
        }

        /** Copies every field of {@code o}. */
        public void set(Segment o) {
            base = o.base; limit = o.limit; selector = o.selector; type = o.type; present = o.present; dpl = o.dpl;
            db = o.db; s = o.s; l = o.l; g = o.g; avl = o.avl; unusable = o.unusable;
        }

        @Override
        public String toString() {
            return String.format("sel=%x base=%x limit=%x type=%x p=%d dpl=%d db=%d s=%d l=%d g=%d",
                    selector, base, limit, type, present ? 1 : 0, dpl, db ? 1 : 0, s ? 1 : 0, l ? 1 : 0, g ? 1 : 0);
        }
    }

    public final Segment cs = new Segment();
    public final Segment ds = new Segment();
    public final Segment es = new Segment();
    public final Segment fs = new Segment();
    public final Segment gs = new Segment();
    public final Segment ss = new Segment();
    public final Segment tr = new Segment();
    public final Segment ldt = new Segment();
    public long gdtBase;
    public int gdtLimit;
    public long idtBase;
    public int idtLimit;
    public long cr0, cr2, cr3, cr4, cr8;
    public long efer;
    public long apicBase;
    /** Pending external interrupts, one bit per vector (KVM_NR_INTERRUPTS = 256). */
    public final long[] interruptBitmap = new long[4];

    private Segment[] segments() {
        return new Segment[] {cs, ds, es, fs, gs, ss, tr, ldt};
    }

    void decode(MemorySegment m) {
        Segment[] segs = segments();
        for (int i = 0; i < segs.length; i++) {
            segs[i].decode(m, (long) i * SEGMENT_BYTES);
        }
        gdtBase = m.get(JAVA_LONG, OFF_GDT);
        gdtLimit = m.get(JAVA_SHORT, OFF_GDT + 8) & 0xFFFF;
        idtBase = m.get(JAVA_LONG, OFF_IDT);
        idtLimit = m.get(JAVA_SHORT, OFF_IDT + 8) & 0xFFFF;
        cr0 = m.get(JAVA_LONG, OFF_CR0);
        cr2 = m.get(JAVA_LONG, OFF_CR0 + 8);
        cr3 = m.get(JAVA_LONG, OFF_CR0 + 16);
        cr4 = m.get(JAVA_LONG, OFF_CR0 + 24);
        cr8 = m.get(JAVA_LONG, OFF_CR0 + 32);
        efer = m.get(JAVA_LONG, OFF_CR0 + 40);
        apicBase = m.get(JAVA_LONG, OFF_CR0 + 48);
        for (int i = 0; i < 4; i++) {
            interruptBitmap[i] = m.get(JAVA_LONG, OFF_CR0 + 56 + i * 8L);
        }
    }

    void encode(MemorySegment m) {
        m.fill((byte) 0);
        Segment[] segs = segments();
        for (int i = 0; i < segs.length; i++) {
            segs[i].encode(m, (long) i * SEGMENT_BYTES);
        }
        m.set(JAVA_LONG, OFF_GDT, gdtBase);
        m.set(JAVA_SHORT, OFF_GDT + 8, (short) gdtLimit);
        m.set(JAVA_LONG, OFF_IDT, idtBase);
        m.set(JAVA_SHORT, OFF_IDT + 8, (short) idtLimit);
        m.set(JAVA_LONG, OFF_CR0, cr0);
        m.set(JAVA_LONG, OFF_CR0 + 8, cr2);
        m.set(JAVA_LONG, OFF_CR0 + 16, cr3);
        m.set(JAVA_LONG, OFF_CR0 + 24, cr4);
        m.set(JAVA_LONG, OFF_CR0 + 32, cr8);
        m.set(JAVA_LONG, OFF_CR0 + 40, efer);
        m.set(JAVA_LONG, OFF_CR0 + 48, apicBase);
        for (int i = 0; i < 4; i++) {
            m.set(JAVA_LONG, OFF_CR0 + 56 + i * 8L, interruptBitmap[i]);
        }
    }

    @Override
    public String toString() {
        return String.format("cr0=%x cr3=%x cr4=%x efer=%x cs={%s} gdt=%x/%x", cr0, cr3, cr4, efer, cs, gdtBase, gdtLimit);
    }
}
