package org.jvmd.virtio;

/**
 * The guest made the device do something impossible: an address outside its memory, a
 * malformed descriptor chain, a bad header. The device drops and counts the request; a
 * GuestFault never ends the device.
 *
 * <p>Checked, and cheap: no stack trace is filled in, because a hostile guest can make
 * the device throw it at packet rate.
 */
public final class GuestFault extends Exception {
    private static final long serialVersionUID = 1L;

    /** Why a request was dropped; used as the counter key. */
    public enum Reason {
        ADDRESS_OUT_OF_RANGE,
        MISALIGNED,
        CHAIN_LOOP,
        CHAIN_TOO_LONG,
        BAD_INDIRECT,
        NESTED_INDIRECT,
        BAD_DESCRIPTOR_INDEX,
        WRITABLE_BEFORE_READABLE,
        BAD_AVAIL_INDEX,
        BAD_QUEUE_LAYOUT,
        BAD_HEADER,
        FRAME_TOO_SHORT,
        FRAME_TOO_LONG,
        NO_BUFFERS,
    }

    private final Reason reason;

    public GuestFault(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
