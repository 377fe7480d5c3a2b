package org.jvmd.qcow2;

import java.util.Objects;

/** One file of a disk's chain and its format: layer 0 is the disk's own image, 1.. its bases in order. */
public record Layer(ImageFile file, ImageFormat format) {
    public Layer {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(format, "format");
    }
}
