package org.jvmd.vmd.config;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A disk of a VM ({@code disk "path" [format raw|qcow2]}, vmctl start -d): the image, in
 * virtio-blk order within the VM (the first is the guest's /dev/vda).
 *
 * @param path the image, absolute (vm.conf's relative paths are taken from its directory);
 *     nothing checks it before the VM starts, when vmd opens and locks it
 * @param format as configured ({@link Format#AUTO}: by the image's magic)
 * @param namedBy the uid of the non-root caller who named this image (vmctl start -d): its
 *     rights on the image are checked when the VM starts (vmd's vm_checkaccess); empty for
 *     images from vm.conf or root
 */
public record DiskSpec(Path path, Format format, OptionalInt namedBy) {
    /** vmd's VM_MAX_DISKS_PER_VM. */
    public static final int MAX_DISKS = 4;

    /** An image format as vm.conf and vmctl name them. */
    public enum Format {
        /** By the image's magic: "QFI\xfb" is qcow2, anything else raw (vmd's open_disk). */
        AUTO(""),
        RAW("raw"),
        QCOW2("qcow2");

        public final String word;

        Format(String word) {
            this.word = word;
        }

        /** The format called {@code word} (vm.conf's {@code format}, vmctl's prefix). */
        public static Optional<Format> named(String word) {
            for (Format f : values()) {
                if (f != AUTO && f.word.equals(word)) {
                    return Optional.of(f);
                }
            }
            return Optional.empty();
        }
    }

    public DiskSpec {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(namedBy, "namedBy");
    }

    /** A configured image (vm.conf, or root's vmctl). */
    public static DiskSpec of(Path path, Format format) {
        return new DiskSpec(path, format, OptionalInt.empty());
    }

    /** The image as vmctl status shows it. */
    @Override
    public String toString() {
        return format == Format.AUTO ? path.toString() : format.word + ":" + path;
    }
}
