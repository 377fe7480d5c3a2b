package org.jvmd.qcow2;

/**
 * What every image format holds alike: the name its messages carry, its guest size and
 * whether it is read-only; and the checks a request passes before it touches the file.
 */
abstract sealed class ImageBase implements DiskImage permits RawImage, Qcow2Image {
    final String name;
    final long size;
    final boolean readOnly;

    ImageBase(String name, long size, boolean readOnly) {
        this.name = name;
        this.size = size;
        this.readOnly = readOnly;
    }

    @Override
    public final long size() {
        return size;
    }

    @Override
    public final boolean readOnly() {
        return readOnly;
    }

    /** Refuses a write, discard or write-zeroes on a read-only image. */
    final void checkWritable() throws ImageException {
        if (readOnly) {
            throw new ImageException(name + ": the image is read-only");
        }
    }

    /** Checks that [offset, offset+length) lies inside the disk. */
    final void checkRange(long offset, long length) throws ImageException {
        DiskImage.checkRange(name, size, offset, length);
    }

    /** {@link #checkWritable} and {@link #checkRange}: a request that changes the disk. */
    final void checkChange(long offset, long length) throws ImageException {
        checkWritable();
        checkRange(offset, length);
    }
}
