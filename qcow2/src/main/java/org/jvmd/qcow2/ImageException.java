package org.jvmd.qcow2;

import java.io.IOException;

/**
 * What the library refuses or finds broken, with a message meant for a person ("vm1.qcow2:
 * encrypted images are not supported"). Every problem with an image's content, however hostile,
 * ends as this exception: never another runtime exception, never an allocation sized by the file.
 */
public class ImageException extends IOException {
    private static final long serialVersionUID = 1L;

    public ImageException(String message) {
        super(message);
    }
}
