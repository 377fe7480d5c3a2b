package org.jvmd.vionet;

/** The counters each data path of a {@link Vionet} keeps, for tests that account per path. */
final class VionetPaths {
    private VionetPaths() {}

    static NicCounters tx(Vionet v) {
        return field(v, "txCounters");
    }

    static NicCounters rx(Vionet v) {
        return field(v, "rxCounters");
    }

    private static NicCounters field(Vionet v, String name) {
        try {
            java.lang.reflect.Field f = Vionet.class.getDeclaredField(name);
            f.setAccessible(true);
            return (NicCounters) f.get(v);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
