package org.jvmd.sys;

import java.io.IOException;

/**
 * The one exception of a failed system call: it names the call and the errno,
 * e.g. {@code ioctl(TUNSETIFF): EPERM (Operation not permitted)}.
 */
public class SysException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    public SysException(String call, int errno) {
        super(call + ": " + Errno.describe(errno));
        this.call = call;
        this.errno = errno;
    }

    /** The failed call as named in the message, e.g. {@code ioctl(TUNSETIFF)}. */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }

    /** The errno's symbolic name, e.g. {@code EPERM}. */
    public String errnoName() {
        return Errno.name(errno);
    }
}
