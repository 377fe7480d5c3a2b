package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.jvmd.sys.kvm.GsiRoute;
import org.junit.jupiter.api.Test;

class IrqRoutingTest {
    private static List<GsiRoute.Irqchip> routes(int gsi) {
        return IrqRouting.legacyRoutes().stream().filter(r -> r.gsi() == gsi).map(r -> (GsiRoute.Irqchip) r).toList();
    }

    @Test
    void thePitsGsi0ReachesIoapicPin2AsTheMadtOverrideSays() {
        assertEquals(List.of(new GsiRoute.Irqchip(0, GsiRoute.PIC_MASTER, 0), new GsiRoute.Irqchip(0, GsiRoute.IOAPIC, 2)),
                routes(0));
    }

    @Test
    void gsi2IsTheCascadeAndHasNoRoute() {
        assertTrue(routes(2).isEmpty());
    }

    @Test
    void isaIrqsGoToBothPicAndIoapicAndPciGsisToTheIoapicOnly() {
        assertEquals(List.of(new GsiRoute.Irqchip(4, GsiRoute.PIC_MASTER, 4), new GsiRoute.Irqchip(4, GsiRoute.IOAPIC, 4)),
                routes(4));
        assertEquals(List.of(new GsiRoute.Irqchip(12, GsiRoute.PIC_SLAVE, 4), new GsiRoute.Irqchip(12, GsiRoute.IOAPIC, 12)),
                routes(12));
        assertEquals(List.of(new GsiRoute.Irqchip(20, GsiRoute.IOAPIC, 20)), routes(20));
        assertEquals(15 * 2 + 8, IrqRouting.legacyRoutes().size());
    }
}
