package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A qcow2 image (version 2 or 3, QEMU docs/interop/qcow2.txt) over an {@link ImageFile}, with
 * an optional read-only base chain. Pure Java; the disk process hands in every file.
 *
 * <p>What it does: L1/L2 mapping with a bounded L2 cache, refcount table and blocks (any
 * refcount_order, the table grows as needed), allocation on first write, copy of the rest of a
 * cluster from the base on a partial write, zero clusters (v3), reads of deflate-compressed
 * clusters (a write into one moves it to a new, uncompressed cluster), discard and write-zeroes
 * as unallocated or zero clusters.
 *
 * <p>Crash safety is by write ordering; metadata is cached and written back, as QEMU's qcow2
 * caches do, with these rules: guest data goes straight to its cluster; a refcount block (and the
 * refcount table entry that points to it) is durable before any L2 table, L1 entry or refcount
 * table entry that references a newly counted cluster is written; L2 tables are durable before
 * the L1 entries that point to them; a refcount is lowered only after the L2 change that dropped
 * the reference is durable. A process or machine dying at any point leaves at most leaked
 * clusters, and {@link #flush()} makes every completed write durable.
 *
 * <p>Thread safety: all methods may be called from any thread; one lock serialises them, except
 * that the data of a cluster-aligned run of whole clusters is written outside it (its clusters
 * chosen and counted before, mapped after, under the lock: see {@code writeClusters}), and
 * that data runs are read outside it.
 *
 * <p>Data moved by the caller ({@link #map}): a mapping hands out host offsets that the caller
 * reads or writes later, on its own (the disk process's io_uring). The rule that keeps this
 * safe is one counter, {@code ioOutside}, shared with the transfers the image runs outside its
 * lock: an open mapping that names data counts in it. A cluster whose last reference is dropped
 * (discard, write-zeroes, copy-on-write, a rewrite of a compressed cluster) is counted down,
 * punched and so handed out again only once the drop is durable and the counter is zero, so
 * no transfer of a mapping still open can touch a cluster that holds other data: a read sees
 * the old bytes, a write lands in a cluster nothing references. A mapping for a write names
 * only clusters the image owns already (COPIED): it changes no metadata, so the write
 * ordering above stays the library's own. Under steady traffic the count-down waits for a
 * moment with nothing in flight (a leak until then, never corruption). {@code
 * MappingProperties} tests the rule deterministically and under concurrent discards.
 */
public final class Qcow2Image extends ImageBase {
    // qcow2.txt "Cluster mapping": L1/L2 entry bits
    static final long COPIED = 1L << 63;
    static final long COMPRESSED = 1L << 62;
    static final long ZERO = 1L;
    static final long OFFSET_MASK = 0x00fffffffffffe00L;
    static final long L1_RESERVED = 0x7f000000000001ffL;
    static final long L2_STD_RESERVED = 0x3f000000000001feL;
    /** qcow2.txt "Refcount table entry": bits 0-8 reserved. */
    static final long REFT_RESERVED = 0x1ffL;
    /** qcow2.txt compressed descriptor: sector counts are in 512-byte units. */
    static final int SECTOR = 512;

    static final int DEFAULT_L2_CACHE_BYTES = 4 << 20;
    static final int DEFAULT_REF_CACHE_BYTES = 1 << 20;

    enum Kind { UNALLOCATED, ZERO_PLAIN, ZERO_ALLOC, NORMAL, COMPRESSED }

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when the last data write running outside the lock ends ({@link #ioOutside}). */
    private final Condition ioDone = lock.newCondition();
    /** Data writes of cluster runs running outside the lock now. */
    private int ioOutside;
    private final ImageFile file;
    private final Qcow2Header h;
    private final DiskImage backing;
    private final int cb;
    private final int cs;
    private final int l2Entries;
    private final long[] l1;
    private final BitSet l1Dirty = new BitSet();
    private final long l1Start;
    private final long l1End;
    private long[] rtable;
    private final BitSet rtableDirty = new BitSet();
    private long rtStart;
    private long rtEnd;
    private final int refOrder;
    private final long refEntries;
    private final Lru<long[]> l2Cache;
    private final Set<Long> dirtyL2 = new HashSet<>();
    private final Lru<byte[]> refCache;
    private final Set<Long> dirtyRef = new HashSet<>();
    /** L2 tables and refcount blocks found at open (sorted), never handed out by the allocator. */
    private final long[] openMeta;
    /** Those allocated since. */
    private final Set<Long> metaClusters = new HashSet<>();
    private final List<Long> pendingFree = new ArrayList<>();
    /**
     * Clusters whose dropped references are durable, not yet counted down because a data write
     * planned before the drop may still be running outside the lock into one of them: counted
     * down once none runs ({@link #freeDurable}), so that no such write lands in a cluster
     * handed out again.
     */
    private final List<Long> durableFree = new ArrayList<>();
    private long hostEnd;
    private long freeHint = 1;
    private boolean refUnsynced;
    private boolean l2Unsynced;
    private long zipKey = -1;
    private byte[] zipData;
    private boolean closed;

    /** A small LRU map keyed by host offset; eviction is the owner's business. */
    private static final class Lru<V> extends LinkedHashMap<Long, V> {
        private static final long serialVersionUID = 1L;
        final int capacity;

        Lru(int capacity) {
            super(16, 0.75f, true);
            this.capacity = capacity;
        }
    }

    private Qcow2Image(ImageFile file, Qcow2Header h, DiskImage backing, boolean readOnly, int l2CacheBytes)
            throws IOException {
        super(file.name(), h.size, readOnly);
        this.file = file;
        this.h = h;
        this.backing = backing;
        this.cb = h.clusterBits;
        this.cs = h.clusterSize();
        this.l2Entries = cs / 8;
        this.refOrder = h.refcountOrder;
        this.refEntries = ((long) cs * 8) >>> refOrder;
        this.l2Cache = new Lru<>(Math.max(4, l2CacheBytes / cs));
        this.refCache = new Lru<>(Math.max(4, DEFAULT_REF_CACHE_BYTES / cs));
        this.hostEnd = Qcow2Header.ceilDiv(file.size(), cs);
        // sizes below were bounded by the file size in Qcow2Header.validate
        this.l1 = readTable(h.l1Offset, h.l1Size, "L1 table");
        this.l1Start = h.l1Offset >>> cb;
        this.l1End = Qcow2Header.ceilDiv(h.l1Offset + (long) h.l1Size * 8, cs);
        this.rtable = readTable(h.refcountTableOffset, (int) ((long) h.refcountTableClusters * cs / 8),
                "refcount table");
        this.rtStart = h.refcountTableOffset >>> cb;
        this.rtEnd = rtStart + h.refcountTableClusters;
        this.openMeta = readOnly ? new long[0] : metadataClusters();
        if (!readOnly) {
            if (h.version == 3 && h.autoclear != 0) {
                // qcow2.txt autoclear_features: clear unknown bits before the first write
                file.writeFully(ByteBuffer.allocate(8), 88);
                file.flush();
            }
        }
    }

    /**
     * Opens a qcow2 image. bases is its chain below it (the direct base first), each with its
     * format; they are opened read-only. Ownership of every file passes to the image.
     */
    public static Qcow2Image open(ImageFile top, List<Layer> bases, boolean readOnly) throws IOException {
        return open(top, bases, readOnly, DEFAULT_L2_CACHE_BYTES);
    }

    static Qcow2Image open(ImageFile top, List<Layer> bases, boolean readOnly, int l2CacheBytes)
            throws IOException {
        Qcow2Header h = Qcow2Header.read(top, !readOnly);
        DiskImage backing = null;
        if (h.backingFile != null) {
            if (bases.isEmpty()) {
                throw new ImageException(top.name() + ": missing base image '" + h.backingFile + "'");
            }
            Layer b = bases.get(0);
            List<Layer> rest = bases.subList(1, bases.size());
            backing = switch (b.format()) {
                case RAW -> {
                    if (!rest.isEmpty()) {
                        throw new ImageException(b.file().name() + ": a raw base has no base, but "
                                + rest.size() + " more layer(s) were given");
                    }
                    yield new RawImage(b.file(), true);
                }
                case QCOW2 -> open(b.file(), rest, true, l2CacheBytes);
            };
            if (backing.size() > h.size) {
                throw new ImageException(top.name() + ": base image " + b.file().name() + " ("
                        + backing.size() + " bytes) is larger than the disk (" + h.size + " bytes)");
            }
        } else if (!bases.isEmpty()) {
            throw new ImageException(top.name() + ": the image has no base, but " + bases.size()
                    + " base layer(s) were given");
        }
        return new Qcow2Image(top, h, backing, readOnly, l2CacheBytes);
    }

    /** The clusters of the L2 tables and refcount blocks the tables point to inside the file, sorted. */
    private long[] metadataClusters() {
        long[] m = new long[l1.length + rtable.length];
        int n = 0;
        for (long e : l1) {
            long c = (e & OFFSET_MASK) >>> cb;
            if (c != 0 && c < hostEnd) {
                m[n++] = c;
            }
        }
        for (long e : rtable) {
            long c = e >>> cb;
            if (c != 0 && c < hostEnd) {
                m[n++] = c;
            }
        }
        m = Arrays.copyOf(m, n);
        Arrays.sort(m);
        return m;
    }

    private long[] readTable(long offset, int entries, String what) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(entries * 8);
        file.readFully(b, offset, what);
        long[] t = new long[entries];
        b.flip().asLongBuffer().get(t);
        return t;
    }

    private ImageException bad(String what) {
        return new ImageException(name + ": " + what);
    }

    // ---- public API ----

    @Override
    public int discardGranularity() {
        return cs;
    }

    /** The cluster size in bytes. */
    public int clusterSize() {
        return cs;
    }

    /** The qcow2 version (2 or 3). */
    public int version() {
        return h.version;
    }

    /** The base image's name as the header stores it, or null. */
    public String backingFile() {
        return h.backingFile;
    }

    /**
     * Maps each run under the lock and reads its data outside it (a run of data clusters
     * from the file, or a run the base chain serves), so that several requests read at once
     * as they do on a raw image; zeros and compressed clusters are served under the lock.
     * A run read outside the lock counts in {@link #ioOutside}, as a data write does: a
     * cluster that a concurrent request drops meanwhile is not handed out again before the
     * read has ended ({@link #freeDurable}), and {@link #close} waits for it.
     */
    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        checkRange(offset, dst.remaining());
        long off = offset;
        long[] outside = new long[1];
        while (dst.hasRemaining()) {
            ByteBuffer part = dst.slice(dst.position(), dst.remaining());
            int n;
            lock.lock();
            try {
                checkOpen();
                outside[0] = INSIDE;
                n = readRun(off, part, outside);
                if (outside[0] != INSIDE) {
                    ioOutside++;
                }
            } finally {
                lock.unlock();
            }
            if (outside[0] != INSIDE) {
                readOutside(off, part.slice(0, n), outside[0]);
            }
            dst.position(dst.position() + n);
            off += n;
        }
    }

    /** {@link #readRun}'s answer for a run it read itself; FROM_BASE for one the base chain serves. */
    private static final long INSIDE = -1;
    private static final long FROM_BASE = -2;

    /**
     * Under the lock: one read or write that ran outside it has ended; the last one wakes
     * {@link #close} and frees the clusters whose release waited for it.
     */
    private void endOutside() throws IOException {
        if (--ioOutside == 0) {
            ioDone.signalAll();
            freeDurable();
        }
    }

    private void readOutside(long off, ByteBuffer part, long host) throws IOException {
        try {
            if (host == FROM_BASE) {
                readBacking(off, part);
            } else {
                file.readOrZero(part, host);
            }
        } finally {
            lock.lock();
            try {
                endOutside();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Maps the longest run of clusters from off that reads alike (all from the base, all zeros,
     * or contiguous in the file); returns its bytes. Zeros and compressed data are read here;
     * for a run in the file, {@code outside[0]} is set to its host offset, for a run of the
     * base to FROM_BASE, and the caller reads it after releasing the lock.
     */
    private int readRun(long off, ByteBuffer dst, long[] outside) throws IOException {
        long gc = off >>> cb;
        int in = (int) (off & (cs - 1));
        long e = l2Entry(gc);
        Kind k = kind(e, gc);
        int n = (int) run(gc, in, e, k, dst.remaining(), false);
        ByteBuffer part = dst.slice(0, n);
        switch (k) {
            case UNALLOCATED -> {
                if (backing != null) {
                    outside[0] = FROM_BASE;
                } else {
                    zero(part);
                }
            }
            case ZERO_PLAIN, ZERO_ALLOC -> zero(part);
            case NORMAL -> outside[0] = (e & OFFSET_MASK) + in;
            case COMPRESSED -> part.put(decompress(e, gc), in, n);
        }
        return n;
    }

    /**
     * The bytes from byte {@code in} of guest cluster gc (entry e, kind k), at most max, over
     * the following clusters that read alike (all from the base, all zeros, or contiguous in
     * the file; for a write in place, contiguous and owned): at least the rest of gc's cluster
     * (or max). Under the lock.
     */
    private long run(long gc, int in, long e, Kind k, long max, boolean inPlace) throws IOException {
        long n = Math.min(cs - in, max);
        if (k == Kind.COMPRESSED) {
            return n;
        }
        long host = e & OFFSET_MASK;
        for (long next = gc + 1; n < max; next++) {
            long e2 = l2Entry(next);
            Kind k2 = kind(e2, next);
            boolean same = switch (k) {
                case UNALLOCATED -> k2 == Kind.UNALLOCATED;
                case ZERO_PLAIN, ZERO_ALLOC -> k2 == Kind.ZERO_PLAIN || k2 == Kind.ZERO_ALLOC;
                case NORMAL -> k2 == Kind.NORMAL && (e2 & OFFSET_MASK) == host + ((next - gc) << cb)
                        && (!inPlace || (e2 & COPIED) != 0);
                default -> false;
            };
            if (!same) {
                break;
            }
            n = Math.min(max, n + cs);
        }
        return n;
    }

    /**
     * {@inheritDoc}
     *
     * <p>A read maps data clusters of this file to layer 0, unallocated runs to the base
     * chain (layers 1.., and zeros past a shorter base), zero clusters to zeros; a compressed
     * cluster ends the mapping with {@link Extent.Sync}. A write maps only clusters this image
     * owns already (normal, COPIED: refcount one), in place; the first other cluster ends the
     * mapping with {@link Extent.Sync}, so that allocation and copy-on-write stay on the
     * synchronous path with their write ordering (data, then L2, then L1 and refcounts): a
     * write in place changes no metadata, and {@link #flush} (fdatasync of this file) makes it
     * durable as any other.
     *
     * <p>The pin: a mapping of a writable image that names a data extent counts in
     * {@link #ioOutside} until it is closed, as a read or write running outside the lock
     * does. A cluster whose reference a concurrent discard, write-zeroes or copy-on-write drops
     * meanwhile is then not counted down, punched or handed out again ({@link #freeDurable})
     * before every such mapping has been closed: a transfer still in flight on a mapped
     * extent reads that cluster's old bytes or writes into a cluster nothing references, never
     * into a cluster that holds other data. A read-only image (every base) never drops a
     * cluster and pins nothing. The lock is only tried: if another request holds it, the
     * whole range is {@link Extent.Sync} (the caller's device thread does not wait for a
     * flush or an allocation).
     */
    @Override
    public Mapping map(long offset, long length, boolean write) throws IOException {
        if (write) {
            checkChange(offset, length);
        } else {
            checkRange(offset, length);
        }
        if (!lock.tryLock()) {
            return Mapping.of(new Extent.Sync(length));
        }
        List<Extent> out = new ArrayList<>();
        boolean data = false;
        try {
            checkOpen();
            long off = offset;
            long end = offset + length;
            while (off < end) {
                long gc = off >>> cb;
                int in = (int) (off & (cs - 1));
                long e = l2Entry(gc);
                Kind k = kind(e, gc);
                long n = run(gc, in, e, k, end - off, write);
                boolean mapped;
                if (write) {
                    mapped = k == Kind.NORMAL && (e & COPIED) != 0;
                    if (mapped) {
                        add(out, new Extent.Data(0, (e & OFFSET_MASK) + in, n));
                    }
                } else {
                    mapped = switch (k) {
                        case NORMAL -> add(out, new Extent.Data(0, (e & OFFSET_MASK) + in, n));
                        case ZERO_PLAIN, ZERO_ALLOC -> add(out, new Extent.Zero(n));
                        case UNALLOCATED -> backing == null ? add(out, new Extent.Zero(n)) : mapBacking(off, n, out);
                        case COMPRESSED -> false;
                    };
                }
                if (!mapped) {
                    add(out, new Extent.Sync(end - off));
                    break;
                }
                off += n;
            }
            for (Extent x : out) {
                data |= x instanceof Extent.Data;
            }
            if (!data || readOnly) {
                return new Mapping(out, null);
            }
            ioOutside++;
        } finally {
            lock.unlock();
        }
        return new Mapping(out, this::unpin);
    }

    /** Ends a mapping's pin (see {@link #map}). */
    private void unpin() throws IOException {
        lock.lock();
        try {
            endOutside();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Under the lock: the base chain's extents of [off, off+n), layers shifted by one, zeros
     * past a shorter base; false (nothing added) where the base needs its synchronous read.
     * The bases are read-only: their mappings pin nothing and are closed at once.
     */
    private boolean mapBacking(long off, long n, List<Extent> out) throws IOException {
        long bsize = backing.size();
        long inBase = off < bsize ? Math.min(n, bsize - off) : 0;
        if (inBase > 0) {
            try (Mapping m = backing.map(off, inBase, false)) {
                if (!m.complete()) {
                    return false;
                }
                for (Extent x : m.extents()) {
                    add(out, x instanceof Extent.Data d ? new Extent.Data(d.layer() + 1, d.position(), d.length()) : x);
                }
            }
        }
        if (n > inBase) {
            add(out, new Extent.Zero(n - inBase));
        }
        return true;
    }

    /** Appends x, merged into the last extent where they continue each other; true. */
    private static boolean add(List<Extent> out, Extent x) {
        if (!out.isEmpty()) {
            Extent last = out.getLast();
            Extent merged = null;
            if (last instanceof Extent.Data a && x instanceof Extent.Data b && a.layer() == b.layer()
                    && a.position() + a.length() == b.position()) {
                merged = new Extent.Data(a.layer(), a.position(), a.length() + b.length());
            } else if (last instanceof Extent.Zero a && x instanceof Extent.Zero b) {
                merged = new Extent.Zero(a.length() + b.length());
            }
            if (merged != null) {
                out.set(out.size() - 1, merged);
                return true;
            }
        }
        out.add(x);
        return true;
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        checkChange(offset, src.remaining());
        long off = offset;
        while (src.hasRemaining()) {
            int in = (int) (off & (cs - 1));
            int n;
            if (in == 0 && src.remaining() >= cs) {
                n = writeClusters(off >>> cb, src.slice(src.position(), src.remaining() & -cs));
            } else {
                n = Math.min(cs - in, src.remaining());
                long o = off;
                ByteBuffer part = src.slice(src.position(), n);
                locked(() -> writeChunk(o >>> cb, in, part));
            }
            src.position(src.position() + n);
            off += n;
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        checkChange(offset, length);
        locked(() -> {
            if (backing != null && h.version == 2) {
                return; // v2 has no zero clusters: unallocating would show the base
            }
            long first = Qcow2Header.ceilDiv(offset, cs);
            long end = offset + length == size ? Qcow2Header.ceilDiv(size, cs) : (offset + length) >>> cb;
            for (long gc = first; gc < end; gc++) {
                zeroCluster(gc, backing != null);
            }
        });
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkChange(offset, length);
        locked(() -> {
            long off = offset;
            long end = offset + length;
            while (off < end) {
                int in = (int) (off & (cs - 1));
                int n = (int) Math.min(cs - in, end - off);
                boolean whole = in == 0 && (n == cs || off + n == size);
                if (whole && !(backing != null && h.version == 2)) {
                    zeroCluster(off >>> cb, backing != null);
                } else if (!readsZero(off >>> cb)) {
                    writeChunk(off >>> cb, in, ByteBuffer.allocate(n));
                }
                off += n;
            }
        });
    }

    @Override
    public void flush() throws IOException {
        if (readOnly) {
            return;
        }
        locked(this::flushLocked);
    }

    @Override
    public void close() throws IOException {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            while (ioOutside > 0) {
                ioDone.awaitUninterruptibly(); // its file stays open until the write returns
            }
            try {
                if (!readOnly) {
                    flushLocked();
                    if (!dirtyRef.isEmpty()) {
                        writeDirtyRefBlocks();
                        file.flush();
                    }
                }
            } finally {
                closed = true;
                try {
                    file.close();
                } finally {
                    if (backing != null) {
                        backing.close();
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private void checkOpen() throws ImageException {
        if (closed) {
            throw bad("the image is closed");
        }
    }

    /** A request's work on the image's tables and file. */
    @FunctionalInterface
    private interface Work {
        void run() throws IOException;
    }

    /** Runs {@code work} under the image's lock, once the image is known to be open. */
    private void locked(Work work) throws IOException {
        lock.lock();
        try {
            checkOpen();
            work.run();
        } finally {
            lock.unlock();
        }
    }

    // ---- reading ----

    private void readBacking(long off, ByteBuffer part) throws IOException {
        long bsize = backing.size();
        if (off < bsize) {
            int n = (int) Math.min(part.remaining(), bsize - off);
            ByteBuffer a = part.slice(part.position(), n);
            backing.read(off, a);
            part.position(part.position() + n);
        }
        zero(part);
    }

    private static final byte[] ZEROS = new byte[4096];

    private static void zero(ByteBuffer b) {
        while (b.hasRemaining()) {
            b.put(ZEROS, 0, Math.min(ZEROS.length, b.remaining()));
        }
    }

    /** The L2 entry of guest cluster gc (0 where no L2 table exists). */
    private long l2Entry(long gc) throws IOException {
        long off = l2Offset(gc);
        return off == 0 ? 0 : loadL2(off)[(int) (gc & (l2Entries - 1))];
    }

    /** The host offset of gc's L2 table, 0 if none. */
    private long l2Offset(long gc) throws ImageException {
        int l1i = (int) (gc / l2Entries);
        long e = l1[l1i];
        if ((e & L1_RESERVED) != 0) {
            throw bad(String.format("L1 entry %d is invalid (0x%016x)", l1i, e));
        }
        long off = e & OFFSET_MASK;
        if (off != 0 && (off >>> cb) >= hostEnd) {
            throw bad("L2 table at offset " + off + " lies outside the file");
        }
        return off;
    }

    Kind kind(long e, long gc) throws ImageException {
        if ((e & COMPRESSED) != 0) {
            return Kind.COMPRESSED;
        }
        long off = e & OFFSET_MASK;
        if ((e & L2_STD_RESERVED) != 0) {
            throw bad(String.format("L2 entry for guest cluster %d is invalid (0x%016x)", gc, e));
        }
        if ((e & ZERO) != 0) {
            if (h.version < 3) {
                throw bad(String.format("zero flag in a version 2 image (guest cluster %d)", gc));
            }
            return off == 0 ? Kind.ZERO_PLAIN : Kind.ZERO_ALLOC;
        }
        if (off == 0) {
            if ((e & COPIED) != 0) {
                throw bad(String.format("L2 entry for guest cluster %d is invalid (0x%016x)", gc, e));
            }
            return Kind.UNALLOCATED;
        }
        if (off < cs) {
            throw bad(String.format("L2 entry for guest cluster %d points into the header", gc));
        }
        return Kind.NORMAL;
    }

    /** qcow2.txt "Compressed Clusters Descriptor": host offset and byte count of the deflate data. */
    private long[] compressedExtent(long e, long gc) throws ImageException {
        int x = 62 - (cb - 8);
        long coff = e & ((1L << x) - 1);
        long nsec = ((e >>> x) & ((1L << (cb - 8)) - 1)) + 1;
        long csize = nsec * SECTOR - (coff & (SECTOR - 1));
        if (coff < cs || (coff >>> cb) >= hostEnd) {
            throw bad(String.format("compressed cluster for guest cluster %d lies outside the file", gc));
        }
        return new long[] {coff, csize};
    }

    private byte[] decompress(long e, long gc) throws IOException {
        if (zipData != null && e == zipKey) {
            return zipData;
        }
        long[] ext = compressedExtent(e, gc);
        byte[] in = new byte[(int) ext[1]]; // at most 2^(cluster_bits-8) sectors: two clusters
        file.readOrZero(ByteBuffer.wrap(in), ext[0]);
        byte[] out = new byte[cs];
        Inflater inf = new Inflater(true); // raw deflate, as QEMU's qcow2 zlib compression writes it
        int n = 0;
        try {
            inf.setInput(in);
            while (n < cs && !inf.finished()) {
                int k = inf.inflate(out, n, cs - n);
                if (k == 0) {
                    break;
                }
                n += k;
            }
        } catch (DataFormatException ex) {
            throw bad(String.format("compressed cluster for guest cluster %d is corrupt", gc));
        } finally {
            inf.end();
        }
        if (n < cs) {
            throw bad(String.format("compressed cluster for guest cluster %d is truncated", gc));
        }
        zipKey = e;
        zipData = out;
        return out;
    }

    // ---- writing ----

    private void writeChunk(long gc, int in, ByteBuffer part) throws IOException {
        int n = part.remaining();
        long l2off = l2OffsetForWrite(gc, true);
        int l2i = (int) (gc & (l2Entries - 1));
        long e = loadL2(l2off)[l2i];
        Kind k = kind(e, gc);
        long host = e & OFFSET_MASK;
        if ((k == Kind.NORMAL || k == Kind.ZERO_ALLOC) && (e & COPIED) == 0 && refcount(host >>> cb) == 1) {
            e |= COPIED; // qcow2.txt: bit 63 means refcount exactly one
            setL2(l2off, l2i, e);
        }
        boolean owned = (e & COPIED) != 0;
        if (owned && k == Kind.NORMAL) {
            file.writeFully(part, host + in);
            return;
        }
        if (owned && k == Kind.ZERO_ALLOC) {
            byte[] full = new byte[cs];
            part.get(full, in, n);
            file.writeFully(ByteBuffer.wrap(full), host);
            setL2(l2off, l2i, host | COPIED);
            return;
        }
        ByteBuffer data;
        if (in == 0 && n == cs) {
            data = part;
        } else {
            byte[] full = new byte[cs];
            switch (k) {
                case UNALLOCATED -> {
                    if (backing != null) {
                        readBacking(gc * cs, ByteBuffer.wrap(full));
                    }
                }
                case NORMAL -> file.readOrZero(ByteBuffer.wrap(full), host);
                case COMPRESSED -> System.arraycopy(decompress(e, gc), 0, full, 0, cs);
                default -> {
                    // zero clusters start from zeros
                }
            }
            part.get(full, in, n);
            data = ByteBuffer.wrap(full);
        }
        long c = allocCluster();
        file.writeFully(data, c << cb);
        setL2(l2off, l2i, (c << cb) | COPIED);
        freeLater(e, k, gc);
    }

    /**
     * Whole guest clusters from gc written with one call where their host clusters lie side by
     * side: either clusters this image owns already (COPIED, normal), contiguous in the file,
     * written in place; or clusters that each need a new host cluster (unallocated, zero,
     * compressed or shared), which get a run of neighbouring new host clusters, as many as
     * are free next to each other, their L2 entries set once the data is written (data before
     * the L2 table that maps it, as {@link #writeChunk} does). {@code data} holds whole
     * clusters; returns the bytes written. Where gc's cluster is neither, it is written by
     * {@link #writeChunk}, alone.
     *
     * <p>The run is chosen and its clusters counted under the lock; the data is written
     * outside it, so that several requests copy their data at once (as they do on a raw
     * image); the L2 entries are set under the lock again. A cluster that a concurrent
     * request drops meanwhile is not counted down before this write has ended
     * ({@link #durableFree}), and {@link #close} waits for it.
     */
    private int writeClusters(long gc, ByteBuffer data) throws IOException {
        int max = data.remaining() >>> cb;
        long first = -1; // the first new host cluster
        long start = -1; // where the data goes in the file
        boolean inPlace = false;
        int k = 0;
        lock.lock();
        try {
            checkOpen();
            while (k < max) {
                long g = gc + k;
                long l2off = l2OffsetForWrite(g, true);
                long e = loadL2(l2off)[(int) (g & (l2Entries - 1))];
                Kind kd = kind(e, g);
                boolean owned = (kd == Kind.NORMAL || kd == Kind.ZERO_ALLOC)
                        && ((e & COPIED) != 0 || refcount((e & OFFSET_MASK) >>> cb) == 1);
                if (k == 0) {
                    if (kd == Kind.NORMAL && (e & COPIED) != 0) {
                        inPlace = true;
                        start = e & OFFSET_MASK;
                    } else if (owned) {
                        writeChunk(gc, 0, data.slice(0, cs)); // made COPIED, or a zero cluster filled
                        return cs;
                    } else {
                        first = allocCluster();
                        start = first << cb;
                    }
                } else if (inPlace) {
                    if (kd != Kind.NORMAL || (e & COPIED) == 0 || (e & OFFSET_MASK) != start + ((long) k << cb)) {
                        break;
                    }
                } else if (owned || !isFree(first + k)) {
                    break; // owned: written in place; not free: a new L2 table took it, or data lies there
                } else {
                    claim(first + k);
                }
                k++;
            }
            ioOutside++;
        } finally {
            lock.unlock();
        }
        boolean written = false;
        try {
            file.writeFully(data.slice(0, k << cb), start);
            written = true;
        } finally {
            lock.lock();
            try {
                endOutside();
                if (written && !inPlace) {
                    for (int j = 0; j < k; j++) {
                        long g = gc + j;
                        long l2off = l2OffsetForWrite(g, true); // exists and is ours: made so above
                        int l2i = (int) (g & (l2Entries - 1));
                        long e = loadL2(l2off)[l2i];
                        setL2(l2off, l2i, ((first + j) << cb) | COPIED);
                        freeLater(e, kind(e, g), g);
                    }
                }
            } finally {
                lock.unlock();
            }
        }
        return k << cb;
    }

    /** Whether all of guest cluster gc reads as zeros without looking at data. */
    private boolean readsZero(long gc) throws IOException {
        Kind k = kind(l2Entry(gc), gc);
        return k == Kind.ZERO_PLAIN || k == Kind.ZERO_ALLOC || (k == Kind.UNALLOCATED && backing == null);
    }

    /** Makes guest cluster gc read as zeros: a zero cluster (asZeroFlag) or unallocated. */
    private void zeroCluster(long gc, boolean asZeroFlag) throws IOException {
        if (l2Offset(gc) == 0 && !asZeroFlag) {
            return;
        }
        long l2off = l2OffsetForWrite(gc, true);
        int l2i = (int) (gc & (l2Entries - 1));
        long e = loadL2(l2off)[l2i];
        Kind k = kind(e, gc);
        long ne = asZeroFlag ? ZERO : 0;
        if (e == ne || (k == Kind.UNALLOCATED && !asZeroFlag)) {
            return;
        }
        setL2(l2off, l2i, ne);
        freeLater(e, k, gc);
    }

    /** The L2 table for a write to gc: exists, is ours alone (allocated if allocate). */
    private long l2OffsetForWrite(long gc, boolean allocate) throws IOException {
        int l1i = (int) (gc / l2Entries);
        long off = l2Offset(gc);
        if (off != 0) {
            if ((l1[l1i] & COPIED) == 0) {
                if (refcount(off >>> cb) != 1) {
                    throw bad("L2 table at offset " + off + " is shared (internal snapshot): not writable");
                }
                l1[l1i] = off | COPIED;
                l1Dirty.set(l1i);
            }
            return off;
        }
        if (!allocate) {
            return 0;
        }
        long c = allocCluster();
        off = c << cb;
        metaClusters.add(c);
        cachePut(l2Cache, off, new long[l2Entries]);
        dirtyL2.add(off);
        l1[l1i] = off | COPIED;
        l1Dirty.set(l1i);
        return off;
    }

    private void setL2(long l2off, int l2i, long v) throws IOException {
        loadL2(l2off)[l2i] = v;
        dirtyL2.add(l2off);
    }

    /** Remembers the host clusters an old L2 entry referenced; their refcounts drop after the next flush. */
    private void freeLater(long e, Kind k, long gc) throws ImageException {
        switch (k) {
            case NORMAL, ZERO_ALLOC -> pendingFree.add((e & OFFSET_MASK) >>> cb);
            case COMPRESSED -> {
                long[] ext = compressedExtent(e, gc);
                for (long c = ext[0] >>> cb; c <= (ext[0] + ext[1] - 1) >>> cb; c++) {
                    pendingFree.add(c);
                }
                if (e == zipKey) {
                    zipKey = -1;
                    zipData = null;
                }
            }
            default -> {
            }
        }
    }

    // ---- caches ----

    private long[] loadL2(long off) throws IOException {
        long[] t = l2Cache.get(off);
        if (t != null) {
            return t;
        }
        if (off < cs || (off >>> cb) >= hostEnd) {
            throw bad("L2 table at offset " + off + " lies outside the file");
        }
        ByteBuffer b = ByteBuffer.allocate(cs);
        file.readFully(b, off, "L2 table");
        t = new long[l2Entries];
        b.flip().asLongBuffer().get(t);
        cachePut(l2Cache, off, t);
        return t;
    }

    private byte[] loadRefBlock(long off) throws IOException {
        byte[] blk = refCache.get(off);
        if (blk != null) {
            return blk;
        }
        ByteBuffer b = ByteBuffer.allocate(cs);
        file.readFully(b, off, "refcount block");
        blk = b.array();
        cachePut(refCache, off, blk);
        return blk;
    }

    private <V> void cachePut(Lru<V> cache, long off, V v) throws IOException {
        cache.put(off, v);
        if (cache.size() <= cache.capacity) {
            return;
        }
        boolean isL2 = cache == l2Cache;
        Set<Long> dirty = isL2 ? dirtyL2 : dirtyRef;
        Iterator<Map.Entry<Long, V>> it = cache.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Long, V> en = it.next();
            if (en.getKey() != off && !dirty.contains(en.getKey())) {
                it.remove();
                return;
            }
        }
        // everything is dirty: write back the least recently used one
        it = cache.entrySet().iterator();
        Map.Entry<Long, V> eldest = it.next();
        long key = eldest.getKey();
        if (isL2) {
            // data and refcounts durable before the L2 table that maps them
            syncRefcounts();
            file.flush();
            refUnsynced = false;
            writeL2(key, (long[]) eldest.getValue());
        } else {
            writeRefBlock(key, (byte[]) eldest.getValue());
        }
        cache.remove(key);
    }

    private void writeL2(long off, long[] t) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(cs);
        b.asLongBuffer().put(t);
        file.writeFully(b, off);
        dirtyL2.remove(off);
        l2Unsynced = true;
    }

    private void writeRefBlock(long off, byte[] blk) throws IOException {
        file.writeFully(ByteBuffer.wrap(blk), off);
        dirtyRef.remove(off);
        refUnsynced = true;
    }

    // ---- write-back, in the order that keeps a crashed image consistent ----

    private void writeDirtyRefBlocks() throws IOException {
        for (Long off : new ArrayList<>(dirtyRef)) {
            writeRefBlock(off, refCache.get(off));
        }
    }

    /** Refcount blocks, then (after a barrier) the refcount table entries that point to new ones. */
    private void syncRefcounts() throws IOException {
        writeDirtyRefBlocks();
        if (!rtableDirty.isEmpty()) {
            if (refUnsynced) {
                file.flush();
            }
            ByteBuffer b = ByteBuffer.allocate(8);
            for (int i = rtableDirty.nextSetBit(0); i >= 0; i = rtableDirty.nextSetBit(i + 1)) {
                file.writeFully(b.clear().putLong(0, rtable[i]), (rtStart << cb) + 8L * i);
            }
            rtableDirty.clear();
            refUnsynced = true;
        }
    }

    private void flushLocked() throws IOException {
        syncRefcounts();
        if (!dirtyL2.isEmpty() || !l1Dirty.isEmpty()) {
            // guest data and refcounts are durable before any L2 entry that maps them
            file.flush();
            refUnsynced = false;
        }
        for (Long off : new ArrayList<>(dirtyL2)) {
            writeL2(off, l2Cache.get(off));
        }
        if (!l1Dirty.isEmpty()) {
            if (l2Unsynced) {
                file.flush();
            }
            ByteBuffer b = ByteBuffer.allocate(8);
            for (int i = l1Dirty.nextSetBit(0); i >= 0; i = l1Dirty.nextSetBit(i + 1)) {
                file.writeFully(b.clear().putLong(0, l1[i]), h.l1Offset + 8L * i);
            }
            l1Dirty.clear();
        }
        file.flush();
        refUnsynced = false;
        l2Unsynced = false;
        // the L2 changes that dropped these references are durable: lower the refcounts now,
        // or once no data write runs outside the lock
        durableFree.addAll(pendingFree);
        pendingFree.clear();
        freeDurable();
    }

    /** Counts down the clusters of {@link #durableFree}, unless a data write runs outside the lock. */
    private void freeDurable() throws IOException {
        if (ioOutside > 0 || durableFree.isEmpty()) {
            return;
        }
        for (long c : durableFree) {
            long r = refcount(c);
            if (r > 0) {
                setRefcount(c, r - 1);
                if (r == 1) {
                    metaClusters.remove(c);
                    freeHint = Math.min(freeHint, c);
                    // unreferenced on disk already: give its blocks back where the file can
                    file.punchHole(c << cb, cs);
                }
            }
        }
        durableFree.clear();
    }

    // ---- refcounts and allocation ----

    private long refBlockOffset(long ti) throws ImageException {
        if (ti >= rtable.length) {
            return 0;
        }
        long e = rtable[(int) ti];
        if ((e & REFT_RESERVED) != 0 || (e != 0 && (e < cs || (e >>> cb) >= hostEnd))) {
            throw bad(String.format("refcount table entry %d is invalid (0x%016x)", ti, e));
        }
        return e;
    }

    long refcount(long c) throws IOException {
        long boff = refBlockOffset(c / refEntries);
        if (boff == 0) {
            return 0;
        }
        return getRef(loadRefBlock(boff), (int) (c % refEntries));
    }

    private long getRef(byte[] b, int i) {
        return switch (refOrder) {
            case 0, 1, 2 -> {
                int bits = 1 << refOrder;
                int bit = i * bits;
                yield (b[bit >>> 3] >>> (bit & 7)) & ((1 << bits) - 1);
            }
            case 3 -> b[i] & 0xffL;
            case 4 -> ((b[2 * i] & 0xffL) << 8) | (b[2 * i + 1] & 0xffL);
            case 5 -> ByteBuffer.wrap(b).getInt(4 * i) & 0xffffffffL;
            default -> ByteBuffer.wrap(b).getLong(8 * i);
        };
    }

    private void putRef(byte[] b, int i, long v) {
        switch (refOrder) {
            case 0, 1, 2 -> {
                int bits = 1 << refOrder;
                int bit = i * bits;
                int mask = ((1 << bits) - 1) << (bit & 7);
                b[bit >>> 3] = (byte) ((b[bit >>> 3] & ~mask) | (((int) v << (bit & 7)) & mask));
            }
            case 3 -> b[i] = (byte) v;
            case 4 -> {
                b[2 * i] = (byte) (v >>> 8);
                b[2 * i + 1] = (byte) v;
            }
            case 5 -> ByteBuffer.wrap(b).putInt(4 * i, (int) v);
            default -> ByteBuffer.wrap(b).putLong(8 * i, v);
        }
    }

    private void setRefcount(long c, long v) throws IOException {
        long ti = c / refEntries;
        if (ti >= rtable.length) {
            growRefcountTable(ti);
        }
        long boff = refBlockOffset(ti);
        if (boff == 0) {
            boff = newRefcountBlock(ti, c);
        }
        putRef(loadRefBlock(boff), (int) (c % refEntries), v);
        dirtyRef.add(boff);
    }

    private boolean isFixedMeta(long c) {
        return c == 0 || (c >= l1Start && c < l1End) || (c >= rtStart && c < rtEnd) || metaClusters.contains(c)
                || Arrays.binarySearch(openMeta, c) >= 0;
    }

    /** The lowest free cluster at or after from (refcount 0, no known metadata). */
    private long findFree(long from) throws IOException {
        long c = Math.max(1, from);
        while (!isFree(c)) {
            c++;
        }
        return c;
    }

    /** Whether host cluster c (at least 1) is free: refcount 0 and no known metadata. */
    private boolean isFree(long c) throws IOException {
        if (isFixedMeta(c)) {
            return false;
        }
        long ti = c / refEntries;
        return ti >= rtable.length || refBlockOffset(ti) == 0 || refcount(c) == 0;
    }

    private long allocCluster() throws IOException {
        return claim(findFree(freeHint));
    }

    /** Counts free cluster c as used (refcount 1); the next search starts after it. */
    private long claim(long c) throws IOException {
        hostEnd = Math.max(hostEnd, c + 1);
        setRefcount(c, 1);
        freeHint = c + 1;
        return c;
    }

    /** A refcount block for range ti, placed inside its own range (all of which is free) and counting itself. */
    private long newRefcountBlock(long ti, long avoid) throws IOException {
        long first = ti * refEntries;
        long b = first;
        while (b < first + refEntries && (b == avoid || isFixedMeta(b))) {
            b++;
        }
        if (b == first + refEntries) {
            throw bad("refcount structures are inconsistent (no room for a refcount block)");
        }
        byte[] blk = new byte[cs];
        putRef(blk, (int) (b - first), 1);
        long boff = b << cb;
        metaClusters.add(b);
        hostEnd = Math.max(hostEnd, b + 1);
        cachePut(refCache, boff, blk);
        dirtyRef.add(boff);
        rtable[(int) ti] = boff;
        rtableDirty.set((int) ti);
        return boff;
    }

    /**
     * Moves the refcount table to the end of the file, bigger, with new refcount blocks for the
     * ranges it and they occupy (qcow2.txt "Host cluster management"). Blocks, then the table,
     * then the header, each durable before the next; the old table is then freed.
     */
    private void growRefcountTable(long needTi) throws IOException {
        long oldLen = rtable.length;
        long start = hostEnd;
        long entries = Math.max(needTi + 1, oldLen * 2);
        long k = 0;
        long n;
        List<Long> uncovered = new ArrayList<>();
        while (true) {
            n = Qcow2Header.ceilDiv(entries * 8, cs);
            long areaEnd = start + k + n;
            long lastTi = (areaEnd - 1) / refEntries;
            if (lastTi + 1 > entries) {
                entries = lastTi + 1;
                continue;
            }
            uncovered.clear();
            for (long ti = start / refEntries; ti <= lastTi; ti++) {
                if (ti >= oldLen || rtable[(int) ti] == 0) {
                    uncovered.add(ti);
                }
            }
            if (uncovered.size() == k) {
                break;
            }
            k = uncovered.size();
        }
        if (n * cs > Qcow2Header.MAX_REFTABLE_BYTES) {
            throw bad("the refcount table would exceed QEMU's limit of 8 MiB");
        }
        long[] nt = Arrays.copyOf(rtable, (int) (n * cs / 8));
        List<byte[]> blocks = new ArrayList<>();
        for (int j = 0; j < k; j++) {
            nt[(int) (long) uncovered.get(j)] = (start + j) << cb;
            blocks.add(new byte[cs]);
        }
        for (long c = start; c < start + k + n; c++) {
            long ti = c / refEntries;
            int j = uncovered.indexOf(ti);
            if (j >= 0) {
                putRef(blocks.get(j), (int) (c % refEntries), 1);
            } else {
                long boff = refBlockOffset(ti);
                putRef(loadRefBlock(boff), (int) (c % refEntries), 1);
                dirtyRef.add(boff);
            }
        }
        for (int j = 0; j < k; j++) {
            file.writeFully(ByteBuffer.wrap(blocks.get(j)), (start + j) << cb);
        }
        writeDirtyRefBlocks();
        file.flush();
        ByteBuffer tb = ByteBuffer.allocate((int) (n * cs));
        tb.asLongBuffer().put(nt);
        file.writeFully(tb, (start + k) << cb);
        file.flush();
        ByteBuffer hdr = ByteBuffer.allocate(12);
        hdr.putLong(0, (start + k) << cb).putInt(8, (int) n);
        file.writeFully(hdr, 48); // refcount_table_offset, refcount_table_clusters
        file.flush();
        long oldStart = rtStart;
        long oldEnd = rtEnd;
        rtable = nt;
        rtableDirty.clear();
        rtStart = start + k;
        rtEnd = start + k + n;
        hostEnd = rtEnd;
        refUnsynced = false;
        for (int j = 0; j < k; j++) {
            long boff = (start + j) << cb;
            metaClusters.add(start + j);
            cachePut(refCache, boff, blocks.get(j));
        }
        for (long c = oldStart; c < oldEnd; c++) {
            long r = refcount(c);
            if (r > 0) {
                setRefcount(c, r - 1);
            }
        }
        freeHint = Math.min(freeHint, oldStart);
    }
}
