package org.jvmd.vmm;

import org.jvmd.sys.kvm.Cpuid;
import org.jvmd.sys.kvm.CpuidEntry;

/**
 * Turns KVM_GET_SUPPORTED_CPUID into one vCPU's CPUID table: every supported feature is
 * passed through, and the topology leaves say "one package of {@code count} single-thread
 * cores, this one with APIC id {@code apicId}", the hypervisor bit set.
 */
public final class CpuidSetup {
    /** Leaf 1 ECX bit 31: running under a hypervisor (Intel SDM Vol. 2A, CPUID, Table 3-10: reserved, used so by KVM and others). */
    static final int LEAF1_ECX_HYPERVISOR = 1 << 31;
    /** Leaf 1 EDX bit 28 HTT: EBX[23:16] (max logical processors per package) is valid (Intel SDM Vol. 2A, Table 3-11). */
    static final int LEAF1_EDX_HTT = 1 << 28;
    /** Leaf 0xB / 0x1F level types in ECX[15:8] (Intel SDM Vol. 2A, CPUID leaf 0BH). */
    static final int LEVEL_SMT = 1;
    static final int LEVEL_CORE = 2;

    private CpuidSetup() {
    }

    /** The table for vCPU {@code apicId} of {@code count}, derived from {@code supported} (not modified). */
    public static Cpuid forVcpu(Cpuid supported, int apicId, int count) {
        if (count < 1 || apicId < 0 || apicId >= count || count > 255) {
            throw new IllegalArgumentException("vCPU " + apicId + " of " + count);
        }
        Cpuid c = supported.copy();
        int shift = 32 - Integer.numberOfLeadingZeros(Math.max(count - 1, 0)); // bits to hold core ids
        // Leaf 1: EBX[31:24] initial APIC id, EBX[23:16] logical processors per package.
        c.update(1, e -> e
                .withEbx((e.ebx() & 0x0000_FFFF) | (apicId << 24) | (count << 16))
                .withEcx(e.ecx() | LEAF1_ECX_HYPERVISOR)
                .withEdx(count > 1 ? e.edx() | LEAF1_EDX_HTT : e.edx() & ~LEAF1_EDX_HTT));
        // Leaf 4 (Intel deterministic cache parameters): EAX[31:26] cores per package - 1, EAX[25:14] sharing threads - 1 = 0.
        c.update(4, e -> e.withEax((e.eax() & 0x0000_3FFF) | ((count - 1) << 26)));
        // Leaves 0xB and 0x1F (extended topology): level 0 SMT with one thread, level 1 cores, x2APIC id in EDX.
        topology(c, 0xB, apicId, count, shift);
        topology(c, 0x1F, apicId, count, shift);
        // AMD leaf 0x80000008 ECX: [7:0] NC = cores - 1, [15:12] ApicIdCoreIdSize (AMD APM Vol. 3, CPUID Fn8000_0008).
        c.update(0x8000_0008, e -> e.withEcx((e.ecx() & ~0xF0FF) | (count - 1) | (shift << 12)));
        return c;
    }

    /** Rewrites leaf {@code fn} (if KVM offers it) as subleaves 0 (SMT), 1 (core) and 2 (end of list). */
    private static void topology(Cpuid c, int fn, int apicId, int count, int shift) {
        if (c.entries().stream().noneMatch(e -> e.function() == fn)) {
            return;
        }
        c.remove(fn);
        int f = CpuidEntry.FLAG_SIGNIFICANT_INDEX;
        // EAX[4:0]: bits to shift the x2APIC id right to get the next level's id; EBX[15:0]: processors at this level;
        // ECX[7:0] the level number, ECX[15:8] its type (0 = invalid, ends the list); EDX: this processor's x2APIC id.
        c.add(new CpuidEntry(fn, 0, f, 0, 1, LEVEL_SMT << 8, apicId));
        c.add(new CpuidEntry(fn, 1, f, shift, count, (LEVEL_CORE << 8) | 1, apicId));
        c.add(new CpuidEntry(fn, 2, f, 0, 0, 2, apicId));
    }
}
