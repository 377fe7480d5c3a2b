package org.jvmd.vmd;

import org.jvmd.proto.ErrorCode;
import org.jvmd.sys.Errno;

/** A refused or failed request: the errno vmctl turns into its message, and vmd's own text. */
public final class VmdException extends Exception {
    private static final long serialVersionUID = 1L;

    /** The errno values vmd answers with (values declared once, in {@link Errno}). */
    public static final int EPERM = Errno.EPERM;
    public static final int ENOENT = Errno.ENOENT;
    public static final int EIO = Errno.EIO;
    public static final int EBUSY = Errno.EBUSY;
    public static final int EEXIST = Errno.EEXIST;
    public static final int EINVAL = Errno.EINVAL;
    public static final int EALREADY = Errno.EALREADY;

    private final int errno;
    private final ErrorCode code;

    public VmdException(int errno, String message) {
        this(errno, ErrorCode.ERROR_CODE_UNSPECIFIED, message);
    }

    /** A refusal vmctl tells apart by {@code code} (never by the text). */
    public VmdException(int errno, ErrorCode code, String message) {
        super(message);
        this.errno = errno;
        this.code = code;
    }

    public int errno() {
        return errno;
    }

    public ErrorCode code() {
        return code;
    }
}
