package org.jvmd.vmd;

/** A refused or failed request: the errno vmctl turns into its message, and vmd's own text. */
public final class VmdException extends Exception {
    private static final long serialVersionUID = 1L;

    /** errno values vmd answers with (asm-generic/errno-base.h, errno.h). */
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EIO = 5;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int EINVAL = 22;
    public static final int EALREADY = 114;

    private final int errno;

    public VmdException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
