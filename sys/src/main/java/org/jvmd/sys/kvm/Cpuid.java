package org.jvmd.sys.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * A CPUID table (struct kvm_cpuid2: u32 nent, u32 padding, then nent struct
 * kvm_cpuid_entry2 of 40 bytes; linux/kvm.h). Obtained from
 * {@link Kvm#supportedCpuid()}, adjusted per vCPU, and set with {@link VcpuFd#setCpuid2}.
 */
public final class Cpuid {
    static final int HEADER = 8;
    static final int ENTRY = 40;

    private final List<CpuidEntry> entries;

    public Cpuid(List<CpuidEntry> entries) {
        this.entries = new ArrayList<>(entries);
    }

    public List<CpuidEntry> entries() {
        return List.copyOf(entries);
    }

    public Cpuid copy() {
        return new Cpuid(entries);
    }

    /** The entry for {@code function} (and {@code index}, where the leaf has subleaves). */
    public Optional<CpuidEntry> find(int function, int index) {
        for (CpuidEntry e : entries) {
            if (e.function() == function
                    && ((e.flags() & CpuidEntry.FLAG_SIGNIFICANT_INDEX) == 0 || e.index() == index)) {
                return Optional.of(e);
            }
        }
        return Optional.empty();
    }

    /** Replaces every entry of {@code function} (all its subleaves) by {@code f} applied to it. */
    public void update(int function, UnaryOperator<CpuidEntry> f) {
        for (int i = 0; i < entries.size(); i++) {
            if (entries.get(i).function() == function) {
                entries.set(i, f.apply(entries.get(i)));
            }
        }
    }

    /** Appends {@code e} (the caller keeps function/index pairs unique). */
    public void add(CpuidEntry e) {
        entries.add(e);
    }

    /** Removes every entry of {@code function}. */
    public void remove(int function) {
        entries.removeIf(e -> e.function() == function);
    }

    static Cpuid decode(MemorySegment s) {
        int n = s.get(JAVA_INT, 0);
        List<CpuidEntry> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long o = HEADER + (long) i * ENTRY;
            out.add(new CpuidEntry(s.get(JAVA_INT, o), s.get(JAVA_INT, o + 4), s.get(JAVA_INT, o + 8),
                    s.get(JAVA_INT, o + 12), s.get(JAVA_INT, o + 16), s.get(JAVA_INT, o + 20), s.get(JAVA_INT, o + 24)));
        }
        return new Cpuid(out);
    }

    MemorySegment encode(Arena a) {
        MemorySegment s = a.allocate(HEADER + (long) entries.size() * ENTRY, 8);
        s.set(JAVA_INT, 0, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            CpuidEntry e = entries.get(i);
            long o = HEADER + (long) i * ENTRY;
            s.set(JAVA_INT, o, e.function());
            s.set(JAVA_INT, o + 4, e.index());
            s.set(JAVA_INT, o + 8, e.flags());
            s.set(JAVA_INT, o + 12, e.eax());
            s.set(JAVA_INT, o + 16, e.ebx());
            s.set(JAVA_INT, o + 20, e.ecx());
            s.set(JAVA_INT, o + 24, e.edx());
        }
        return s;
    }
}
