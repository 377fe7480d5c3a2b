package org.jvmd.vmm.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A small encoder for the ACPI Machine Language subset a VMM's DSDT needs (ACPI 6.5 §20.2):
 * names, integers, strings, packages, buffers, scopes and devices, plus resource
 * descriptors (§6.4) for _CRS. Each method returns the encoded bytes of one term, so terms
 * nest by concatenation: {@code device("PCI0", name("_HID", eisaId("PNP0A03")), ...)}.
 */
public final class Aml {
    private Aml() {}

    // Opcodes (§20.2.5 / §20.3).
    static final int ZERO_OP = 0x00;
    static final int ONE_OP = 0x01;
    static final int NAME_OP = 0x08;
    static final int BYTE_PREFIX = 0x0a;
    static final int WORD_PREFIX = 0x0b;
    static final int DWORD_PREFIX = 0x0c;
    static final int STRING_PREFIX = 0x0d;
    static final int QWORD_PREFIX = 0x0e;
    static final int SCOPE_OP = 0x10;
    static final int BUFFER_OP = 0x11;
    static final int PACKAGE_OP = 0x12;
    static final int EXT_OP_PREFIX = 0x5b;
    static final int DEVICE_OP = 0x82;
    static final int ONES_OP = 0xff;
    static final int DUAL_NAME_PREFIX = 0x2e;
    static final int MULTI_NAME_PREFIX = 0x2f;
    static final int ROOT_CHAR = '\\';
    static final int PARENT_PREFIX = '^';

