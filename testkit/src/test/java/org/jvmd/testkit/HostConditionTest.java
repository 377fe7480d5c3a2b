package org.jvmd.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

class HostConditionTest {
    static final AtomicInteger FIXTURES = new AtomicInteger();
    static final AtomicInteger RAN = new AtomicInteger();

    @RequiresKvm
    static class NeedsKvm {
        @BeforeAll
        static void makeSomething() {
            FIXTURES.incrementAndGet();
        }

        @AfterAll
        static void removeSomething() {
            FIXTURES.decrementAndGet();
        }

        @Test
        void runs() {
            RAN.incrementAndGet();
        }
    }

    static class NeedsAToolThatIsNowhere {
        @Test
        @RequiresTools({"sh", "jvmd-no-such-tool"})
        void missing() {
            RAN.incrementAndGet();
        }

        @Test
        @RequiresTools("sh")
        void present() {
            RAN.incrementAndGet();
        }
    }

    private static Events run(Class<?> c) {
        return EngineTestKit.engine("junit-jupiter").selectors(selectClass(c)).execute().allEvents();
    }

    @Test
    void aHiddenKvmSkipsTheClassBeforeItsFixtureRuns() {
        String old = System.getProperty(Host.HIDE_KVM);
        System.setProperty(Host.HIDE_KVM, "true");
        try {
            FIXTURES.set(0);
            RAN.set(0);
            Events e = run(NeedsKvm.class);
            assertEquals(1, e.skipped().count());
            assertEquals(0, RAN.get());
            assertEquals(0, FIXTURES.get(), "neither @BeforeAll nor @AfterAll ran");
            assertTrue(Host.missingKvm().orElseThrow().contains("hidden"));
            assertTrue(Host.missingRealKvm().orElseThrow().contains("scripts/lab-test"));
        } finally {
            if (old == null) {
                System.clearProperty(Host.HIDE_KVM);
            } else {
                System.setProperty(Host.HIDE_KVM, old);
            }
        }
    }

    @Test
    void aMissingToolSkipsOnlyTheTestThatNeedsItAndNamesIt() {
        RAN.set(0);
        Events e = run(NeedsAToolThatIsNowhere.class);
        assertEquals(1, e.skipped().count());
        assertEquals(1, RAN.get());
        String reason = e.skipped().list().getFirst().getPayload(String.class).orElseThrow();
        assertTrue(reason.contains("jvmd-no-such-tool") && !reason.contains("sh,"), reason);
    }

    @Test
    void toolsAreFoundOnPathAndInSbin() {
        assertTrue(Host.which("sh").isPresent());
        assertFalse(Host.which("jvmd-no-such-tool").isPresent());
        assertTrue(Host.missingTools("sh").isEmpty());
    }
}
