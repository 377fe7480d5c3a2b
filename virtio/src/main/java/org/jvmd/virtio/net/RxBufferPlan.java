package org.jvmd.virtio.net;

/**
 * How a received frame is spread over the guest's receive buffers, and the num_buffers the
 * device writes into the header once the frame is placed (virtio 1.2 §5.1.6.3-§5.1.6.4):
 * <ul>
 *   <li>without VIRTIO_NET_F_MRG_RXBUF the header and the whole frame go into one buffer
 *       (one descriptor chain), and num_buffers is 1 ("The device MUST set num_buffers to 1
 *       if VIRTIO_NET_F_MRG_RXBUF has not been negotiated");</li>
 *   <li>with it, buffers are filled in order and num_buffers counts them; the header must
 *       fit the first buffer (§5.1.6.3.1: each buffer is at least the header size), and
 *       num_buffers is a le16, and cannot exceed the queue size.</li>
 * </ul>
 * The device offers each buffer's writable capacity to {@link #place} in turn and writes
 * the returned number of bytes into it (the first buffer starts with the header); when
 * {@link #done()} it writes {@link #numBuffers()} with
 * {@link VirtioNetHdr#putNumBuffers}. Reusable; no allocation.
 */
public final class RxBufferPlan {
    private int hdrSize;
    private long remaining;
    private boolean mergeable;
    private int maxBuffers;
    private int used;
    private DropReason reason = DropReason.NONE;

    /**
     * Starts placing a frame.
     *
     * @param hdrSize the virtio_net_hdr size (10 or 12)
     * @param frameLen the frame length after the header
     * @param mergeable whether VIRTIO_NET_F_MRG_RXBUF was negotiated
     * @param maxBuffers the most buffers one frame may use (the queue size)
     */
    public RxBufferPlan begin(int hdrSize, int frameLen, boolean mergeable, int maxBuffers) {
        if (hdrSize != VirtioNetHdr.SIZE && hdrSize != VirtioNetHdr.SIZE_LEGACY) {
            throw new IllegalArgumentException("header size " + hdrSize);
        }
        if (frameLen < 0 || maxBuffers < 1) {
            throw new IllegalArgumentException("frameLen " + frameLen + " maxBuffers " + maxBuffers);
        }
        this.hdrSize = hdrSize;
        this.remaining = (long) hdrSize + frameLen;
        this.mergeable = mergeable;
        this.maxBuffers = Math.min(maxBuffers, 0xFFFF);
        this.used = 0;
        this.reason = DropReason.NONE;
        return this;
    }

    /**
     * Offers the next buffer, of {@code capacity} writable bytes. Returns how many bytes
     * (header included, for the first) go into it, or -1 if the frame cannot be placed
     * ({@link #dropReason()} says why); the device then drops the frame and gives the
     * buffers back unused.
     */
    public int place(int capacity) {
        if (done() || reason != DropReason.NONE) {
            throw new IllegalStateException("frame already placed or refused");
        }
        if (capacity <= 0 || (used == 0 && capacity < hdrSize)) {
            return refuse(DropReason.RX_BUFFER_TOO_SMALL);
        }
        if (!mergeable && capacity < remaining) {
            return refuse(DropReason.RX_BUFFER_TOO_SMALL);
        }
        if (used == maxBuffers) {
            return refuse(DropReason.RX_TOO_MANY_BUFFERS);
        }
        int n = (int) Math.min(capacity, remaining);
        remaining -= n;
        used++;
        if (remaining > 0 && used == maxBuffers) {
            return refuse(DropReason.RX_TOO_MANY_BUFFERS);
        }
        return n;
    }

    /** True once header and frame are placed. */
    public boolean done() {
        return remaining == 0 && used > 0;
    }

    /** The buffers used so far: num_buffers once {@link #done()} (1 without MRG_RXBUF). */
    public int numBuffers() {
        return used;
    }

    public DropReason dropReason() {
        return reason;
    }

    private int refuse(DropReason r) {
        reason = r;
        return -1;
    }
}
