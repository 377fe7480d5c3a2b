package org.jvmd.it.sim;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * A test class over one simulated guest and its namespaces, started once for the class and
 * stopped after it; after every test the device must not have misbehaved.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class WithSimFixture {
    SimFixture f;
    NetLab lab;
    GuestSim sim;

    /** Starts the class's guest simulator. */
    abstract SimFixture fixture() throws Exception;

    /** Set-up after the start, with {@link #f} set: what it leaves behind the fixture's close removes. */
    void started() throws Exception {}

    @BeforeAll
    final void start() throws Exception {
        f = fixture();
        lab = f.lab;
        sim = f.sim;
        started();
    }

    @AfterAll
    final void stop() {
        if (f != null) {
            f.close();
        }
    }

    @AfterEach
    final void deviceBehaved() {
        f.assertNoProblems();
    }
}
