package org.jvmd.it.sim;

import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * Writes the frames of injected faults into guest memory: an Ethernet/IPv4/TCP frame from
 * the guest's MAC, behind a virtio_net_hdr that is correct or broken as the fault says.
 * Only the fault path uses it, so it may allocate.
 */
final class FaultFrames {
    static final int HDR = VirtioNetHdr.SIZE;
    static final int ETH = 14;
    static final int IP = 20;
    static final int TCP = 20;
    static final int PAYLOAD = 1000;
    static final int FRAME = ETH + IP + TCP + PAYLOAD;
    /** An invented gso_type: Linux defines 0, 1, 3, 4, 5 (include/uapi/linux/virtio_net.h). */
    static final int UNDEFINED_GSO_TYPE = 2;

    private final GuestMemory mem;
    private final byte[] frame;

    FaultFrames(GuestMemory mem, byte[] srcMac) {
        this.mem = mem;
        this.frame = tcpFrame(srcMac);
    }

    /** A plain frame behind a zero header; returns header + frame length. */
    int good(long buf) throws GuestFault {
        header(buf, new VirtioNetHdr().clear());
        mem.write(buf + HDR, frame, 0, frame.length);
        return HDR + frame.length;
    }

    void header(long buf, VirtioNetHdr h) throws GuestFault {
        byte[] b = new byte[HDR];
        h.write(b, 0, HDR);
        mem.write(buf, b, 0, HDR);
    }

    /** The frame behind the broken header of {@code f}; returns header + frame length. */
    int badHeader(long buf, TxFault f) throws GuestFault {
        VirtioNetHdr h = new VirtioNetHdr().clear();
        h.flags = VirtioNetHdr.F_NEEDS_CSUM;
        h.csumStart = ETH + IP;
        h.csumOffset = 16;   // offsetof(struct tcphdr, check)
        switch (f) {
            case CSUM_START_PAST_FRAME -> h.csumStart = FRAME + 100;
            case GSO_SIZE_ZERO -> {
                h.gsoType = VirtioNetHdr.GSO_TCPV4;
                h.hdrLen = ETH + IP + TCP;
                h.gsoSize = 0;
            }
            case HDR_LEN_TOO_LARGE -> {
                h.gsoType = VirtioNetHdr.GSO_TCPV4;
                h.hdrLen = FRAME + 1;
                h.gsoSize = 536;
            }
            case UNKNOWN_GSO_TYPE -> {
                h.gsoType = UNDEFINED_GSO_TYPE;
                h.hdrLen = ETH + IP + TCP;
                h.gsoSize = 536;
            }
            default -> throw new IllegalArgumentException(f + " is not a header fault");
        }
        header(buf, h);
        mem.write(buf + HDR, frame, 0, frame.length);
        return HDR + frame.length;
    }

    /** Ethernet (to a locally administered unicast MAC) / IPv4 100.64.0.1 -> 100.64.0.2 / TCP 9 -> 9, ACK. */
    static byte[] tcpFrame(byte[] srcMac) {
        byte[] b = new byte[FRAME];
        byte[] dst = {0x02, 0, 0, 0, 0, 0x01};
        System.arraycopy(dst, 0, b, 0, 6);
        System.arraycopy(srcMac, 0, b, 6, 6);
        b[12] = 0x08;   // IPv4
        int ip = ETH;
        b[ip] = 0x45;
        int total = IP + TCP + PAYLOAD;
        b[ip + 2] = (byte) (total >> 8);
        b[ip + 3] = (byte) total;
        b[ip + 8] = 64;
        b[ip + 9] = 6;   // TCP
        byte[] src = {100, 64, 0, 1};
        byte[] to = {100, 64, 0, 2};
        System.arraycopy(src, 0, b, ip + 12, 4);
        System.arraycopy(to, 0, b, ip + 16, 4);
        int sum = 0;
        for (int i = 0; i < IP; i += 2) {
            sum += ((b[ip + i] & 0xff) << 8) | (b[ip + i + 1] & 0xff);
        }
        sum = (sum & 0xffff) + (sum >>> 16);
        sum = (sum & 0xffff) + (sum >>> 16);
        b[ip + 10] = (byte) (~sum >> 8);
        b[ip + 11] = (byte) ~sum;
        int tcp = ip + IP;
        b[tcp + 1] = 9;
        b[tcp + 3] = 9;
        b[tcp + 12] = 0x50;   // data offset 5 words
        b[tcp + 13] = 0x10;   // ACK
        b[tcp + 14] = (byte) 0xff;
        for (int i = 0; i < PAYLOAD; i++) {
            b[tcp + TCP + i] = (byte) i;
        }
        return b;
    }
}
