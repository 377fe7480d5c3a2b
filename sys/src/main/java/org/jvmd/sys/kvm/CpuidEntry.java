package org.jvmd.sys.kvm;

/**
 * One CPUID leaf as KVM presents it: struct kvm_cpuid_entry2 (linux/kvm.h) without its
 * padding. {@code index} matters only when {@code flags} has
 * {@link #FLAG_SIGNIFICANT_INDEX} (leaves with subleaves, like 4, 7, 0xB, 0xD).
 */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    /** KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic, linux/kvm.h). */
    public static final int FLAG_SIGNIFICANT_INDEX = 1;

    public CpuidEntry withEax(int v) {
        return new CpuidEntry(function, index, flags, v, ebx, ecx, edx);
    }

    public CpuidEntry withEbx(int v) {
        return new CpuidEntry(function, index, flags, eax, v, ecx, edx);
    }

    public CpuidEntry withEcx(int v) {
        return new CpuidEntry(function, index, flags, eax, ebx, v, edx);
    }

    public CpuidEntry withEdx(int v) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, v);
    }

    @Override
    public String toString() {
        return String.format("cpuid %08x.%d: eax=%08x ebx=%08x ecx=%08x edx=%08x", function, index, eax, ebx, ecx, edx);
    }
}
