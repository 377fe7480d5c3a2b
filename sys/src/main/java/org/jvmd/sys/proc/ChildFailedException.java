package org.jvmd.sys.proc;

import java.io.IOException;

/** A spawned child failed before it was Ready: it answered Error, exited, or did not answer in time. */
public final class ChildFailedException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient WaitStatus status;
    private final int errno;

    public ChildFailedException(String message, WaitStatus status, int errno) {
        super(message);
        this.status = status;
        this.errno = errno;
    }

    /** How the child ended, if it was reaped; null if it still runs (it answered Error). */
    public WaitStatus status() {
        return status;
    }

    /** The errno the child reported in its Error, 0 if none. */
    public int errno() {
        return errno;
    }
}
