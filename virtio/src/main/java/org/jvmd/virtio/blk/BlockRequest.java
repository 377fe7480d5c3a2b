package org.jvmd.virtio.blk;

import java.io.IOException;

/**
 * One parsed virtio-blk request (struct virtio_blk_req, virtio 1.2 §5.2.6), held from the
 * pop of its chain to its completion. The device keeps one per descriptor head (heads of
 * chains in flight are distinct), so nothing is allocated per request.
 *
 * <p>{@link #execute()} runs on an I/O thread: it calls the backend and records the
 * outcome, and never throws. Everything else runs on the device thread.
 */
public final class BlockRequest {
    /** What the backend must do. */
    public enum Op { READ, WRITE, FLUSH, DISCARD, WRITE_ZEROES }

    final int head;
    final BlockBackend backend;
    final GuestSpans data;
    /** DISCARD / WRITE_ZEROES segments: byte offset, byte length, unmap. */
    final long[] rangeOffset;
    final long[] rangeLength;
    final boolean[] rangeUnmap;
    int ranges;

    Op op;
    int type;
    long sector;
    long statusGpa;
    /** What {@code used.len} says on success: the bytes written into the writable part. */
    int usedLen;
    boolean busy;

    // The outcome, written by execute() on an I/O thread, read after complete().
    int status;
    BlockError error;
    String message;

    BlockRequest(int head, BlockBackend backend, int maxSpans, int maxRanges) {
        this.head = head;
        this.backend = backend;
        this.data = new GuestSpans(maxSpans);
        this.rangeOffset = new long[maxRanges];
        this.rangeLength = new long[maxRanges];
        this.rangeUnmap = new boolean[maxRanges];
    }

    public int head() {
        return head;
    }

    public Op op() {
        return op;
    }

    /** The request's byte offset in the image (IN/OUT). */
    public long offset() {
        return sector << VirtioBlk.SECTOR_SHIFT;
    }

    public GuestSpans data() {
        return data;
    }

    public int status() {
        return status;
    }

    /** Why the request failed, or null. */
    public BlockError error() {
        return error;
    }

    /** The backend's message of a failure, or null. */
    public String message() {
        return message;
    }

    /** Performs the backend operation and records the status; never throws. */
    public void execute() {
        try {
            switch (op) {
                case READ -> backend.read(offset(), data);
                case WRITE -> backend.write(offset(), data);
                case FLUSH -> backend.flush();
                case DISCARD -> {
                    for (int i = 0; i < ranges; i++) {
                        backend.discard(rangeOffset[i], rangeLength[i]);
                    }
                }
                case WRITE_ZEROES -> {
                    for (int i = 0; i < ranges; i++) {
                        backend.writeZeroes(rangeOffset[i], rangeLength[i], rangeUnmap[i]);
                    }
                }
            }
            status = VirtioBlk.S_OK;
        } catch (BlockIoException e) {
            fail(e.reason(), e.getMessage());
        } catch (IOException | RuntimeException e) {
            fail(BlockError.IO_OTHER, String.valueOf(e));
        }
    }

    /**
     * Records the outcome of I/O done for this request outside {@link #execute()} (an
     * io_uring completion in vioblk-proc): {@code failure} null is success.
     */
    public void finish(BlockIoException failure) {
        if (failure == null) {
            status = VirtioBlk.S_OK;
        } else {
            fail(failure.reason(), failure.getMessage());
        }
    }

    void fail(BlockError why, String msg) {
        status = VirtioBlk.S_IOERR;
        error = why;
        message = msg;
    }

    void begin() {
        data.clear();
        ranges = 0;
        op = null;
        type = -1;
        sector = 0;
        statusGpa = -1;
        usedLen = 1;
        status = VirtioBlk.S_OK;
        error = null;
        message = null;
    }

    @Override
    public String toString() {
        return "request " + head + " type " + type + " sector " + sector + " " + data;
    }
}
