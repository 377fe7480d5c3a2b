package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** A temporary directory with boot files, fixed accounts and a predictable address generator. */
final class Fixture {
    static final String PASSWD = """
            root:x:0:0:root:/root:/bin/sh
            joe:x:1000:1000:Joe:/home/joe:/bin/sh
            ann:x:1001:1001:Ann:/home/ann:/bin/sh
            bob:x:1002:1002:Bob:/home/bob:/bin/sh
            """;
    static final String GROUP = """
            root:x:0:
            wheel:x:10:joe
            vmusers:x:2000:ann,bob
            joe:x:1000:
            """;
    static final Accounts ACCOUNTS = EtcAccounts.of(PASSWD, GROUP);

    final Path dir;
    final Path kernel;
    final Path initrd;
    private int serial;

    Fixture(Path dir) {
        this.dir = dir;
        this.kernel = write("bzImage", "kernel");
        this.initrd = write("initrd.img", "initrd");
    }

    Path write(String name, String text) {
        try {
            Path p = dir.resolve(name);
            Files.createDirectories(p.getParent());
            Files.writeString(p, text);
            return p.toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** fe:e1:bb:dN:00:01, :00:02, ... in call order: vmd's layout with a counter for the random part. */
    LladdrGenerator sequential() {
        return index -> {
            int n = ++serial;
            return MacAddress.of(new byte[] {
                (byte) 0xfe, (byte) 0xe1, (byte) 0xbb, (byte) (0xd0 | ((index + 1) & 0xf)), (byte) (n >> 8), (byte) n,
            });
        };
    }

    /** Interface group names as /etc/iproute2/group would give them, the same on every machine. */
    static final InterfaceGroups GROUPS = InterfaceGroups.of("# test\n0\tdefault\n100 vms\n101 vmnet\n0x20 lab\n", "groups");

    ConfigEnvironment env(Map<String, String> defines) {
        return new ConfigEnvironment(ACCOUNTS, sequential(), 4, defines, GROUPS);
    }

    ConfigParser parser() {
        return new ConfigParser(env(Map.of()));
    }

    ParseResult parse(String text) {
        return parser().parse("vm.conf", text, dir);
    }

    /** Parses text that must be valid and returns its configuration. */
    Config ok(String text) {
        ParseResult r = parse(text);
        assertTrue(r.ok(), () -> "unexpected errors: " + r.errors());
        return r.config().orElseThrow();
    }

    /** The errors of a configuration, each as vmd prints it. */
    List<String> errors(String text) {
        return parse(text).errors().stream().map(ConfigError::toString).toList();
    }

    /** A configuration must fail with exactly these errors. */
    void fails(String text, String... expected) {
        assertEquals(List.of(expected), errors(text), text);
    }

    /** A minimal bootable vm block. */
    String vm(String name, String... options) {
        StringBuilder b = new StringBuilder("vm \"" + name + "\" {\n\tboot \"" + kernel + "\"\n");
        for (String o : options) {
            b.append('\t').append(o).append('\n');
        }
        return b.append("}\n").toString();
    }
}
