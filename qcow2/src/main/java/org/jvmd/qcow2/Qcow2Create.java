package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Writes a new, empty qcow2 image (qemu-img create's layout: header, refcount table, refcount
 * block(s), L1 table, each refcounted once), optionally over a base.
 */
public final class Qcow2Create {
    /** QEMU's default cluster size: 64 KiB. */
    public static final int DEFAULT_CLUSTER_BITS = 16;

    /** version 2 or 3; clusterBits 9..21; refcountOrder 0..6 (4 for version 2). */
    public record Options(int version, int clusterBits, int refcountOrder) {
        public static final Options DEFAULT = new Options(3, DEFAULT_CLUSTER_BITS, 4);
    }

    private Qcow2Create() {
    }

    /** A version 3 image with 64 KiB clusters; backingName/backingFormat may be null. */
    public static void create(ImageFile f, long size, String backingName, ImageFormat backingFormat)
            throws IOException {
        create(f, size, backingName, backingFormat, Options.DEFAULT);
    }

    public static void create(ImageFile f, long size, String backingName, ImageFormat backingFormat, Options o)
            throws IOException {
        if (o.version() != 2 && o.version() != 3) {
            throw new ImageException("qcow2 version must be 2 or 3");
        }
        if (o.clusterBits() < Qcow2Header.MIN_CLUSTER_BITS || o.clusterBits() > Qcow2Header.MAX_CLUSTER_BITS) {
            throw new ImageException("cluster size must be 512 bytes to 2 MiB");
        }
        if (o.refcountOrder() < 0 || o.refcountOrder() > 6 || (o.version() == 2 && o.refcountOrder() != 4)) {
            throw new ImageException("invalid refcount order " + o.refcountOrder());
        }
        if (size < 0 || size > Qcow2Header.MAX_SIZE) {
            throw new ImageException("invalid size " + size);
        }
        int cb = o.clusterBits();
        long cs = 1L << cb;
        long l1Entries = Qcow2Header.ceilDiv(Qcow2Header.ceilDiv(size, cs), cs / 8);
        if (l1Entries * 8 > Qcow2Header.MAX_L1_BYTES) {
            throw new ImageException("size " + size + " is too large for " + cs + "-byte clusters");
        }
        long l1Clusters = Math.max(1, Qcow2Header.ceilDiv(l1Entries * 8, cs));
        long refEntries = (cs * 8) >>> o.refcountOrder();
        // header + refcount table + refcount blocks + L1, every cluster counted by the blocks
        long tableClusters = 1;
        long blocks = 1;
        while (true) {
            long total = 1 + tableClusters + blocks + l1Clusters;
            long needBlocks = Qcow2Header.ceilDiv(total, refEntries);
            long needTable = Qcow2Header.ceilDiv(needBlocks * 8, cs);
            if (needBlocks == blocks && needTable == tableClusters) {
                break;
            }
            blocks = needBlocks;
            tableClusters = needTable;
        }
        long tableOff = cs;
        long blocksOff = tableOff + tableClusters * cs;
        long l1Off = blocksOff + blocks * cs;
        long total = 1 + tableClusters + blocks + l1Clusters;

        ByteBuffer hdr = ByteBuffer.allocate((int) cs);
        int headerLength = o.version() == 2 ? Qcow2Header.V2_LENGTH : Qcow2Header.V3_MIN_LENGTH;
        hdr.putInt(0, ImageFormat.QCOW2_MAGIC).putInt(4, o.version());
        hdr.putInt(20, cb).putLong(24, size).putInt(32, 0);
        hdr.putInt(36, (int) l1Entries).putLong(40, l1Off);
        hdr.putLong(48, tableOff).putInt(56, (int) tableClusters);
        hdr.putInt(60, 0).putLong(64, 0);
        if (o.version() == 3) {
            hdr.putInt(96, o.refcountOrder()).putInt(100, headerLength);
        }
        int pos = headerLength;
        if (backingName != null) {
            byte[] bn = backingName.getBytes(StandardCharsets.UTF_8);
            if (bn.length == 0 || bn.length > Qcow2Header.MAX_BACKING_NAME) {
                throw new ImageException("base image name must be 1 to 1023 bytes long");
            }
            if (backingFormat != null) {
                byte[] fmt = backingFormat.word().getBytes(StandardCharsets.US_ASCII);
                hdr.putInt(pos, Qcow2Header.EXT_BACKING_FORMAT).putInt(pos + 4, fmt.length);
                hdr.put(pos + 8, fmt);
                pos += 8 + ((fmt.length + 7) & ~7);
            }
            hdr.putInt(pos, Qcow2Header.EXT_END).putInt(pos + 4, 0);
            pos += 8;
            if (pos + bn.length > cs) {
                throw new ImageException("base image name does not fit in the header cluster");
            }
            hdr.put(pos, bn);
            hdr.putLong(8, pos).putInt(16, bn.length);
        }
        f.setSize(0);
        f.writeFully(hdr, 0);
        ByteBuffer table = ByteBuffer.allocate((int) (tableClusters * cs));
        for (int i = 0; i < blocks; i++) {
            table.putLong(8 * i, blocksOff + i * cs);
        }
        f.writeFully(table, tableOff);
        byte[] blk = new byte[(int) (blocks * cs)];
        for (long c = 0; c < total; c++) {
            setRef(blk, o.refcountOrder(), c, 1);
        }
        f.writeFully(ByteBuffer.wrap(blk), blocksOff);
        f.setSize(l1Off + l1Clusters * cs);
        f.flush();
    }

    private static void setRef(byte[] b, int order, long i, long v) {
        int bits = 1 << order;
        long bit = i * bits;
        if (bits < 8) {
            int idx = (int) (bit >>> 3);
            b[idx] = (byte) (b[idx] | (v << (bit & 7)));
            return;
        }
        int bytes = bits / 8;
        int at = (int) (bit >>> 3);
        for (int k = 0; k < bytes; k++) {
            b[at + k] = (byte) (v >>> (8 * (bytes - 1 - k)));
        }
    }
}
