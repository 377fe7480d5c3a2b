package org.jvmd.virtio;

/**
 * Guest-physical memory as the device sees it. Every access is bounds-checked against the
 * guest's RAM regions and fails with {@link GuestFault} (never an unchecked exception of
 * the JDK), so a hostile driver can make the device drop a request but never crash it.
 *
 * <p>Multi-byte values are little-endian (virtio 1.2 §2.7: "in little-endian byte
 * order" for VERSION_1 devices). The acquire/release accessors give the orderings the
 * split ring needs (virtio 1.2 §2.7.13): the device reads {@code avail.idx} with acquire
 * before reading the ring entries, and publishes {@code used.idx} with release after
 * writing the used elements.
 *
 * <p>Implementations: {@link HeapGuestMemory} (a byte array, for tests and benchmarks) and
 * the sys module's mapping of the guest memfd.
 */
public interface GuestMemory {
    /** Total bytes addressable (the highest guest-physical address + 1 that is backed). */
    long size();

    /** True if {@code [gpa, gpa+len)} lies entirely in backed guest memory. */
    boolean contains(long gpa, long len);

    byte readByte(long gpa) throws GuestFault;

    short readShort(long gpa) throws GuestFault;

    int readInt(long gpa) throws GuestFault;

    long readLong(long gpa) throws GuestFault;

    void writeByte(long gpa, byte v) throws GuestFault;

    void writeShort(long gpa, short v) throws GuestFault;

    void writeInt(long gpa, int v) throws GuestFault;

    void writeLong(long gpa, long v) throws GuestFault;

    /** 16-bit load with acquire semantics; {@code gpa} must be 2-aligned. */
    short readShortAcquire(long gpa) throws GuestFault;

    /** 16-bit store with release semantics; {@code gpa} must be 2-aligned. */
    void writeShortRelease(long gpa, short v) throws GuestFault;

    /** A full two-way fence (virtio 1.2 §2.7.10: before reading the event suppression fields). */
    void fullFence();

    /** Copies guest bytes into {@code dst[off..off+len)}. */
    void read(long gpa, byte[] dst, int off, int len) throws GuestFault;

    /** Copies {@code src[off..off+len)} into guest memory. */
    void write(long gpa, byte[] src, int off, int len) throws GuestFault;
}
