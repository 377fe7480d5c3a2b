package org.jvmd.vmm.bus;

/**
 * A device register window on a {@link Bus} (port I/O or MMIO). Offsets are relative to
 * the window's base; {@code size} is 1, 2, 4 or 8 bytes; values are little-endian and
 * zero-extended. Called from vCPU threads: an implementation guards its own state.
 */
public interface BusDevice {
    long read(long offset, int size);

    void write(long offset, int size, long value);
}
