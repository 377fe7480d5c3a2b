package org.jvmd.vmm.net;

import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.vmm.proxy.ConfigBytes;

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

    private final ConfigBytes bytes = new ConfigBytes(SIZE);

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
        bytes.putBytes(MAC, mac).put(STATUS, 2, S_LINK_UP)
                .put(MAX_VIRTQUEUE_PAIRS, 2, 1) // one RX/TX pair: MQ is never offered
                .put(MTU, 2, m);
    }

    /** Little-endian read of {@code size} bytes at {@code offset}; bytes past the end read 0. */
    public long read(int offset, int size) {
        return bytes.read(offset, size);
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
