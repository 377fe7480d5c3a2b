package org.jvmd.vionet;

import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.blk.GuestSpans;

/**
 * The tap as the device core sees it: one frame per call, each preceded by the 12-byte
 * {@code virtio_net_hdr} of an IFF_VNET_HDR tap (TUNSETVNETHDRSZ 12). Results are byte
 * counts or {@code -errno} (EAGAIN: nothing to read); nothing throws on the data path.
 * The shell implements it over the real tap with readv/writev straight from and into
 * guest memory; tests implement it with a recorder.
 */
public interface TapIo {
    /**
     * writev of {@code prefix[0..prefixLen)} (the 12-byte header, possibly followed by a
     * checked copy of the Ethernet header) and then the guest ranges of {@code frame}.
     */
    long write(byte[] prefix, int prefixLen, GuestSpans frame);

    /** write of one frame held in {@code buf[off..off+len)}, header included. */
    long write(byte[] buf, int off, int len);

    /**
     * readv of one frame: its 12-byte header into {@code hdr[0..12)}, the rest into the guest
     * ranges of {@code into}. Returns the frame's length with the header; a result above
     * {@code 12 + into.bytes()} means the frame did not fit (it is then truncated). Linux tun
     * itself returns only what it copied, so the real tap reads into one more byte beyond
     * the buffers to tell a full buffer from a cut frame.
     */
    long read(byte[] hdr, GuestSpans into);

    /** read of one frame, header included, into {@code buf[off..off+len)}; same result rules. */
    long read(byte[] buf, int off, int len);

    /**
     * read of one frame, header included, into the port's own staging area (never guest
     * memory: the caller looks at the frame before the guest may see it); its first
     * {@code min(result, peekLen)} bytes are copied to {@code peek}. Same result rules, with
     * room for {@code 12 + Vionet.MAX_FRAME} bytes.
     */
    long readStaged(byte[] peek, int peekLen);

    /** Copies staged bytes {@code [from, from+n)} of the last {@link #readStaged} into {@code buf[off..off+n)}. */
    void copyStaged(int from, byte[] buf, int off, int n);

    /** Copies staged bytes {@code [from, from+n)} into guest memory at {@code gpa} (one checked range). */
    void copyStaged(int from, long gpa, int n) throws GuestFault;
}
