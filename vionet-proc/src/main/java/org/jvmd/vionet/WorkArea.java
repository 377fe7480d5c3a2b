package org.jvmd.vionet;

import org.jvmd.virtio.blk.GuestSpans;
import org.jvmd.virtio.net.Segmenter;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * The preallocated buffers one data path works in: each path owns one, so that frames the
 * receive backlog still points into are never overwritten by the transmit path. Nothing is
 * allocated per packet.
 */
final class WorkArea {
    /** UIO_MAXIOV is 1024: one iovec is the header, one the tap port's overflow byte. */
    static final int MAX_SPANS = 1022;
    static final int MAX_SEGMENTS = 1024;
    static final int SEGMENT_OUT = 256 * 1024;

    /** The guest ranges of one frame, for one readv or writev. */
    final GuestSpans spans = new GuestSpans(MAX_SPANS);
    final VirtioNetHdr hdr = new VirtioNetHdr();
    final byte[] hdrBytes = new byte[Vionet.TAP_HDR];
    /** The first bytes of a frame (Ethernet, IP and UDP headers), looked at before anything else. */
    final byte[] peek = new byte[64];
    /** One whole frame with its tap header. */
    final byte[] scratch = new byte[Vionet.TAP_HDR + Vionet.MAX_FRAME];
    /** Software segmentation's output, each segment behind room for a header. */
    final byte[] segOut = new byte[SEGMENT_OUT];
    final int[] segOff = new int[MAX_SEGMENTS];
    final int[] segLen = new int[MAX_SEGMENTS];
    final Segmenter segmenter = new Segmenter();
}