    /** Concatenates terms. */
    public static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /**
     * A NameString (§20.2.2): an optional root or parent prefixes, then dot-separated
     * segments of up to four characters, padded with '_'.
     */
    public static byte[] nameString(String path) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        if (path.startsWith("\\")) {
            out.write(ROOT_CHAR);
            i = 1;
        }
        while (i < path.length() && path.charAt(i) == '^') {
            out.write(PARENT_PREFIX);
            i++;
        }
        String rest = path.substring(i);
        String[] segs = rest.isEmpty() ? new String[0] : rest.split("\\.");
        if (segs.length == 0) {
            out.write(0x00); // NullName
        } else if (segs.length == 2) {
            out.write(DUAL_NAME_PREFIX);
        } else if (segs.length > 2) {
            out.write(MULTI_NAME_PREFIX);
            out.write(segs.length);
        }
        for (String s : segs) {
            out.writeBytes(nameSeg(s));
        }
        return out.toByteArray();
    }

    static byte[] nameSeg(String s) {
        if (s.isEmpty() || s.length() > 4) {
            throw new IllegalArgumentException("bad name segment '" + s + "'");
        }
        byte[] seg = {'_', '_', '_', '_'};
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
            if (!ok) {
                throw new IllegalArgumentException("bad name segment '" + s + "'");
            }
            seg[i] = (byte) c;
        }
        return seg;
    }

    /**
     * PkgLength (§20.2.4) for {@code contentLength} bytes that follow it: the encoded
     * length counts the PkgLength bytes themselves.
     */
    static byte[] pkgLength(int contentLength) {
        for (int n = 1; n <= 4; n++) {
            int total = contentLength + n;
            if (n == 1 && total < 0x40) {
                return new byte[] {(byte) total};
            }
            if (n > 1 && total < (1 << (4 + 8 * (n - 1)))) {
                byte[] b = new byte[n];
                b[0] = (byte) (((n - 1) << 6) | (total & 0x0f));
                for (int i = 1; i < n; i++) {
                    b[i] = (byte) (total >>> (4 + 8 * (i - 1)));
                }
                return b;
            }
        }
        throw new IllegalArgumentException("package too long: " + contentLength);
    }

    /** An integer constant in its shortest encoding (§20.2.3). */
    public static byte[] integer(long v) {
        if (v == 0) {
            return new byte[] {ZERO_OP};
        }
        if (v == 1) {
            return new byte[] {ONE_OP};
        }
        if (v > 0 && v <= 0xff) {
            return new byte[] {BYTE_PREFIX, (byte) v};
        }
        if (v > 0 && v <= 0xffff) {
            return new byte[] {WORD_PREFIX, (byte) v, (byte) (v >> 8)};
        }
        if (v > 0 && v <= 0xffffffffL) {
            return cat(new byte[] {DWORD_PREFIX}, le(v, 4));
        }
        return cat(new byte[] {QWORD_PREFIX}, le(v, 8));
    }

    /** A string constant (ASCII, NUL-terminated). */
    public static byte[] string(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < 1 || s.charAt(i) > 0x7f) {
                throw new IllegalArgumentException("AML strings are ASCII without NUL");
            }
        }
        return cat(new byte[] {STRING_PREFIX}, s.getBytes(StandardCharsets.US_ASCII), new byte[] {0});
    }

    /**
     * A compressed EISA ID ("PNP0A03" → 0x030AD041) as a DWord integer (§19.6.42 EISAID):
     * three letters of five bits each, then four hex digits, stored big-endian.
     */
    public static long eisaIdValue(String id) {
        if (id.length() != 7) {
            throw new IllegalArgumentException("EISA ID " + id);
        }
        int vendor = 0;
        for (int i = 0; i < 3; i++) {
            char c = id.charAt(i);
            if (c < 'A' || c > 'Z') {
                throw new IllegalArgumentException("EISA ID " + id);
            }
            vendor = (vendor << 5) | (c - 0x40);
        }
        int product = Integer.parseInt(id.substring(3), 16);
        int b0 = vendor >> 8;
        int b1 = vendor & 0xff;
        int b2 = product >> 8;
        int b3 = product & 0xff;
        return (b0 | b1 << 8 | b2 << 16 | (long) b3 << 24) & 0xffffffffL;
    }

    public static byte[] eisaId(String id) {
        return cat(new byte[] {DWORD_PREFIX}, le(eisaIdValue(id), 4));
    }

    /** Name(name, data) (§20.2.5.1). */
    public static byte[] name(String name, byte[] data) {
        return cat(new byte[] {NAME_OP}, nameString(name), data);
    }

    /** Scope(name) { terms } (§20.2.5.1). */
    public static byte[] scope(String name, byte[]... terms) {
        byte[] body = cat(nameString(name), cat(terms));
        return cat(new byte[] {SCOPE_OP}, pkgLength(body.length), body);
    }

    /** Device(name) { terms } (§20.2.5.2). */
    public static byte[] device(String name, byte[]... terms) {
        byte[] body = cat(nameString(name), cat(terms));
        return cat(new byte[] {EXT_OP_PREFIX, (byte) DEVICE_OP}, pkgLength(body.length), body);
    }

    /** Package() { elements } with at most 255 elements (§20.2.5.4). */
    public static byte[] pkg(byte[]... elements) {
        if (elements.length > 255) {
            throw new IllegalArgumentException("package of " + elements.length);
        }
        byte[] body = cat(new byte[] {(byte) elements.length}, cat(elements));
        return cat(new byte[] {PACKAGE_OP}, pkgLength(body.length), body);
    }

    /** Buffer() { bytes } (§20.2.5.4). */
    public static byte[] buffer(byte[] bytes) {
        byte[] body = cat(integer(bytes.length), bytes);
        return cat(new byte[] {BUFFER_OP}, pkgLength(body.length), body);
    }

    // ---- resource descriptors (§6.4) ----

    /** ResourceTemplate() { descriptors }: a buffer ending with the End Tag. */
    public static byte[] resourceTemplate(byte[]... descriptors) {
        return buffer(cat(cat(descriptors), new byte[] {0x79, 0x00})); // End Tag, checksum 0 = none
    }

    /** IO(Decode16, min, max, align, length): I/O port descriptor (§6.4.2.5). */
    public static byte[] io(int min, int max, int align, int length) {
        return new byte[] {
            0x47, 0x01, (byte) min, (byte) (min >> 8), (byte) max, (byte) (max >> 8), (byte) align, (byte) length
        };
    }

    /** IRQNoFlags() { irqs }: edge-triggered, active-high ISA IRQs (§6.4.2.1). */
    public static byte[] irqNoFlags(int... irqs) {
        int mask = 0;
        for (int irq : irqs) {
            if (irq < 0 || irq > 15) {
                throw new IllegalArgumentException("ISA IRQ " + irq);
            }
            mask |= 1 << irq;
        }
        return new byte[] {0x22, (byte) mask, (byte) (mask >> 8)};
    }

    static final int SPACE_MEMORY = 0;
    static final int SPACE_IO = 1;
    static final int SPACE_BUS = 2;
    /** General flags: producer, positive decode, minimum and maximum fixed. */
    static final int PRODUCER_FIXED = 0x0c;

    /** WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, len) (§6.4.3.5.3). */
    public static byte[] wordBusNumber(int min, int max) {
        return wordAddress(SPACE_BUS, 0, min, max);
    }

    /** WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, len). */
    public static byte[] wordIo(int min, int max) {
        return wordAddress(SPACE_IO, 0x03, min, max);
    }

    private static byte[] wordAddress(int type, int typeFlags, int min, int max) {
        return cat(
                new byte[] {(byte) 0x88, 0x0d, 0x00, (byte) type, PRODUCER_FIXED, (byte) typeFlags},
                le(0, 2), le(min, 2), le(max, 2), le(0, 2), le(max - min + 1, 2));
    }

    /** DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...) (§6.4.3.5.2). */
    public static byte[] dwordMemory(long min, long max) {
        return cat(
                new byte[] {(byte) 0x87, 0x17, 0x00, SPACE_MEMORY, PRODUCER_FIXED, 0x01},
                le(0, 4), le(min, 4), le(max, 4), le(0, 4), le(max - min + 1, 4));
    }

    /** QWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...) (§6.4.3.5.1). */
    public static byte[] qwordMemory(long min, long max) {
        return cat(
                new byte[] {(byte) 0x8a, 0x2b, 0x00, SPACE_MEMORY, PRODUCER_FIXED, 0x01},
                le(0, 8), le(min, 8), le(max, 8), le(0, 8), le(max - min + 1, 8));
    }

    static byte[] le(long v, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (v >>> (8 * i));
        }
        return b;
    }
}
