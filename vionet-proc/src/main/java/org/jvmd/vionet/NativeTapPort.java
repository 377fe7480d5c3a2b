package org.jvmd.vionet;

import org.jvmd.sys.Errno;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.NativeBuffer;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.net.Tap;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.blk.GuestSpans;

/**
 * The real tap behind {@link TapPort}: readv/writev with the guest ranges turned into host
 * addresses of the mapped guest memory (zero copy), the header and the copied frames in
 * preallocated native buffers. EINTR is retried; everything else is returned as
 * {@code -errno}. No allocation per call.
 */
public final class NativeTapPort implements TapPort {
    private final Tap tap;
    private final MappedGuestMemory memory;
    private final IoVec iov = new IoVec(IoVec.MAX);
    private final NativeBuffer head = new NativeBuffer(64);
    private final NativeBuffer frame = new NativeBuffer(Vionet.TAP_HDR + Vionet.MAX_FRAME + 64);
    /**
     * A last iovec of one byte after the real buffers: Linux tun returns only what it
     * copied, so a frame that did not fit shows as a read that reached this byte.
     */
    private final NativeBuffer overflow = new NativeBuffer(64);

    public NativeTapPort(Tap tap, MappedGuestMemory memory) {
        this.tap = tap;
        this.memory = memory;
    }

    @Override
    public long write(byte[] prefix, int prefixLen, GuestSpans spans) {
        head.put(0, prefix, 0, prefixLen);
        iov.clear();
        iov.add(head, 0, prefixLen);
        if (!addSpans(spans)) {
            return -Errno.EFAULT;
        }
        return writev();
    }

    @Override
    public long write(byte[] buf, int off, int len) {
        frame.put(0, buf, off, len);
        iov.clear();
        iov.add(frame, 0, len);
        return writev();
    }

    @Override
    public long read(byte[] hdr, GuestSpans into) {
        iov.clear();
        iov.add(head, 0, Vionet.TAP_HDR);
        if (!addSpans(into)) {
            return -Errno.EFAULT;
        }
        if (!iov.isFull()) {
            iov.add(overflow, 0, 1);
        }
        long n = readv();
        if (n >= Vionet.TAP_HDR) {
            head.get(0, hdr, 0, Vionet.TAP_HDR);
        }
        return n;
    }

    @Override
    public long read(byte[] buf, int off, int len) {
        int cap = (int) Math.min(len, frame.size());
        iov.clear();
        iov.add(frame, 0, cap);
        iov.add(overflow, 0, 1);
        long n = readv();
        if (n > 0) {
            frame.get(0, buf, off, (int) Math.min(n, cap));
        }
        return n > cap ? len + 1L : n;
    }

    @Override
    public long readStaged(byte[] peek, int peekLen) {
        int cap = Vionet.TAP_HDR + Vionet.MAX_FRAME;
        iov.clear();
        iov.add(frame, 0, cap);
        iov.add(overflow, 0, 1);
        long n = readv();
        if (n > 0) {
            frame.get(0, peek, 0, (int) Math.min(n, Math.min(peekLen, cap)));
        }
        return n;
    }

    @Override
    public void copyStaged(int from, byte[] buf, int off, int n) {
        frame.get(from, buf, off, n);
    }

    @Override
    public void copyStaged(int from, long gpa, int n) throws GuestFault {
        memory.write(gpa, frame, from, n);
    }

    private boolean addSpans(GuestSpans spans) {
        try {
            if (spans.count() > iov.capacity() - iov.count() - 1) {
                return false;   // WorkArea.MAX_SPANS keeps room for the header and the overflow byte
            }
            for (int i = 0; i < spans.count(); i++) {
                iov.add(memory, spans.address(i), spans.length(i));
            }
            return true;
        } catch (GuestFault f) {
            return false;   // a range across two regions: the chain was checked, so never in practice
        }
    }

    private long writev() {
        long n;
        while ((n = tap.writev(iov)) == -Errno.EINTR) {
            // retry
        }
        return n;
    }

    private long readv() {
        long n;
        while ((n = tap.readv(iov)) == -Errno.EINTR) {
            // retry
        }
        return n;
    }
}
