package org.jvmd.vmm.net;

import org.jvmd.virtio.net.VirtioNetFeatures;

/**
 * The virtio-net device configuration space (virtio 1.2 §5.1.4), answered in vmm-proc:
 * {@code mac[6]} at 0, {@code status} (le16) at 6, {@code max_virtqueue_pairs} (le16) at 8,
 * {@code mtu} (le16) at 10. Read-only for the driver (§5.1.4.2: the driver MUST NOT write
 * it, and this device ignores such writes). Pure: no I/O.
 */
public final class NetConfigSpace {
    /** Bytes up to and including {@code mtu} (the last field this device offers). */
    public static final int SIZE = 12;
    static final int MAC = 0;
    static final int STATUS = 6;
    static final int MAX_VIRTQUEUE_PAIRS = 8;
    static final int MTU = 10;
    /** VIRTIO_NET_S_LINK_UP (virtio 1.2 §5.1.4). */
    public static final int S_LINK_UP = 1;
    /** Ethernet MTU when the NIC names none. */
    public static final int DEFAULT_MTU = 1500;
    /** The smallest MTU the device may offer (virtio 1.2 §5.1.4.1: at least 68). */
    public static final int MIN_MTU = 68;

    private final byte[] bytes = new byte[SIZE];

    /**
     * @param mac six bytes
     * @param mtu 0 means {@link #DEFAULT_MTU}; otherwise 68..65535
     */
    public NetConfigSpace(byte[] mac, int mtu) {
        if (mac.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 bytes, not " + mac.length);
        }
        int m = mtu == 0 ? DEFAULT_MTU : mtu;
        if (m < MIN_MTU || m > 0xffff) {
            throw new IllegalArgumentException("MTU " + mtu + " is outside " + MIN_MTU + "..65535");
        }
        System.arraycopy(mac, 0, bytes, MAC, 6);
        put16(STATUS, S_LINK_UP);
        put16(MAX_VIRTQUEUE_PAIRS, 1); // one RX/TX pair: MQ is never offered
        put16(MTU, m);
    }

    private void put16(int off, int v) {
        bytes[off] = (byte) v;
        bytes[off + 1] = (byte) (v >>> 8);
    }

    /** Little-endian read of {@code size} bytes at {@code offset}; bytes past the end read 0. */
    public long read(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            if (at >= 0 && at < SIZE) {
                v |= (long) (bytes[at] & 0xff) << (8 * i);
            }
        }
        return v;
    }

    public int mtu() {
        return (int) read(MTU, 2);
    }

    /** The features to offer for {@code nicFeatures}: VERSION_1 added, MQ removed (one queue pair). */
    public static long offeredFeatures(long nicFeatures) {
        return (nicFeatures | VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1))
                & ~VirtioNetFeatures.bit(VirtioNetFeatures.MQ);
    }
}
