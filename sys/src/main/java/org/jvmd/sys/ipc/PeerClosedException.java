package org.jvmd.sys.ipc;

import java.io.EOFException;

/** The other end of a channel is gone (closed its socket or died). */
public final class PeerClosedException extends EOFException {
    private static final long serialVersionUID = 1L;

    public PeerClosedException(String message) {
        super(message);
    }
}
