package org.jvmd.vmm.boot;

/**
 * A segment register's hidden part as the boot state wants it loaded (the fields of
 * struct kvm_segment in linux/kvm.h, which mirror a descriptor: Intel SDM Vol. 3A §3.4.5).
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g) {
    /** Decodes a 64-bit GDT descriptor (Intel SDM Vol. 3A §3.4.5, Figure 3-8) as loaded by {@code selector}. */
    public static Segment fromDescriptor(int selector, long d) {
        long base = ((d >>> 16) & 0xFF_FFFFL) | ((d >>> 32) & 0xFF00_0000L);
        int rawLimit = (int) ((d & 0xFFFF) | ((d >>> 32) & 0xF_0000L));
        boolean g = ((d >>> 55) & 1) != 0;
        int limit = g ? (rawLimit << 12) | 0xFFF : rawLimit;
        return new Segment(base, limit, selector,
                (int) ((d >>> 40) & 0xF),
                ((d >>> 47) & 1) != 0,
                (int) ((d >>> 45) & 3),
                ((d >>> 54) & 1) != 0,
                ((d >>> 44) & 1) != 0,
                ((d >>> 53) & 1) != 0,
                g);
    }
}
