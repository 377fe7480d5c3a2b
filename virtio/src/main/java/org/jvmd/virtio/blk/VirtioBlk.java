package org.jvmd.virtio.blk;

/**
 * virtio-blk constants shared by the guest-visible half in vmm-proc (configuration space,
 * offered features) and the device process (request handling). Virtio 1.2 §5.2.
 */
public final class VirtioBlk {
    private VirtioBlk() {}

    /** virtio 1.2 §5: device ID 2, block device. */
    public static final int DEVICE_TYPE = 2;
    /** One request queue (no VIRTIO_BLK_F_MQ). */
    public static final int REQUEST_QUEUE = 0;

    // Feature bits, virtio 1.2 §5.2.3.
    public static final int F_SIZE_MAX = 1;
    public static final int F_SEG_MAX = 2;
    public static final int F_GEOMETRY = 4;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_TOPOLOGY = 10;
    public static final int F_CONFIG_WCE = 11;
    public static final int F_MQ = 12;
    public static final int F_DISCARD = 13;
    public static final int F_WRITE_ZEROES = 14;

    // Request types, virtio 1.2 §5.2.6.
    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;
    public static final int T_DISCARD = 11;
    public static final int T_WRITE_ZEROES = 13;

    // Status byte, virtio 1.2 §5.2.6.
    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;

    /** The unit of {@code sector} and {@code capacity}, whatever blk_size says (§5.2.6). */
    public static final int SECTOR_SIZE = 512;
    public static final int SECTOR_SHIFT = 9;
    /** struct virtio_blk_req's header: le32 type, le32 reserved, le64 sector (§5.2.6). */
    public static final int REQUEST_HEADER_SIZE = 16;
    /** GET_ID writes a serial of at most 20 bytes, NUL-padded (§5.2.6). */
    public static final int ID_BYTES = 20;
    /** struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags (§5.2.6). */
    public static final int DISCARD_SEGMENT_SIZE = 16;
    /** The unmap bit of a WRITE_ZEROES segment's flags (§5.2.6). */
    public static final int WRITE_ZEROES_FLAG_UNMAP = 1;

    // struct virtio_blk_config offsets, virtio 1.2 §5.2.4.
    public static final int CONFIG_CAPACITY = 0;          // le64
    public static final int CONFIG_SIZE_MAX = 8;          // le32
    public static final int CONFIG_SEG_MAX = 12;          // le32
    public static final int CONFIG_GEOMETRY = 16;         // le16 cylinders, u8 heads, u8 sectors
    public static final int CONFIG_BLK_SIZE = 20;         // le32
    public static final int CONFIG_TOPOLOGY = 24;         // u8, u8, le16, le32 (8 bytes)
    public static final int CONFIG_WRITEBACK = 32;        // u8
    public static final int CONFIG_NUM_QUEUES = 34;       // le16 (after one unused byte)
    public static final int CONFIG_MAX_DISCARD_SECTORS = 36;       // le32
    public static final int CONFIG_MAX_DISCARD_SEG = 40;           // le32
    public static final int CONFIG_DISCARD_SECTOR_ALIGNMENT = 44;  // le32
    public static final int CONFIG_MAX_WRITE_ZEROES_SECTORS = 48;  // le32
    public static final int CONFIG_MAX_WRITE_ZEROES_SEG = 52;      // le32
    public static final int CONFIG_WRITE_ZEROES_MAY_UNMAP = 56;    // u8
    /** Through write_zeroes_may_unmap plus its 3 unused bytes (§5.2.4). */
    public static final int CONFIG_SIZE = 60;

    /** The features a jvmd disk offers, besides VERSION_1 and the ring features. */
    public static long offeredFeatures(boolean readOnly) {
        long f = 1L << F_SIZE_MAX | 1L << F_SEG_MAX | 1L << F_BLK_SIZE | 1L << F_FLUSH;
        if (readOnly) {
            f |= 1L << F_RO;
        } else {
            f |= 1L << F_DISCARD | 1L << F_WRITE_ZEROES;
        }
        return f;
    }
}
