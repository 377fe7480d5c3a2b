package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/** Opening files of a chain for tests. */
final class ImageFiles {
    private ImageFiles() {
    }

    static DiskImage openChain(Path top, boolean readOnly) throws IOException {
        return BackingChain.open(BackingChain.resolve(top, null), readOnly);
    }

    static byte[] readAll(DiskImage d) throws IOException {
        byte[] b = new byte[(int) d.size()];
        d.read(0, ByteBuffer.wrap(b));
        return b;
    }

    static List<Layer> layers(Layer... l) {
        return List.of(l);
    }
}
