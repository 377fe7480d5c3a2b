package org.jvmd.virtio.blk;

import java.io.IOException;

/** An image I/O failure with the reason the device counts it under (EIO, ENOSPC, ...). */
public final class BlockIoException extends IOException {
    private static final long serialVersionUID = 1L;
    private final BlockError reason;

    public BlockIoException(BlockError reason, String message) {
        super(message);
        this.reason = reason;
    }

    public BlockError reason() {
        return reason;
    }
}
