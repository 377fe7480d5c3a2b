package org.jvmd.it.blk;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.sys.proc.Shed;

/** What {@link BlkSim#start} sets up: the image, the queue, and how vioblk-proc is started. */
public final class BlkOptions {
    Path image;
    boolean readOnly;
    String serial = "jvmd-blksim";
    String title = "blk-sim/vioblk0";
    String user = Shed.DEFAULT_USER;
    Path chroot;
    Path vioblkLog;
    String classpath;
    final List<String> jvmOptions = new ArrayList<>();
    long readyTimeoutMillis = 30_000;
    int queueSize = 256;
    int maxDepth = 32;
    int bufferBytes = 1 << 20;
    int segmentBytes;
    boolean indirect = true;
    boolean eventIdx = true;

    /** The image file (required); the simulator opens it as vmd would, O_RDWR or O_RDONLY. */
    public BlkOptions image(Path p) {
        this.image = p;
        return this;
    }

    /** Open the image read-only and tell vioblk so (VIRTIO_BLK_F_RO). */
    public BlkOptions readOnly(boolean ro) {
        this.readOnly = ro;
        return this;
    }

    /** The GET_ID answer, at most 20 bytes. */
    public BlkOptions serial(String s) {
        this.serial = s;
        return this;
    }

    /** vioblk's process title, e.g. {@code it/x/vioblk0}. */
    public BlkOptions title(String t) {
        this.title = t;
        return this;
    }

    /** The user vioblk drops to (default {@value Shed#DEFAULT_USER}). */
    public BlkOptions user(String u) {
        this.user = u;
        return this;
    }

    /** The empty directory vioblk chroots into; default: a fresh temporary one, removed on close. */
    public BlkOptions chroot(Path p) {
        this.chroot = p;
        return this;
    }

    /** vioblk's stdout+stderr; default: this process's. */
    public BlkOptions vioblkLog(Path p) {
        this.vioblkLog = p;
        return this;
    }

    /** vioblk's classpath; default {@link VioblkSpawn#classpath()}. */
    public BlkOptions classpath(String cp) {
        this.classpath = cp;
        return this;
    }

    /** Extra JVM options for vioblk, after its own. */
    public BlkOptions jvmOption(String opt) {
        this.jvmOptions.add(opt);
        return this;
    }

    public BlkOptions readyTimeoutMillis(long ms) {
        this.readyTimeoutMillis = ms;
        return this;
    }

    /** Ring size, a power of two (default 256, Linux virtio-blk's usual). */
    public BlkOptions queueSize(int n) {
        if (n <= 0 || (n & (n - 1)) != 0 || n > 32768) {
            throw new IllegalArgumentException("queue size " + n + " is not a power of two up to 32768");
        }
        this.queueSize = n;
        return this;
    }

    /** The deepest queue depth a run may ask for: one request slot (header, buffer, status) each. */
    public BlkOptions maxDepth(int n) {
        if (n <= 0) {
            throw new IllegalArgumentException("depth " + n);
        }
        this.maxDepth = n;
        return this;
    }

    /** The data buffer of each request slot (default 1 MiB): the largest request. */
    public BlkOptions bufferBytes(int n) {
        if (n < 4096 || n % 4096 != 0) {
            throw new IllegalArgumentException("buffer " + n + " is not a multiple of 4096");
        }
        this.bufferBytes = n;
        return this;
    }

    /**
     * Data segments of at most this many bytes per descriptor (0, the default: as large as
     * the device's size_max allows), as a guest whose pages are scattered would send.
     */
    public BlkOptions segmentBytes(int n) {
        this.segmentBytes = n;
        return this;
    }

    /** Ack VIRTIO_F_INDIRECT_DESC (default on): chains of more than one buffer go through indirect tables. */
    public BlkOptions indirect(boolean on) {
        this.indirect = on;
        return this;
    }

    /** Ack VIRTIO_F_EVENT_IDX (default on). */
    public BlkOptions eventIdx(boolean on) {
        this.eventIdx = on;
        return this;
    }
}
