package org.jvmd.virtio.blk;

import java.util.Locale;

/**
 * Why a request did not succeed: the counter keys of {@code DiskStats.errors}. A request
 * with a status byte is answered VIRTIO_BLK_S_IOERR for each of these; one without
 * ({@link #NO_STATUS}, {@link #HEAD_IN_FLIGHT}) is used with length 0.
 */
public enum BlockError {
    /** No device-writable byte at the end of the chain to put the status in (virtio 1.2 §5.2.6). */
    NO_STATUS,
    /** The driver made available a head whose request is still in flight. */
    HEAD_IN_FLIGHT,
    /** Fewer than 16 device-readable bytes: no struct virtio_blk_req header (§5.2.6). */
    HEADER_TOO_SHORT,
    /** Data in the wrong direction: device-readable data for IN, device-writable for OUT (§5.2.6). */
    WRONG_DIRECTION,
    /** A write to a VIRTIO_BLK_F_RO disk (§5.2.6.2: "MUST set the status to IOERR"). */
    READ_ONLY,
    /** IN/OUT data not a multiple of 512 bytes (§5.2.6.1). */
    UNALIGNED_LENGTH,
    /** More data segments than seg_max (§5.2.4). */
    TOO_MANY_SEGMENTS,
    /** A data segment longer than size_max (§5.2.4). */
    SEGMENT_TOO_LARGE,
    /** A sector range past the capacity, or one whose end overflows. */
    OUT_OF_RANGE,
    /** A discard/write-zeroes payload that is empty or not a whole number of 16-byte segments. */
    BAD_SEGMENTS,
    /** A discard/write-zeroes segment above max_discard_sectors / max_write_zeroes_sectors (§5.2.6.2). */
    TOO_MANY_SECTORS,
    /** A GET_ID buffer shorter than the 20 bytes of the serial (§5.2.6). */
    SHORT_ID_BUFFER,
    /** The guest memory of the request could not be written (status or serial). */
    GUEST_FAULT,
    /** The image answered EIO. */
    IO_EIO,
    /** The image's file system is full (ENOSPC, EDQUOT). */
    IO_ENOSPC,
    /** Any other failure of the image. */
    IO_OTHER;

    /** The counter key: the name in lower case ("io_eio"). */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }
}
