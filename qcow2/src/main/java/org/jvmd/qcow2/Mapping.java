package org.jvmd.qcow2;

import java.io.IOException;
import java.util.List;

/**
 * A guest range resolved by {@link DiskImage#map}: its extents in guest order, covering the
 * range exactly; at most one {@link Extent.Sync}, the last. While a mapping is open its
 * {@link Extent.Data} extents stay valid: no host cluster it names is handed out again,
 * punched or counted free (see {@link Qcow2Image}'s class comment). {@link #close} ends that
 * (once the caller's transfers have ended); closing twice does nothing.
 */
public final class Mapping implements AutoCloseable {
    /** What ends a mapping's pin. */
    @FunctionalInterface
    interface Release {
        void run() throws IOException;
    }

    private static final Release NONE = () -> {};

    private final List<Extent> extents;
    private Release release;

    Mapping(List<Extent> extents, Release release) {
        this.extents = List.copyOf(extents);
        this.release = release == null ? NONE : release;
    }

    /** A mapping of one extent that pins nothing. */
    static Mapping of(Extent e) {
        return new Mapping(List.of(e), null);
    }

    public List<Extent> extents() {
        return extents;
    }

    /** Whether every byte is a {@link Extent.Data} or {@link Extent.Zero} extent (no {@link Extent.Sync}). */
    public boolean complete() {
        return extents.isEmpty() || !(extents.getLast() instanceof Extent.Sync);
    }

    @Override
    public void close() throws IOException {
        Release r = release;
        release = NONE;
        r.run();
    }
}
