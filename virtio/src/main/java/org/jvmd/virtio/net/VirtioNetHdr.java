package org.jvmd.virtio.net;

import org.jvmd.bytes.LittleEndian;

/**
 * {@code struct virtio_net_hdr} (virtio 1.2 §5.1.6), the header in front of every packet on
 * the transmit and receive queues, and the header Linux puts in front of every frame on an
 * {@code IFF_VNET_HDR} tap. All fields little-endian:
 *
 * <pre>
 *  0  u8   flags        NEEDS_CSUM 1, DATA_VALID 2, RSC_INFO 4
 *  1  u8   gso_type     NONE 0, TCPV4 1, UDP 3, TCPV6 4, UDP_L4 5; ECN bit 0x80
 *  2  le16 hdr_len
 *  4  le16 gso_size
 *  6  le16 csum_start
 *  8  le16 csum_offset
 * 10  le16 num_buffers  (only in the 12-byte form)
 * </pre>
 *
 * <p>Mutable and reusable: a device keeps one per queue and decodes into it, so nothing is
 * allocated per packet. Field values are kept as unsigned ints.
 */
public final class VirtioNetHdr {
    /** The header without num_buffers: legacy devices without MRG_RXBUF. */
    public static final int SIZE_LEGACY = 10;
    /** The header with num_buffers: always with VIRTIO_F_VERSION_1 (virtio 1.2 §5.1.6). */
    public static final int SIZE = 12;
    /** Byte offset of num_buffers. */
    public static final int NUM_BUFFERS_OFFSET = 10;

    /** csum_start/csum_offset are valid: the device must finish the checksum (§5.1.6.2). */
    public static final int F_NEEDS_CSUM = 1;
    /** The checksum of the packet has been validated (§5.1.6.4, RX only). */
    public static final int F_DATA_VALID = 2;
    /** csum_start/csum_offset carry coalescing info (§5.1.6.4, RSC_EXT only). */
    public static final int F_RSC_INFO = 4;

    /** Not a GSO frame. */
    public static final int GSO_NONE = 0;
    /** GSO frame, IPv4 TCP (TSO). */
    public static final int GSO_TCPV4 = 1;
    /** GSO frame, IPv4 UDP (UFO: IP fragmentation). */
    public static final int GSO_UDP = 3;
    /** GSO frame, IPv6 TCP. */
    public static final int GSO_TCPV6 = 4;
    /** GSO frame, IPv4 or IPv6 UDP segmentation (USO, virtio 1.3). */
    public static final int GSO_UDP_L4 = 5;
    /** TCP has ECN set (the CWR flag): a bit on top of the GSO type. */
    public static final int GSO_ECN = 0x80;

    public int flags;
    public int gsoType;
    public int hdrLen;
    public int gsoSize;
    public int csumStart;
    public int csumOffset;
    public int numBuffers;

    /** The header size for the negotiated features: 12 with VERSION_1 or MRG_RXBUF, else 10. */
    public static int size(long features) {
        long twelve = VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1)
            | VirtioNetFeatures.bit(VirtioNetFeatures.MRG_RXBUF);
        return (features & twelve) != 0 ? SIZE : SIZE_LEGACY;
    }

    /**
     * Decodes {@code size} bytes (10 or 12) at {@code b[off]}. With 10 bytes num_buffers
     * reads as 0. Every bit pattern decodes; judging the values is the validator's job.
     */
    public VirtioNetHdr read(byte[] b, int off, int size) {
        checkSize(size);
        flags = b[off] & 0xFF;
        gsoType = b[off + 1] & 0xFF;
        hdrLen = LittleEndian.get16(b, off + 2);
        gsoSize = LittleEndian.get16(b, off + 4);
        csumStart = LittleEndian.get16(b, off + 6);
        csumOffset = LittleEndian.get16(b, off + 8);
        numBuffers = size == SIZE ? LittleEndian.get16(b, off + NUM_BUFFERS_OFFSET) : 0;
        return this;
    }

    /** Encodes into {@code size} bytes (10 or 12) at {@code b[off]}; values are truncated to their field. */
    public void write(byte[] b, int off, int size) {
        checkSize(size);
        b[off] = (byte) flags;
        b[off + 1] = (byte) gsoType;
        LittleEndian.put16(b, off + 2, hdrLen);
        LittleEndian.put16(b, off + 4, gsoSize);
        LittleEndian.put16(b, off + 6, csumStart);
        LittleEndian.put16(b, off + 8, csumOffset);
        if (size == SIZE) {
            LittleEndian.put16(b, off + NUM_BUFFERS_OFFSET, numBuffers);
        }
    }

    /** All fields zero: no offload, what a device writes for a fully checksummed frame. */
    public VirtioNetHdr clear() {
        flags = 0;
        gsoType = GSO_NONE;
        hdrLen = 0;
        gsoSize = 0;
        csumStart = 0;
        csumOffset = 0;
        numBuffers = 0;
        return this;
    }

    /** Copies every field of {@code other}. */
    public VirtioNetHdr set(VirtioNetHdr other) {
        flags = other.flags;
        gsoType = other.gsoType;
        hdrLen = other.hdrLen;
        gsoSize = other.gsoSize;
        csumStart = other.csumStart;
        csumOffset = other.csumOffset;
        numBuffers = other.numBuffers;
        return this;
    }

    public boolean needsCsum() {
        return (flags & F_NEEDS_CSUM) != 0;
    }

    /** The GSO type without the ECN bit. */
    public int gsoBase() {
        return gsoType & ~GSO_ECN;
    }

    public boolean ecn() {
        return (gsoType & GSO_ECN) != 0;
    }

    /**
     * Patches num_buffers of a 12-byte header already written at {@code b[hdrOff]}: the
     * device knows the count only after it has filled the buffers (virtio 1.2 §5.1.6.4).
     */
    public static void putNumBuffers(byte[] b, int hdrOff, int numBuffers) {
        if (numBuffers < 1 || numBuffers > 0xFFFF) {
            throw new IllegalArgumentException("num_buffers " + numBuffers);
        }
        LittleEndian.put16(b, hdrOff + NUM_BUFFERS_OFFSET, numBuffers);
    }

    @Override
    public String toString() {
        return "virtio_net_hdr[flags=" + flags + ", gso_type=0x" + Integer.toHexString(gsoType)
            + ", hdr_len=" + hdrLen + ", gso_size=" + gsoSize + ", csum_start=" + csumStart
            + ", csum_offset=" + csumOffset + ", num_buffers=" + numBuffers + "]";
    }

    private static void checkSize(int size) {
        if (size != SIZE && size != SIZE_LEGACY) {
            throw new IllegalArgumentException("virtio_net_hdr size " + size);
        }
    }
}
