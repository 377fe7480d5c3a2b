package org.jvmd.virtio.blk;

import org.jvmd.bytes.LittleEndian;
import org.jvmd.virtio.DescriptorChain;
import org.jvmd.virtio.GuestFault;

/**
 * Reads one descriptor chain as a virtio-blk request (virtio 1.2 §5.2.6): a 16-byte
 * device-readable header (le32 type, le32 reserved, le64 sector), the data (device-readable
 * for OUT, DISCARD and WRITE_ZEROES, device-writable for IN and GET_ID), and the last
 * device-writable byte for the status. The parser makes no assumption about how the
 * driver cut these into descriptors (§2.6.4, message framing): it works on byte offsets
 * of the chain's readable and writable parts.
 *
 * <p>Every check fails into an outcome, never an exception: a request that has a status
 * byte gets IOERR or UNSUPP in it, one that has none ({@link Outcome#NO_STATUS}) is used
 * with length 0. Not thread-safe: the device thread's.
 */
public final class RequestParser {
    /** What the device does with a parsed request. */
    public enum Outcome {
        /** Valid: hand it to the backend, complete it later. */
        SUBMIT,
        /** Answered already (an error, UNSUPP, or GET_ID): write the status and use it now. */
        DONE,
        /** No status byte: use it with length 0 and count it. */
        NO_STATUS
    }

    private final VioblkLimits limits;
    private final long capacitySectors;
    private final byte[] serial = new byte[VirtioBlk.ID_BYTES];
    private final byte[] header = new byte[VirtioBlk.REQUEST_HEADER_SIZE];
    private final byte[] segment = new byte[VirtioBlk.DISCARD_SEGMENT_SIZE];

    /** {@code serial}: the GET_ID answer; longer than 20 bytes is cut (the field has 20, §5.2.6). */
    public RequestParser(VioblkLimits limits, long capacitySectors, byte[] serial) {
        this.limits = limits;
        this.capacitySectors = capacitySectors;
        System.arraycopy(serial, 0, this.serial, 0, Math.min(serial.length, VirtioBlk.ID_BYTES));
    }

    /**
     * Parses {@code chain} into {@code r}.
     *
     * @param features the negotiated features (DISCARD, WRITE_ZEROES, RO)
     */
    public Outcome parse(DescriptorChain chain, BlockRequest r, long features) {
        r.begin();
        long writable = chain.writableBytes();
        if (writable == 0) {
            r.fail(BlockError.NO_STATUS, "no device-writable status byte");
            return Outcome.NO_STATUS;
        }
        r.statusGpa = lastWritableByte(chain);
        long readable = chain.readableBytes();
        try {
            if (readable < VirtioBlk.REQUEST_HEADER_SIZE) {
                return error(r, BlockError.HEADER_TOO_SHORT);
            }
            chain.gather(0, header, 0, header.length);
            r.type = LittleEndian.get32(header, 0);
            r.sector = LittleEndian.get64(header, 8);
            return switch (r.type) {
                case VirtioBlk.T_IN -> parseIn(chain, r, readable, writable);
                case VirtioBlk.T_OUT -> parseOut(chain, r, readable, writable, features);
                case VirtioBlk.T_FLUSH -> submit(r, BlockRequest.Op.FLUSH);
                case VirtioBlk.T_GET_ID -> getId(chain, r, writable);
                case VirtioBlk.T_DISCARD -> parseRanges(chain, r, readable, features, false);
                case VirtioBlk.T_WRITE_ZEROES -> parseRanges(chain, r, readable, features, true);
                default -> unsupported(r);
            };
        } catch (GuestFault f) {
            // The queue checked every segment when it popped the chain; memory that moved
            // away since is still the guest's fault, and still answered.
            return error(r, BlockError.GUEST_FAULT);
        }
    }

    private Outcome parseIn(DescriptorChain chain, BlockRequest r, long readable, long writable) {
        if (readable != VirtioBlk.REQUEST_HEADER_SIZE) {
            return error(r, BlockError.WRONG_DIRECTION);
        }
        long bytes = writable - 1;
        BlockError bad = carve(chain, chain.readableSegments(), chain.segments(), 0, bytes, r.data);
        if (bad == null) {
            bad = checkRange(r.sector, bytes);
        }
        if (bad != null) {
            return error(r, bad);
        }
        r.usedLen = (int) (bytes + 1);
        return submit(r, BlockRequest.Op.READ);
    }

    private Outcome parseOut(DescriptorChain chain, BlockRequest r, long readable, long writable, long features) {
        if (writable != 1) {
            return error(r, BlockError.WRONG_DIRECTION);
        }
        if (has(features, VirtioBlk.F_RO)) {
            return error(r, BlockError.READ_ONLY);
        }
        long bytes = readable - VirtioBlk.REQUEST_HEADER_SIZE;
        BlockError bad = carve(chain, 0, chain.readableSegments(), VirtioBlk.REQUEST_HEADER_SIZE, bytes, r.data);
        if (bad == null) {
            bad = checkRange(r.sector, bytes);
        }
        if (bad != null) {
            return error(r, bad);
        }
        return submit(r, BlockRequest.Op.WRITE);
    }

