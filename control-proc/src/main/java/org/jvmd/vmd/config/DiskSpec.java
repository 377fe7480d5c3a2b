package org.jvmd.vmd.config;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.List;
import org.jvmd.sys.Fd;

/**
 * A disk of a VM ({@code disk "path" [format raw|qcow2]}, vmctl start -d): the image, in
 * virtio-blk order within the VM (the first is the guest's /dev/vda).
 *
 * @param path the image, absolute (vm.conf's relative paths are taken from its directory);
 *     vm.conf's image is opened and locked by vmd when the VM starts; a caller's is shown only
 * @param format as configured ({@link Format#AUTO}: by the image's magic)
 * @param passed for an image a caller named (vmctl start -d), the descriptors it passed:
 *     the image (O_RDWR), then its qcow2 base chain in order (O_RDONLY), each checked with
 *     the caller's rights (vmd's vm_checkaccess); vmd never opens a caller's path. Empty for
 *     vm.conf's images
 */
public record DiskSpec(Path path, Format format, List<Fd> passed) {
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
        passed = List.copyOf(passed);
    }

    /** A configured image (vm.conf). */
    public static DiskSpec of(Path path, Format format) {
        return new DiskSpec(path, format, List.of());
    }

    /** The image as vmctl status shows it. */
    @Override
    public String toString() {
        return format == Format.AUTO ? path.toString() : format.word + ":" + path;
    }
}
