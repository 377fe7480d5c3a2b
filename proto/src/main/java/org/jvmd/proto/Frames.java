package org.jvmd.proto;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Message;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.List;

/**
 * The one framing of every jvmd channel: a protobuf message preceded by its length as a
 * varint, never longer than a cap. On SOCK_SEQPACKET each packet holds exactly one frame;
 * on the stream control socket frames follow each other.
 *
 * <p>Descriptors travel beside a frame as SCM_RIGHTS; the message's {@code fds} field
 * names each one ({@link FdSlot}), and {@link #checkFds} rejects a frame whose
 * description and attachment disagree.
 */
public final class Frames {
    /** Default cap on a frame's body: control messages are small. */
    public static final int MAX_FRAME = 1 << 20;
    /** Longest varint prefix for a 32-bit length. */
    public static final int MAX_PREFIX = 5;
    /** What a stream read allocates for a body before any of it has arrived. */
    static final int FIRST_CHUNK = 4096;

    private Frames() {}

    /** Encodes {@code m} as one frame; fails if it is larger than {@code cap}. */
    public static byte[] encode(MessageLite m, int cap) throws FrameException {
        int size = m.getSerializedSize();
        if (size > cap) {
            throw new FrameException("frame too large: " + size + " bytes, cap " + cap);
        }
        byte[] out = new byte[CodedOutputStream.computeUInt32SizeNoTag(size) + size];
        CodedOutputStream cos = CodedOutputStream.newInstance(out);
        try {
            cos.writeUInt32NoTag(size);
            m.writeTo(cos);
            cos.checkNoSpaceLeft();
        } catch (IOException e) {
            throw new FrameException("frame encoding failed", e);
        }
        return out;
    }

    public static byte[] encode(MessageLite m) throws FrameException {
        return encode(m, MAX_FRAME);
    }

    /**
     * Decodes one whole frame held in {@code buf[0..len)}: the declared length must match
     * exactly what arrived and stay under {@code cap}.
     */
    public static <M> M decode(byte[] buf, int len, Parser<M> parser, int cap) throws FrameException {
        if (len <= 0) {
            throw new FrameException("empty frame");
        }
        CodedInputStream in = CodedInputStream.newInstance(buf, 0, len);
        int declared;
        try {
            declared = in.readRawVarint32();
        } catch (IOException e) {
            throw new FrameException("garbage frame: bad length prefix");
        }
        if (declared < 0 || declared > cap) {
            throw new FrameException("frame too large: declares " + Integer.toUnsignedString(declared)
                    + " bytes, cap " + cap);
        }
        int body = len - in.getTotalBytesRead();
        if (body < declared) {
            throw new FrameException("frame truncated: declares " + declared + " bytes, got " + body);
        }
        if (body > declared) {
            throw new FrameException("garbage frame: " + (body - declared) + " bytes after the message");
        }
        return parseBody(buf, len - body, declared, parser);
    }

    public static <M> M decode(byte[] buf, int len, Parser<M> parser) throws FrameException {
        return decode(buf, len, parser, MAX_FRAME);
    }

    /** Writes one frame to a stream. */
    public static void write(OutputStream out, MessageLite m) throws IOException {
        out.write(encode(m));
        out.flush();
    }

    /**
     * Reads one frame from a stream. Returns {@code null} on a clean end of stream before
     * the first byte; a stream that ends inside a frame is a truncated frame.
     */
    public static <M> M read(InputStream in, Parser<M> parser, int cap) throws IOException {
        int declared = 0;
        for (int shift = 0, i = 0; ; shift += 7, i++) {
            int b = in.read();
            if (b < 0) {
                if (i == 0) {
                    return null;
                }
                throw new FrameException("frame truncated inside its length prefix");
            }
            if (i == MAX_PREFIX - 1 && (b & 0xf0) != 0) {
                throw new FrameException("garbage frame: bad length prefix");
            }
            declared |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                break;
            }
        }
        if (declared < 0 || declared > cap) {
            throw new FrameException("frame too large: declares " + Integer.toUnsignedString(declared)
                    + " bytes, cap " + cap);
        }
        // The body grows as its bytes arrive: a peer that declares a large frame and stalls
        // holds what it sent (at most twice that), not the cap.
        byte[] body = new byte[Math.min(declared, FIRST_CHUNK)];
        int got = 0;
        while (got < declared) {
            if (got == body.length) {
                body = Arrays.copyOf(body, (int) Math.min(declared, 2L * body.length));
            }
            int n = in.read(body, got, body.length - got);
            if (n < 0) {
                throw new FrameException("frame truncated: declares " + declared + " bytes, got " + got,
                        new EOFException());
            }
            got += n;
        }
        return parseBody(body, 0, declared, parser);
    }

    public static <M> M read(InputStream in, Parser<M> parser) throws IOException {
        return read(in, parser, MAX_FRAME);
    }

    /** A frame must describe exactly the descriptors that came with it. */
    public static void checkFds(List<FdSlot> described, int attached) throws FrameException {
        if (described.size() != attached) {
            throw new FrameException("frame describes " + described.size() + " fds but carries " + attached);
        }
        for (FdSlot s : described) {
            if (s.getRole() == FdRole.FD_UNSPECIFIED || s.getRole() == FdRole.UNRECOGNIZED) {
                throw new FrameException("frame carries an fd of unknown role");
            }
        }
    }

    private static <M> M parseBody(byte[] buf, int off, int len, Parser<M> parser) throws FrameException {
        M m;
        try {
            m = parser.parseFrom(buf, off, len);
        } catch (InvalidProtocolBufferException e) {
            throw new FrameException("garbage frame: " + e.getMessage(), e);
        }
        // Every peer speaks the same schema: a field we do not know is garbage, not news.
        // Looked for in a DynamicMessage of the same bytes: it walks the descriptors alone,
        // where the generated message's getAllFields would first build its reflection
        // accessors (a Method lookup per field, most of a short-lived vmctl's run).
        if (m instanceof Message msg) {
            DynamicMessage d;
            try {
                d = DynamicMessage.parseFrom(msg.getDescriptorForType(), CodedInputStream.newInstance(buf, off, len));
            } catch (InvalidProtocolBufferException e) {
                throw new FrameException("garbage frame: " + e.getMessage(), e);
            } catch (IOException e) {
                throw new FrameException("garbage frame", e);
            }
            if (hasUnknownFields(d)) {
                throw new FrameException("garbage frame: unknown fields in " + msg.getDescriptorForType().getName());
            }
        }
        return m;
    }

    private static boolean hasUnknownFields(Message m) {
        if (!m.getUnknownFields().asMap().isEmpty()) {
            return true;
        }
        for (var e : m.getAllFields().entrySet()) {
            FieldDescriptor f = e.getKey();
            if (f.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
                continue;
            }
            if (f.isMapField()) {
                continue;
            }
            if (f.isRepeated()) {
                for (Object o : (List<?>) e.getValue()) {
                    if (hasUnknownFields((Message) o)) {
                        return true;
                    }
                }
            } else if (hasUnknownFields((Message) e.getValue())) {
                return true;
            }
        }
        return false;
    }
}
