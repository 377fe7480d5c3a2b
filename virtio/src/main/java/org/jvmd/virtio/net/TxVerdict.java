package org.jvmd.virtio.net;

/** What the device does with a frame the guest transmitted. */
public enum TxVerdict {
    /** Write the frame to the tap with the guest's header as is. */
    PASS,
    /**
     * Send without offload: finish the partial checksum in software if NEEDS_CSUM is set
     * ({@link InetChecksum#completePartial}), then write the frame with an empty header.
     */
    FINISH_CSUM,
    /** Segment in software ({@link Segmenter}), then write each segment with an empty header. */
    SEGMENT,
    /** Drop the frame and count the reason. */
    DROP,
}
