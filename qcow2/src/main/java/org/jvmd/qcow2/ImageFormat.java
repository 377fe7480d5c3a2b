package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;

/** The image formats jvmd serves (vmd's VMDF_RAW and VMDF_QCOW2). */
public enum ImageFormat {
    RAW("raw"),
    QCOW2("qcow2");

    /** qcow2.txt "Header": the magic "QFI\xfb". */
    static final int QCOW2_MAGIC = 0x514649fb;

    private final String word;

    ImageFormat(String word) {
        this.word = word;
    }

    /** The name qemu-img and vmctl use: "raw", "qcow2". */
    public String word() {
        return word;
    }

    /** The format named by a word ("raw", "qcow2"), or null. */
    public static ImageFormat ofWord(String w) {
        for (ImageFormat f : values()) {
            if (f.word.equals(w)) {
                return f;
            }
        }
        return null;
    }

    /** Autodetection by magic, as vmd's parse_disktype: qcow2 if the file starts with "QFI\xfb", else raw. */
    public static ImageFormat detect(ImageFile f) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4);
        f.readOrZero(b, 0);
        return b.flip().getInt() == QCOW2_MAGIC && f.size() >= 4 ? QCOW2 : RAW;
    }
}
