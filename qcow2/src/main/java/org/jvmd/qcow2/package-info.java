/**
 * Raw and qcow2 disk images in pure Java (no native code: only module sys may touch it), over
 * files the caller hands in. Used by the disk process (vioblk-proc), vmd (base chain resolution)
 * and vmctl (create, convert).
 *
 * <ul>
 * <li>{@link org.jvmd.qcow2.ImageFile}: the file under an image (pread, pwrite, size,
 *     ftruncate, fdatasync, optional hole punching); the disk process implements it over a
 *     received fd, {@link org.jvmd.qcow2.ChannelImageFile} over a FileChannel.</li>
 * <li>{@link org.jvmd.qcow2.DiskImage}: a disk ({@code size, read, write, flush, discard,
 *     writeZeroes, close}); {@link org.jvmd.qcow2.DiskImage#open} takes the layers (image, then
 *     its bases in order, each a {@link org.jvmd.qcow2.Layer} of file and
 *     {@link org.jvmd.qcow2.ImageFormat}).</li>
 * <li>{@link org.jvmd.qcow2.DiskImage#map}: where a guest range's bytes lie
 *     ({@link org.jvmd.qcow2.Extent}s: a layer's file and offset, zeros, or the rest left to
 *     the image's own read/write), pinned until the {@link org.jvmd.qcow2.Mapping} closes, for
 *     the disk process to move the data on its io_uring.</li>
 * <li>{@link org.jvmd.qcow2.BackingChain#resolve}: for vmd and vmctl, the chain of (path,
 *     format) under a disk, with relative names resolved against the naming image's directory
 *     and loops, missing bases, unknown formats and bases larger than their disk refused.</li>
 * <li>{@link org.jvmd.qcow2.Qcow2Create}: a new empty qcow2 image, optionally over a base.</li>
 * <li>{@link org.jvmd.qcow2.ImageException}: every refusal and every problem with an image's
 *     content, with a message for a person.</li>
 * </ul>
 *
 * The format is QEMU's docs/interop/qcow2.txt; qemu-img is the judge in the tests.
 */
package org.jvmd.qcow2;
