package org.jvmd.it.blk;

import java.io.IOException;

/** vioblk-proc's channel reached EOF (the process exited or was killed) while the driver waited on it. */
public final class VioblkGoneException extends IOException {
    public VioblkGoneException(String message) {
        super(message);
    }
}
