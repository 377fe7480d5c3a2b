package org.jvmd.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** An {@link ImageFile} over a FileChannel: for vmctl, tools and tests (the disk process has its own over an fd). */
public final class ChannelImageFile implements ImageFile {
    private final FileChannel ch;
    private final String name;

    public ChannelImageFile(FileChannel ch, String name) {
        this.ch = ch;
        this.name = name;
    }

    /** Opens an existing file, read-only or read-write. */
    public static ChannelImageFile open(Path p, boolean readOnly) throws IOException {
        FileChannel ch = readOnly ? FileChannel.open(p, StandardOpenOption.READ)
                : FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new ChannelImageFile(ch, p.toString());
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        return ch.read(dst, position);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        return ch.write(src, position);
    }

    @Override
    public long size() throws IOException {
        return ch.size();
    }

    @Override
    public void setSize(long size) throws IOException {
        long now = ch.size();
        if (size < now) {
            ch.truncate(size);
        } else if (size > now) {
            ch.write(ByteBuffer.allocate(1), size - 1);
        }
    }

    @Override
    public void flush() throws IOException {
        ch.force(false);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
