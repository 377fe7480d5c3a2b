package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.jvmd.sys.kvm.Cpuid;
import org.jvmd.sys.kvm.CpuidEntry;
import org.junit.jupiter.api.Test;

class CpuidSetupTest {
    private static final int SIG = CpuidEntry.FLAG_SIGNIFICANT_INDEX;

    private static Cpuid supported() {
        return new Cpuid(List.of(
                new CpuidEntry(0, 0, 0, 0xD, 0x6874_7541, 0x444D_4163, 0x6974_6E65),
                new CpuidEntry(1, 0, 0, 0x00A1_0F11, 0x0102_0800, 0x0120_2000, 0x078B_FBFF),
                new CpuidEntry(4, 0, SIG, 0x0400_0121, 1, 2, 3),
                new CpuidEntry(4, 1, SIG, 0x0400_0122, 1, 2, 3),
                new CpuidEntry(0xB, 0, SIG, 7, 7, 7, 7),
                new CpuidEntry(0x8000_0008, 0, 0, 0x3030, 0, 0x0000_7007, 0)));
    }

    private static CpuidEntry leaf(Cpuid c, int fn, int idx) {
        return c.find(fn, idx).orElseThrow();
    }

    @Test
    void leafOneCarriesTheApicIdTheCountAndTheHypervisorBit() {
        Cpuid c = CpuidSetup.forVcpu(supported(), 2, 4);
        CpuidEntry l1 = leaf(c, 1, 0);
        assertEquals(2, l1.ebx() >>> 24, "initial APIC id");
        assertEquals(4, (l1.ebx() >>> 16) & 0xFF, "logical processors per package");
        assertEquals(0x0800, l1.ebx() & 0xFFFF, "CLFLUSH size and brand index kept");
        assertTrue(l1.ecx() < 0, "hypervisor bit 31");
        assertTrue((l1.edx() & CpuidSetup.LEAF1_EDX_HTT) != 0);
        assertEquals(0x0120_2000, l1.ecx() & 0x7FFF_FFFF, "the other feature bits pass through");
    }

    @Test
    void aSingleVcpuHasNoHtt() {
        CpuidEntry l1 = leaf(CpuidSetup.forVcpu(supported(), 0, 1), 1, 0);
        assertEquals(0, l1.edx() & CpuidSetup.LEAF1_EDX_HTT);
        assertEquals(1, (l1.ebx() >>> 16) & 0xFF);
    }

    @Test
    void extendedTopologyListsSmtThenCoresThenEndsWithX2apicIdEverywhere() {
        Cpuid c = CpuidSetup.forVcpu(supported(), 3, 6);
        CpuidEntry smt = leaf(c, 0xB, 0);
        CpuidEntry core = leaf(c, 0xB, 1);
        CpuidEntry end = leaf(c, 0xB, 2);
        assertEquals(1, smt.ebx());
        assertEquals(CpuidSetup.LEVEL_SMT << 8, smt.ecx());
        assertEquals(3, core.eax(), "6 cores need 3 bits of APIC id");
        assertEquals(6, core.ebx());
        assertEquals((CpuidSetup.LEVEL_CORE << 8) | 1, core.ecx());
        assertEquals(0, (end.ecx() >> 8) & 0xFF, "level type 0 ends the list");
        for (CpuidEntry e : List.of(smt, core, end)) {
            assertEquals(3, e.edx());
        }
        assertEquals(0, c.entries().stream().filter(e -> e.function() == 0x1F).count(), "absent leaves stay absent");
    }

    @Test
    void cacheAndAmdCoreCountsSayOnePackageOfNCores() {
        Cpuid c = CpuidSetup.forVcpu(supported(), 0, 4);
        assertEquals(3, leaf(c, 4, 0).eax() >>> 26);
        assertEquals(3, leaf(c, 4, 1).eax() >>> 26);
        assertEquals(0x121, leaf(c, 4, 0).eax() & 0x3FFF, "cache type and level kept");
        CpuidEntry amd = leaf(c, 0x8000_0008, 0);
        assertEquals(3, amd.ecx() & 0xFF, "NC = cores - 1");
        assertEquals(2, (amd.ecx() >> 12) & 0xF, "ApicIdCoreIdSize");
    }

    @Test
    void theSupportedTableIsNotModified() {
        Cpuid s = supported();
        CpuidSetup.forVcpu(s, 1, 2);
        assertEquals(supported().entries(), s.entries());
    }

    @Test
    void refusesAnApicIdOutsideTheVm() {
        assertThrows(IllegalArgumentException.class, () -> CpuidSetup.forVcpu(supported(), 2, 2));
    }

    @Property(tries = 200)
    void theCoreLevelShiftCoversEveryApicId(@ForAll @IntRange(min = 1, max = 254) int count,
                                            @ForAll @IntRange(min = 0, max = 253) int id) {
        int apicId = id % count;
        Cpuid c = CpuidSetup.forVcpu(supported(), apicId, count);
        int shift = leaf(c, 0xB, 1).eax();
        assertTrue((1 << shift) >= count, "2^" + shift + " >= " + count);
        assertTrue(shift == 0 || (1 << (shift - 1)) < count, "and no wider than needed");
        assertEquals(apicId, leaf(c, 1, 0).ebx() >>> 24);
    }
}
