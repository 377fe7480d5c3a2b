package org.jvmd.virtio.net;

/** What the device does with a frame the tap handed it for the guest. */
public enum RxVerdict {
    /** Give the frame to the guest with the header {@link RxOffloadPolicy#prepareHeader} makes. */
    DELIVER,
    /** Finish the partial checksum in software ({@link InetChecksum#completePartial}), then deliver. */
    FINISH_CSUM,
    /** Segment in software ({@link Segmenter}) and deliver each segment. */
    SEGMENT,
    /** Drop the frame and count the reason. */
    DROP,
}
