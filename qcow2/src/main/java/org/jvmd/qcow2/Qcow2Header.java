package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The qcow2 header and its extensions, parsed and validated (QEMU docs/interop/qcow2.txt,
 * "Header" and "Header extensions"). Every field that sizes an allocation or points into the
 * file is checked against the file's size here, once, so a hostile header ends as an
 * {@link ImageException} and never as an oversized array.
 */
final class Qcow2Header {
    /** qcow2.txt: "For version 2, the header is exactly 72 bytes". */
    static final int V2_LENGTH = 72;
    /** qcow2.txt: "For version 3 ... at least 104 bytes". */
    static final int V3_MIN_LENGTH = 104;
    /** qcow2.txt cluster_bits: "Must not be less than 9"; QEMU's implementation limit is 2 MB (21 bits). */
    static final int MIN_CLUSTER_BITS = 9;
    static final int MAX_CLUSTER_BITS = 21;
    /** qcow2.txt: "qemu has an implementation limit of 32 MB as the maximum L1 table size". */
    static final long MAX_L1_BYTES = 32L << 20;
    /** qcow2.txt: "qemu has an implementation limit of 8 MB as the maximum refcount table size". */
    static final long MAX_REFTABLE_BYTES = 8L << 20;
    /** qcow2.txt backing_file_size: "Must not be longer than 1023 bytes". */
    static final int MAX_BACKING_NAME = 1023;
    /** qcow2.txt refcount_order: "This value may not exceed 6". */
    static final int MAX_REFCOUNT_ORDER = 6;
    /** QEMU's limit on the virtual size (QCOW_MAX_L1_SIZE and 2 EB, qcow2.txt "size"). */
    static final long MAX_SIZE = 1L << 61;

    // incompatible_features bits (qcow2.txt)
    static final long INCOMPAT_DIRTY = 1L;
    static final long INCOMPAT_CORRUPT = 1L << 1;
    static final long INCOMPAT_DATA_FILE = 1L << 2;
    static final long INCOMPAT_COMPRESSION = 1L << 3;
    static final long INCOMPAT_EXTL2 = 1L << 4;

    // header extension types (qcow2.txt "Header extensions")
    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xe2792aca;
    static final int EXT_FEATURE_TABLE = 0x6803f857;
    static final int EXT_DATA_FILE = 0x44415441;

    final String name;
    int version;
    long backingOffset;
    int backingSize;
    int clusterBits;
    long size;
    long cryptMethod;
    int l1Size;
    long l1Offset;
    long refcountTableOffset;
    int refcountTableClusters;
    long nbSnapshots;
    long snapshotsOffset;
    long incompatible;
    long compatible;
    long autoclear;
    int refcountOrder = 4;
    int headerLength = V2_LENGTH;
    int compressionType;
    String backingFile;
    String backingFormat;
    final List<String> featureNames = new ArrayList<>();

    private Qcow2Header(String name) {
        this.name = name;
    }

    int clusterSize() {
        return 1 << clusterBits;
    }

    private ImageException bad(String what) {
        return new ImageException(name + ": " + what);
    }

