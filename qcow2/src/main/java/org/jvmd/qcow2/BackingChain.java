package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Resolves a disk's base chain for vmd (and vmctl): given the disk's path, the list of every
 * layer's path and format, top first, as {@link DiskImage#open} takes them. A relative base name
 * is resolved against the directory of the image that names it (QEMU and vmd do the same), an
 * absolute one is used as is. A loop, a missing base, an unknown base format or a base larger
 * than the image over it is refused with a clear {@link ImageException}.
 */
public final class BackingChain {
    /** Longest chain accepted (top included); a longer one is almost surely a mistake. */
    public static final int MAX_DEPTH = 16;

    /** One layer: the path as resolved (absolute, normalised) and its format. */
    public record Entry(Path path, ImageFormat format) {
    }

    /** Opens a file of the chain read-only (vmd opens with the caller's rights). */
    @FunctionalInterface
    public interface Opener {
        ImageFile open(Path path) throws IOException;
    }

    /**
     * What makes two layers the same file, for loop detection: by default the path's real
     * path (a {@link NoSuchFileException} is a missing base). vmd, reading a chain through
     * descriptors a caller passed, names each layer by its descriptor's file instead and
     * never looks a caller's path up itself.
     */
    @FunctionalInterface
    public interface Identity {
        Object of(Path path) throws IOException;
    }

    private BackingChain() {
    }

    /** The name a header stores, resolved against the image that stores it. */
    public static Path resolveName(Path image, String backingName) throws ImageException {
        Path n;
        try {
            n = Path.of(backingName);
        } catch (InvalidPathException e) {
            throw new ImageException(image + ": invalid base image name '" + backingName.replace('\0', '?') + "'");
        }
        if (n.isAbsolute()) {
            return n.normalize();
        }
        Path dir = image.toAbsolutePath().getParent();
        return (dir == null ? n : dir.resolve(n)).normalize();
    }

    /** The chain of top, reading files through FileChannels. format null: detected by magic. */
    public static List<Entry> resolve(Path top, ImageFormat format) throws IOException {
        return resolve(top, format, p -> ChannelImageFile.open(p, true));
    }

    public static List<Entry> resolve(Path top, ImageFormat format, Opener opener) throws IOException {
        return resolve(top, format, opener, Path::toRealPath);
    }

    /**
     * The chain of top, each layer named by {@code identity} (called for a layer just before
     * {@code opener}, top first) and read through {@code opener}.
     */
    public static List<Entry> resolve(Path top, ImageFormat format, Opener opener, Identity identity)
            throws IOException {
        List<Entry> chain = new ArrayList<>();
        Set<Object> seen = new HashSet<>();
        Path p = top.toAbsolutePath().normalize();
        ImageFormat fmt = format;
        long childSize = -1;
        Path child = null;
        while (true) {
            Object real;
            try {
                real = identity.of(p);
            } catch (NoSuchFileException e) {
                throw new ImageException(child == null ? p + ": No such file or directory"
                        : child + ": base image " + p + " not found");
            }
            if (!seen.add(real)) {
                throw new ImageException(top + ": backing file loop: " + p + " appears twice in the chain");
            }
            if (chain.size() >= MAX_DEPTH) {
                throw new ImageException(top + ": base chain longer than " + MAX_DEPTH + " images");
            }
            String next;
            String nextFormat;
            long mySize;
            ImageFile opened;
            try {
                opened = opener.open(p);
            } catch (ImageException e) {
                throw e;
            } catch (IOException e) {
                String why = e instanceof AccessDeniedException ? "Permission denied"
                        : e instanceof NoSuchFileException ? "No such file or directory" : e.getMessage();
                throw new ImageException((child == null ? "" : child + ": base image ") + p + ": " + why);
            }
            try (ImageFile f = opened) {
                if (fmt == null) {
                    fmt = ImageFormat.detect(f);
                }
                if (fmt == ImageFormat.RAW) {
                    mySize = f.size();
                    next = null;
                    nextFormat = null;
                } else {
                    Qcow2Header h = Qcow2Header.read(f, false);
                    mySize = h.size;
                    next = h.backingFile;
                    nextFormat = h.backingFormat;
                }
            }
            if (childSize >= 0 && mySize > childSize) {
                throw new ImageException(child + ": base image " + p + " (" + mySize
                        + " bytes) is larger than the disk (" + childSize + " bytes)");
            }
            chain.add(new Entry(p, fmt));
            if (next == null) {
                return chain;
            }
            child = p;
            childSize = mySize;
            p = resolveName(p, next);
            if (nextFormat == null) {
                fmt = null;
            } else {
                fmt = ImageFormat.ofWord(nextFormat);
                if (fmt == null) {
                    throw new ImageException(child + ": base image " + p + " has unsupported format '"
                            + nextFormat + "'");
                }
            }
        }
    }

    /** Opens every layer of a resolved chain (top writable unless readOnly) as one disk. */
    public static DiskImage open(List<Entry> chain, boolean readOnly) throws IOException {
        List<Layer> layers = new ArrayList<>();
        try {
            for (int i = 0; i < chain.size(); i++) {
                Entry e = chain.get(i);
                layers.add(new Layer(ChannelImageFile.open(e.path(), readOnly || i > 0), e.format()));
            }
            return DiskImage.open(layers, readOnly);
        } catch (IOException | RuntimeException ex) {
            for (Layer l : layers) {
                try {
                    l.file().close();
                } catch (IOException ignored) {
                    // already failing
                }
            }
            throw ex;
        }
    }
}
