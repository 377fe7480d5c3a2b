package org.jvmd.vioblk;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.jvmd.qcow2.DiskImage;
import org.jvmd.qcow2.ImageException;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.blk.BlockError;
import org.jvmd.virtio.blk.BlockIoException;
import org.jvmd.virtio.blk.GuestSpans;
import org.jvmd.virtio.blk.SpanBackend;

/**
 * A disk served through the qcow2 library ({@link DiskImage}: a qcow2 image over its
 * read-only base chain, vmd's vioqcow2.c). Each guest span is handed to the image as a
 * direct ByteBuffer over guest memory ({@link MappedGuestMemory#byteBuffer}), so the image
 * reads data clusters into the guest's buffers and writes them from there without a copy
 * in Java (only a partial cluster over a base is assembled on the heap, as it must be).
 * Where vioblk has its io_uring, this is the path only of the reads and writes the image
 * cannot map ({@link UringIo}: allocation, copy-on-write, compressed clusters), of
 * FLUSH, DISCARD and WRITE_ZEROES, and of a lone request served inline.
 *
 * <p>Errors: the file's errno is kept (EIO, ENOSPC counted by name), a problem with the
 * image's content (a corrupt table) is IO_OTHER; the guest gets IOERR for each, and the
 * device goes on.
 */
final class Qcow2Backend extends SpanBackend {
    private final DiskImage image;
    private final MappedGuestMemory memory;

    /** Adopts {@code image} (closed, and so flushed, by {@link #close}). */
    Qcow2Backend(DiskImage image, MappedGuestMemory memory) {
        this.image = image;
        this.memory = memory;
    }

    DiskImage image() {
        return image;
    }

    @Override
    public long size() {
        return image.size();
    }

    /** Each span in turn, as a view of guest memory the image reads into or writes from. */
    @Override
    protected void transfer(long offset, GuestSpans spans, boolean write) throws BlockIoException {
        long off = offset;
        for (int i = 0; i < spans.count(); i++) {
            int len = spans.length(i);
            try {
                ByteBuffer guest = memory.byteBuffer(spans.address(i), len);
                if (write) {
                    image.write(off, guest);
                } else {
                    image.read(off, guest);
                }
            } catch (GuestFault f) {
                throw new BlockIoException(BlockError.GUEST_FAULT, f.getMessage());
            } catch (IOException e) {
                throw failure(e);
            }
            off += len;
        }
    }

    @Override
    public void flush() throws BlockIoException {
        try {
            image.flush();
        } catch (IOException e) {
            throw failure(e);
        }
    }

    @Override
    public void discard(long offset, long length) throws BlockIoException {
        try {
            image.discard(offset, length);
        } catch (IOException e) {
            throw failure(e);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws BlockIoException {
        try {
            image.writeZeroes(offset, length);
        } catch (IOException e) {
            throw failure(e);
        }
    }

    /** The file's errno where there is one (ENOSPC, EIO counted by name); an image problem is IO_OTHER. */
    static BlockIoException failure(IOException e) {
        if (e instanceof BlockIoException b) {
            return b;
        }
        if (e instanceof FdImageFile.FileIoException f) {
            return new BlockIoException(RawBackend.failure(f.call(), f.errno()).reason(), f.getMessage());
        }
        String why = e instanceof ImageException ? e.getMessage() : String.valueOf(e.getMessage());
        return new BlockIoException(BlockError.IO_OTHER, why);
    }

    @Override
    public void close() throws IOException {
        image.close();
    }
}
