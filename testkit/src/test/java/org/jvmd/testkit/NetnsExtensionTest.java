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
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
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

    /** What an @AutoClose fixture (vmd in the namespace) saw of its namespace when it was closed. */
    static final List<Boolean> EXISTED_AT_CLOSE = new ArrayList<>();

    @NetnsTest
    static class WithAFixture {
        @AutoClose
        AutoCloseable fixture;
        @AutoClose
        static AutoCloseable classFixture;

        @BeforeAll
        static void up(NetNs shared) {
            classFixture = () -> EXISTED_AT_CLOSE.add(shared.exists());
        }

        @BeforeEach
        void start(NetNs ns) {
            fixture = () -> EXISTED_AT_CLOSE.add(ns.exists());
        }

        @Test
        void runs() {}
    }

    @Test
    void autoClosedFixturesCloseWhileTheirNamespaceStillExists() {
        EXISTED_AT_CLOSE.clear();
        Events e = EngineTestKit.engine("junit-jupiter").selectors(selectClass(WithAFixture.class)).execute().allEvents();
        assertEquals(0, e.failed().count(), e.toString());
        assertEquals(List.of(true, true), EXISTED_AT_CLOSE);
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
