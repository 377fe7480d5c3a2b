package org.jvmd.proto;

import java.io.IOException;

/** A frame on a channel was malformed: garbage, oversized, truncated, or its fds do not match. */
public final class FrameException extends IOException {
    private static final long serialVersionUID = 1L;

    public FrameException(String message) {
        super(message);
    }

    public FrameException(String message, Throwable cause) {
        super(message, cause);
    }
}
