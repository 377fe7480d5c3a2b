package org.jvmd.vionet;

/** The counters each queue of a {@link Vionet} keeps, for tests that account per path. */
final class VionetPaths {
    private VionetPaths() {}

    static NicCounters tx(Vionet v) {
        return v.tx().counters();
    }

    static NicCounters rx(Vionet v) {
        return v.rx().counters();
    }
}