    private Outcome getId(DescriptorChain chain, BlockRequest r, long writable) throws GuestFault {
        if (writable - 1 < VirtioBlk.ID_BYTES) {
            return error(r, BlockError.SHORT_ID_BUFFER);
        }
        chain.scatter(0, serial, 0, serial.length);
        r.usedLen = VirtioBlk.ID_BYTES + 1;
        r.status = VirtioBlk.S_OK;
        return Outcome.DONE;
    }

    /** DISCARD / WRITE_ZEROES: an array of struct virtio_blk_discard_write_zeroes (§5.2.6). */
    private Outcome parseRanges(DescriptorChain chain, BlockRequest r, long readable, long features, boolean zeroes)
            throws GuestFault {
        if (has(features, VirtioBlk.F_RO) || !has(features, zeroes ? VirtioBlk.F_WRITE_ZEROES : VirtioBlk.F_DISCARD)) {
            return unsupported(r);
        }
        long payload = readable - VirtioBlk.REQUEST_HEADER_SIZE;
        if (payload == 0 || payload % VirtioBlk.DISCARD_SEGMENT_SIZE != 0) {
            return error(r, BlockError.BAD_SEGMENTS);
        }
        long n = payload / VirtioBlk.DISCARD_SEGMENT_SIZE;
        if (n > (zeroes ? limits.maxWriteZeroesSeg() : limits.maxDiscardSeg()) || n > r.rangeOffset.length) {
            return error(r, BlockError.TOO_MANY_SEGMENTS);
        }
        long maxSectors = zeroes ? limits.maxWriteZeroesSectors() : limits.maxDiscardSectors();
        for (int i = 0; i < n; i++) {
            chain.gather(VirtioBlk.REQUEST_HEADER_SIZE + (long) i * VirtioBlk.DISCARD_SEGMENT_SIZE, segment, 0,
                    segment.length);
            long sector = LittleEndian.get64(segment, 0);
            long sectors = Integer.toUnsignedLong(LittleEndian.get32(segment, 8));
            int flags = LittleEndian.get32(segment, 12);
            // §5.2.6.2: UNSUPP for an unknown flag, and for unmap on a discard.
            int known = zeroes ? VirtioBlk.WRITE_ZEROES_FLAG_UNMAP : 0;
            if ((flags & ~known) != 0) {
                return unsupported(r);
            }
            if (sectors > maxSectors) {
                return error(r, BlockError.TOO_MANY_SECTORS);
            }
            BlockError bad = checkRange(sector, sectors << VirtioBlk.SECTOR_SHIFT);
            if (bad != null) {
                return error(r, bad);
            }
            r.rangeOffset[i] = sector << VirtioBlk.SECTOR_SHIFT;
            r.rangeLength[i] = sectors << VirtioBlk.SECTOR_SHIFT;
            r.rangeUnmap[i] = (flags & VirtioBlk.WRITE_ZEROES_FLAG_UNMAP) != 0;
        }
        r.ranges = (int) n;
        return submit(r, zeroes ? BlockRequest.Op.WRITE_ZEROES : BlockRequest.Op.DISCARD);
    }

    /**
     * Cuts {@code bytes} bytes, starting {@code skip} bytes into segments
     * {@code [from, to)}, into data spans; checks seg_max, size_max and the 512-byte
     * multiple (§5.2.6.1).
     */
    private BlockError carve(DescriptorChain chain, int from, int to, long skip, long bytes, GuestSpans out) {
        if ((bytes & (VirtioBlk.SECTOR_SIZE - 1)) != 0) {
            return BlockError.UNALIGNED_LENGTH;
        }
        long left = bytes;
        int segments = 0;
        for (int i = from; i < to && left > 0; i++) {
            long len = chain.length(i);
            if (skip >= len) {
                skip -= len;
                continue;
            }
            long take = Math.min(len - skip, left);
            if (take > limits.sizeMax()) {
                return BlockError.SEGMENT_TOO_LARGE;
            }
            if (++segments > limits.segMax() || !out.add(chain.address(i) + skip, (int) take)) {
                return BlockError.TOO_MANY_SEGMENTS;
            }
            left -= take;
            skip = 0;
        }
        if (left != 0) {
            throw new IllegalStateException("chain has fewer bytes than it counted: " + chain);
        }
        return null;
    }

    /** {@code [sector, sector + bytes/512)} inside the disk; the sector is unsigned (le64). */
    private BlockError checkRange(long sector, long bytes) {
        long sectors = bytes >>> VirtioBlk.SECTOR_SHIFT;
        if (Long.compareUnsigned(sector, capacitySectors) > 0 || sectors > capacitySectors - sector) {
            return BlockError.OUT_OF_RANGE;
        }
        return null;
    }

    private static long lastWritableByte(DescriptorChain chain) {
        for (int i = chain.segments() - 1; i >= chain.readableSegments(); i--) {
            long len = chain.length(i);
            if (len > 0) {
                return chain.address(i) + len - 1;
            }
        }
        throw new IllegalStateException("writable bytes without a writable segment: " + chain);
    }

    private static Outcome submit(BlockRequest r, BlockRequest.Op op) {
        r.op = op;
        return Outcome.SUBMIT;
    }

    private static Outcome error(BlockRequest r, BlockError why) {
        r.fail(why, null);
        return Outcome.DONE;
    }

    private static Outcome unsupported(BlockRequest r) {
        r.status = VirtioBlk.S_UNSUPP;
        return Outcome.DONE;
    }

    private static boolean has(long features, int bit) {
        return (features & (1L << bit)) != 0;
    }
}
