package org.jvmd.vionet;

import org.jvmd.sys.Errno;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.blk.GuestSpans;

/**
 * A tap in memory, for tests: frames written
 * are kept (header included) in a ring of preallocated slots; frames to be read are queued
 * with {@link #offer}. Reads behave like Linux tun: the full length is returned even when
 * the buffers were too small (the frame is then truncated). Errors can be injected. No
 * allocation per frame.
 */
public final class MemoryTap implements TapIo {
    public static final int SLOT = Vionet.TAP_HDR + Vionet.MAX_FRAME + 64;

    private final GuestMemory memory;
    private final byte[][] out;
    private final int[] outLen;
    private long written;
    private final byte[][] in;
    private final int[] inLen;
    private int inHead;
    private int inCount;
    private int writeErrno;
    private int writeErrors;
    private int readErrno;
    private int readErrors;
    private final byte[] staged = new byte[SLOT];
    private long directReads;

    public MemoryTap(GuestMemory memory, int slots) {
        this.memory = memory;
        this.out = new byte[slots][SLOT];
        this.outLen = new int[slots];
        this.in = new byte[slots][SLOT];
        this.inLen = new int[slots];
    }

    /** Queues a frame (12-byte header first) for the device to read; false if full. */
    public boolean offer(byte[] frame, int off, int len) {
        if (inCount == in.length || len > SLOT) {
            return false;
        }
        int i = (inHead + inCount) % in.length;
        System.arraycopy(frame, off, in[i], 0, len);
        inLen[i] = len;
        inCount++;
        return true;
    }

    public int pendingReads() {
        return inCount;
    }

    /** Frames written so far. */
    public long written() {
        return written;
    }

    /** A copy of the {@code k}-th frame written (0 = first), if still in the ring. */
    public byte[] writtenFrame(long k) {
        if (k < written - out.length || k >= written) {
            throw new IndexOutOfBoundsException("frame " + k + " of " + written);
        }
        int i = (int) (k % out.length);
        return java.util.Arrays.copyOf(out[i], outLen[i]);
    }

    /** The next {@code count} writes fail with {@code -errno}. */
    public void failWrites(int errno, int count) {
        writeErrno = errno;
        writeErrors = count;
    }

    /** The next {@code count} reads fail with {@code -errno}. */
    public void failReads(int errno, int count) {
        readErrno = errno;
        readErrors = count;
    }

    @Override
    public long write(byte[] prefix, int prefixLen, GuestSpans frame) {
        int fault = writeFault();
        if (fault != 0) {
            return fault;
        }
        byte[] slot = out[(int) (written % out.length)];
        System.arraycopy(prefix, 0, slot, 0, prefixLen);
        int at = prefixLen;
        try {
            for (int k = 0; k < frame.count(); k++) {
                int n = Math.min(frame.length(k), slot.length - at);
                memory.read(frame.address(k), slot, at, n);
                at += n;
            }
        } catch (GuestFault f) {
            return -Errno.EFAULT;
        }
        return kept(at);
    }

    @Override
    public long write(byte[] buf, int off, int len) {
        int fault = writeFault();
        if (fault != 0) {
            return fault;
        }
        System.arraycopy(buf, off, out[(int) (written % out.length)], 0, Math.min(len, SLOT));
        kept(Math.min(len, SLOT));
        return len;
    }

    /** -errno when an injected write error is due (it is then used up), else 0. */
    private int writeFault() {
        if (writeErrors > 0) {
            writeErrors--;
            return -writeErrno;
        }
        return 0;
    }

    /** The slot being written holds {@code len} bytes now: one more frame written. */
    private int kept(int len) {
        outLen[(int) (written % out.length)] = len;
        written++;
        return len;
    }

    /** Frames read straight into guest memory ({@link #read(byte[], GuestSpans)}, vionet's direct path). */
    public long directReads() {
        return directReads;
    }

    @Override
    public long read(byte[] hdr, GuestSpans into) {
        int i = takeIn();
        if (i < 0) {
            return i;
        }
        directReads++;
        byte[] f = in[i];
        int len = inLen[i];
        System.arraycopy(f, 0, hdr, 0, Vionet.TAP_HDR);
        int at = Vionet.TAP_HDR;
        try {
            for (int k = 0; k < into.count() && at < len; k++) {
                int n = Math.min(into.length(k), len - at);
                memory.write(into.address(k), f, at, n);
                at += n;
            }
        } catch (GuestFault e) {
            return -Errno.EFAULT;
        }
        return len;
    }

    @Override
    public long read(byte[] buf, int off, int len) {
        int i = takeIn();
        if (i < 0) {
            return i;
        }
        System.arraycopy(in[i], 0, buf, off, Math.min(inLen[i], len));
        return inLen[i];
    }

    /**
     * The slot of the next queued frame, taken off the queue; or -errno: an injected read error
     * (used up), EAGAIN when nothing is queued.
     */
    private int takeIn() {
        if (readErrors > 0) {
            readErrors--;
            return -readErrno;
        }
        if (inCount == 0) {
            return -Errno.EAGAIN;
        }
        int i = inHead;
        inHead = (inHead + 1) % in.length;
        inCount--;
        return i;
    }

    @Override
    public long readStaged(byte[] peek, int peekLen) {
        long n = read(staged, 0, staged.length);
        if (n > 0) {
            System.arraycopy(staged, 0, peek, 0, (int) Math.min(n, peekLen));
        }
        return n;
    }

    @Override
    public void copyStaged(int from, byte[] buf, int off, int n) {
        System.arraycopy(staged, from, buf, off, n);
    }

    @Override
    public void copyStaged(int from, long gpa, int n) throws GuestFault {
        memory.write(gpa, staged, from, n);
    }
}
