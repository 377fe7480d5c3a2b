package org.jvmd.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

@RequiresRoot
@RequiresTools("ip")
class NetnsExtensionTest {
    static final List<NetNs> SEEN = new ArrayList<>();
    static NetNs shared;

    @NetnsTest
    static class Failing {
        @BeforeAll
        static void up(NetNs ns) throws Exception {
            shared = ns;
            SEEN.add(ns);
            ns.ip("addr", "add", "100.64.250.1/32", "dev", "lo");
        }

        @Test
        void sharesTheClassNamespaceAndGetsItsOwn(NetNs ns, NetNs other) throws Exception {
            SEEN.add(ns);
            SEEN.add(other);
            assertSame(shared, ns);
            assertTrue(ns.ip("addr", "show", "dev", "lo").contains("100.64.250.1"));
            assertFalse(other.ip("addr", "show", "dev", "lo").contains("100.64.250.1"));
            fail("this test fails on purpose: its namespaces must go anyway");
        }
    }

    @Test
    void namespacesAreMadeInjectedAndRemovedEvenWhenTheTestFails() throws Exception {
        SEEN.clear();
        Events e = EngineTestKit.engine("junit-jupiter").selectors(selectClass(Failing.class)).execute().allEvents();
        assertEquals(1, e.failed().count(), e.toString());
        assertEquals(3, SEEN.size());
        assertNotEquals(SEEN.get(1).name(), SEEN.get(2).name());
        for (NetNs ns : SEEN) {
            assertFalse(ns.exists(), ns + " was left behind");
        }
    }
}