    /** Reads and validates the header of f; writable asks for the checks that only matter when writing. */
    static Qcow2Header read(ImageFile f, boolean writable) throws IOException {
        Qcow2Header h = new Qcow2Header(f.name());
        long fileSize = f.size();
        if (fileSize < V2_LENGTH) {
            throw h.bad("too small (" + fileSize + " bytes) to be a qcow2 image");
        }
        ByteBuffer b = ByteBuffer.allocate(V3_MIN_LENGTH + 8);
        f.readOrZero(b, 0);
        b.flip();
        if (b.getInt(0) != ImageFormat.QCOW2_MAGIC) {
            throw h.bad("not a qcow2 image (bad magic)");
        }
        h.version = b.getInt(4);
        if (h.version != 2 && h.version != 3) {
            throw h.bad("unsupported qcow2 version " + Integer.toUnsignedString(h.version));
        }
        h.backingOffset = b.getLong(8);
        h.backingSize = b.getInt(16);
        h.clusterBits = b.getInt(20);
        if (h.clusterBits < MIN_CLUSTER_BITS || h.clusterBits > MAX_CLUSTER_BITS) {
            throw h.bad("unsupported cluster size 2^" + Integer.toUnsignedString(h.clusterBits)
                    + " (must be 512 bytes to 2 MiB)");
        }
        h.size = b.getLong(24);
        h.cryptMethod = Integer.toUnsignedLong(b.getInt(32));
        h.l1Size = b.getInt(36);
        h.l1Offset = b.getLong(40);
        h.refcountTableOffset = b.getLong(48);
        h.refcountTableClusters = b.getInt(56);
        h.nbSnapshots = Integer.toUnsignedLong(b.getInt(60));
        h.snapshotsOffset = b.getLong(64);
        if (h.version == 3) {
            if (fileSize < V3_MIN_LENGTH) {
                throw h.bad("too small (" + fileSize + " bytes) for a qcow2 version 3 header");
            }
            h.incompatible = b.getLong(72);
            h.compatible = b.getLong(80);
            h.autoclear = b.getLong(88);
            h.refcountOrder = b.getInt(96);
            h.headerLength = b.getInt(100);
            if (h.headerLength < V3_MIN_LENGTH || h.headerLength % 8 != 0
                    || h.headerLength > h.clusterSize()) {
                throw h.bad("invalid header length " + Integer.toUnsignedString(h.headerLength));
            }
            if (h.headerLength > V3_MIN_LENGTH) {
                h.compressionType = b.get(104) & 0xff;
            }
        }
        int cs = h.clusterSize();
        int areaEnd = (int) Math.min(cs, fileSize);
        ByteBuffer first = ByteBuffer.allocate(areaEnd);
        f.readOrZero(first, 0);
        first.flip();
        h.parseExtensions(first, areaEnd);
        h.validate(fileSize, writable);
        if (h.backingOffset != 0 && h.backingSize != 0) {
            byte[] nameBytes = new byte[h.backingSize];
            first.get((int) h.backingOffset, nameBytes);
            h.backingFile = new String(nameBytes, StandardCharsets.UTF_8);
        }
        return h;
    }

    private void parseExtensions(ByteBuffer first, int areaEnd) throws ImageException {
        long end = areaEnd;
        if (backingOffset > 0 && backingOffset < end) {
            end = backingOffset;
        }
        long pos = version == 2 ? V2_LENGTH : headerLength;
        while (pos + 8 <= end) {
            int type = first.getInt((int) pos);
            long len = Integer.toUnsignedLong(first.getInt((int) pos + 4));
            if (type == EXT_END) {
                return;
            }
            if (len > end - pos - 8) {
                throw bad(String.format("header extension 0x%08x overruns the header cluster", type));
            }
            int data = (int) pos + 8;
            switch (type) {
                case EXT_BACKING_FORMAT -> {
                    byte[] s = new byte[(int) len];
                    first.get(data, s);
                    backingFormat = new String(s, StandardCharsets.UTF_8);
                }
                case EXT_FEATURE_TABLE -> {
                    // qcow2.txt "Feature name table": 48-byte entries (type, bit, 46-byte name)
                    for (int e = 0; e + 48 <= len; e += 48) {
                        int ftype = first.get(data + e) & 0xff;
                        int bit = first.get(data + e + 1) & 0xff;
                        byte[] n = new byte[46];
                        first.get(data + e + 2, n);
                        int l = 0;
                        while (l < n.length && n[l] != 0) {
                            l++;
                        }
                        if (ftype == 0 && bit < 64) {
                            featureNames.add(bit + ":" + new String(n, 0, l, StandardCharsets.UTF_8));
                        }
                    }
                }
                default -> {
                    // qcow2.txt: unknown header extensions can be safely ignored
                }
            }
            pos = data + ((len + 7) & ~7L);
        }
    }

    private String incompatibleNames(long bits) {
        StringBuilder sb = new StringBuilder(String.format("0x%x", bits));
        for (String fn : featureNames) {
            int colon = fn.indexOf(':');
            int bit = Integer.parseInt(fn.substring(0, colon));
            if ((bits & (1L << bit)) != 0) {
                sb.append(' ').append(fn.substring(colon + 1));
            }
        }
        return sb.toString();
    }

