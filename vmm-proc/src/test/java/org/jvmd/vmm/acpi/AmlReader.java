package org.jvmd.vmm.acpi;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decodes the AML subset {@link Aml} emits (Scope, Device, Name with integers, strings,
 * buffers and packages) into a map from absolute path ("\_SB_.PCI0._HID") to value, so
 * tests check the namespace rather than byte offsets. Anything else is an error: the
 * encoder emitting an opcode the reader does not know fails the test.
 */
final class AmlReader {
    final Map<String, Object> names = new LinkedHashMap<>();
    final List<String> devices = new ArrayList<>();
    private final byte[] b;
    private int p;

    private AmlReader(byte[] aml) {
        this.b = aml;
    }

    /** Reads a DSDT/SSDT body (after the 36-byte header). */
    static AmlReader read(byte[] table) {
        AmlReader r = new AmlReader(table);
        r.p = AcpiTables.HEADER;
        r.termList(table.length, "\\");
        return r;
    }

    private int u8() {
        return b[p++] & 0xff;
    }

    private int pkgLength() {
        int start = p;
        int lead = u8();
        int n = lead >>> 6;
        if (n == 0) {
            return start + (lead & 0x3f);
        }
        int len = lead & 0x0f;
        for (int i = 0; i < n; i++) {
            len |= u8() << (4 + 8 * i);
        }
        return start + len;
    }

    private String nameString(String scope) {
        StringBuilder prefix = new StringBuilder();
        String base = scope;
        if (b[p] == '\\') {
            p++;
            base = "\\";
        }
        while (b[p] == '^') {
            p++;
            base = base.substring(0, Math.max(1, base.lastIndexOf('.')));
        }
        int count;
        int lead = u8();
        if (lead == 0) {
            count = 0;
        } else if (lead == Aml.DUAL_NAME_PREFIX) {
            count = 2;
        } else if (lead == Aml.MULTI_NAME_PREFIX) {
            count = u8();
        } else {
            p--;
            count = 1;
        }
        for (int i = 0; i < count; i++) {
            if (i > 0) {
                prefix.append('.');
            }
            prefix.append(new String(b, p, 4, StandardCharsets.US_ASCII));
            p += 4;
        }
        return base.equals("\\") ? "\\" + prefix : base + "." + prefix;
    }

    private void termList(int end, String scope) {
        while (p < end) {
            int op = u8();
            switch (op) {
                case Aml.SCOPE_OP -> {
                    int e = pkgLength();
                    termList(e, nameString(scope));
                }
                case Aml.EXT_OP_PREFIX -> {
                    int ext = u8();
                    if (ext != Aml.DEVICE_OP) {
                        throw new IllegalStateException("ext op " + ext);
                    }
                    int e = pkgLength();
                    String dev = nameString(scope);
                    devices.add(dev);
                    termList(e, dev);
                }
                case Aml.NAME_OP -> {
                    String n = nameString(scope);
                    names.put(n, data());
                }
                default -> throw new IllegalStateException("opcode 0x" + Integer.toHexString(op) + " at " + (p - 1));
            }
        }
        if (p != end) {
            throw new IllegalStateException("term list overran its package: " + p + " > " + end);
        }
    }

    private long le(int n) {
        long v = 0;
        for (int i = 0; i < n; i++) {
            v |= (long) u8() << (8 * i);
        }
        return v;
    }

    private Object data() {
        int op = u8();
        return switch (op) {
            case Aml.ZERO_OP -> 0L;
            case Aml.ONE_OP -> 1L;
            case Aml.ONES_OP -> -1L;
            case Aml.BYTE_PREFIX -> le(1);
            case Aml.WORD_PREFIX -> le(2);
            case Aml.DWORD_PREFIX -> le(4);
            case Aml.QWORD_PREFIX -> le(8);
            case Aml.STRING_PREFIX -> {
                int s = p;
                while (b[p] != 0) {
                    p++;
                }
                String str = new String(b, s, p - s, StandardCharsets.US_ASCII);
                p++;
                yield str;
            }
            case Aml.BUFFER_OP -> {
                int e = pkgLength();
                long size = (Long) data();
                byte[] buf = new byte[(int) size];
                System.arraycopy(b, p, buf, 0, e - p);
                p = e;
                yield buf;
            }
            case Aml.PACKAGE_OP -> {
                int e = pkgLength();
                int count = u8();
                List<Object> elems = new ArrayList<>();
                while (p < e) {
                    elems.add(data());
                }
                if (elems.size() != count) {
                    throw new IllegalStateException("package says " + count + " elements, has " + elems.size());
                }
                yield elems;
            }
            default -> throw new IllegalStateException("data opcode 0x" + Integer.toHexString(op));
        };
    }
}
