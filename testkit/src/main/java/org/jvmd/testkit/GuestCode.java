package org.jvmd.testkit;

import java.io.ByteArrayOutputStream;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The tiny-guest assembler of the tests: machine code written as hex bytes (an instruction
 * per string, bytes separated by blanks or not, as {@code objdump} prints them) and labels
 * (a string ending in ':'), turned into the bytes and each label's offset. The instructions
 * themselves come from GNU as; this only lays them out, so a test shows what the guest runs.
 */
public final class GuestCode {
    private final byte[] code;
    private final Map<String, Integer> labels;

    private GuestCode(byte[] code, Map<String, Integer> labels) {
        this.code = code;
        this.labels = labels;
    }

    /** Assembles {@code lines}: instructions in hex, labels as {@code "name:"}. */
    public static GuestCode of(List<String> lines) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Map<String, Integer> labels = new HashMap<>();
        for (String line : lines) {
            String l = line.strip();
            if (l.endsWith(":")) {
                if (labels.put(l.substring(0, l.length() - 1), out.size()) != null) {
                    throw new IllegalArgumentException("label defined twice: " + l);
                }
                continue;
            }
            byte[] b = hex(l);
            out.write(b, 0, b.length);
        }
        return new GuestCode(out.toByteArray(), Map.copyOf(labels));
    }

    public static GuestCode of(String... lines) {
        return of(List.of(lines));
    }

    /** The bytes of {@code s}: hex digit pairs, blanks ignored ("baf803 b068 ee"). */
    public static byte[] hex(String s) {
        String h = s.replace(" ", "");
        if (h.length() % 2 != 0) {
            throw new IllegalArgumentException("odd number of hex digits: " + s);
        }
        byte[] b = new byte[h.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    public byte[] bytes() {
        return code.clone();
    }

    public int size() {
        return code.length;
    }

    /** The offset of {@code name} from the start of the code. */
    public int label(String name) {
        Integer at = labels.get(name);
        if (at == null) {
            throw new IllegalArgumentException("no label " + name);
        }
        return at;
    }
}