    private void validate(long fileSize, boolean writable) throws ImageException {
        int cs = clusterSize();
        if (cryptMethod != 0) {
            throw bad("encrypted images are not supported (crypt_method " + cryptMethod + ")");
        }
        if ((incompatible & INCOMPAT_DATA_FILE) != 0) {
            throw bad("images with an external data file are not supported");
        }
        if ((incompatible & INCOMPAT_COMPRESSION) != 0 || compressionType != 0) {
            throw bad("compression type " + compressionType + (compressionType == 1 ? " (zstd)" : "")
                    + " is not supported (only zlib/deflate)");
        }
        if ((incompatible & INCOMPAT_EXTL2) != 0) {
            throw bad("extended L2 entries (subclusters) are not supported");
        }
        long known = INCOMPAT_DIRTY | INCOMPAT_CORRUPT;
        if ((incompatible & ~known) != 0) {
            throw bad("unknown incompatible features " + incompatibleNames(incompatible & ~known));
        }
        if (writable && (incompatible & INCOMPAT_DIRTY) != 0) {
            throw bad("the image is dirty (lazy refcounts were in use when it was last closed);"
                    + " repair it with 'qemu-img check -r all'");
        }
        if (writable && (incompatible & INCOMPAT_CORRUPT) != 0) {
            throw bad("the image is marked corrupt; repair it with 'qemu-img check -r all'");
        }
        if (refcountOrder < 0 || refcountOrder > MAX_REFCOUNT_ORDER) {
            throw bad("invalid refcount order " + Integer.toUnsignedString(refcountOrder));
        }
        if (size < 0 || size > MAX_SIZE) {
            throw bad("invalid virtual size " + Long.toUnsignedString(size));
        }
        long l2Entries = cs / 8;
        long clusters = ceilDiv(size, cs);
        long needL1 = ceilDiv(clusters, l2Entries);
        if (l1Size < 0 || (long) l1Size * 8 > MAX_L1_BYTES) {
            throw bad("L1 table too large (" + Integer.toUnsignedString(l1Size) + " entries)");
        }
        if (l1Size < needL1) {
            throw bad("L1 table (" + l1Size + " entries) too small for the virtual size " + size);
        }
        checkTable("L1 table", l1Offset, (long) l1Size * 8, fileSize, cs);
        if (refcountTableClusters <= 0 || (long) refcountTableClusters * cs > MAX_REFTABLE_BYTES) {
            throw bad("invalid refcount table size (" + Integer.toUnsignedString(refcountTableClusters)
                    + " clusters)");
        }
        checkTable("refcount table", refcountTableOffset, (long) refcountTableClusters * cs, fileSize, cs);
        if (nbSnapshots > 65536) {
            throw bad("too many snapshots (" + nbSnapshots + ")");
        }
        if (writable && nbSnapshots > 0) {
            throw bad("images with internal snapshots can only be opened read-only (" + nbSnapshots
                    + " snapshot(s))");
        }
        if (backingOffset != 0) {
            if (backingSize < 0 || backingSize > MAX_BACKING_NAME) {
                throw bad("backing file name too long (" + Integer.toUnsignedString(backingSize) + " bytes)");
            }
            if (backingOffset < 0 || backingOffset > Math.min(cs, fileSize) - backingSize) {
                throw bad("invalid backing file name offset " + backingOffset);
            }
            if (backingSize > 0 && backingOffset < (version == 2 ? V2_LENGTH : headerLength)) {
                throw bad("backing file name overlaps the header");
            }
        }
    }

    /** A table in the file: cluster aligned, not the header cluster, entirely inside the file. */
    private void checkTable(String what, long offset, long bytes, long fileSize, int cs) throws ImageException {
        if (bytes == 0) {
            return;
        }
        if (offset <= 0 || offset % cs != 0) {
            throw bad(what + " offset " + offset + " is invalid (must be a cluster boundary after the header)");
        }
        if (offset > fileSize || bytes > fileSize - offset) {
            throw bad(what + " (" + bytes + " bytes at " + offset + ") lies outside the file ("
                    + fileSize + " bytes)");
        }
    }

    static long ceilDiv(long a, long b) {
        return a / b + (a % b == 0 ? 0 : 1);
    }
}
