package org.jvmd.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EchoGuestTest {
    @TempDir
    Path dir;

    static int run(Path dir, String... cmd) throws Exception {
        return new ProcessBuilder(cmd).directory(dir.toFile()).inheritIO().start().waitFor();
    }

    @Test
    @RequiresTools({"as", "objcopy"})
    void theHandAssembledBytesAreWhatGnuAsMakesOfTheListing() throws Exception {
        try (InputStream in = EchoGuestTest.class.getResourceAsStream("echo-guest.s")) {
            Files.write(dir.resolve("g.s"), in.readAllBytes());
        }
        assertEquals(0, run(dir, "/usr/bin/as", "--64", "-o", "g.o", "g.s"));
        assertEquals(0, run(dir, "/usr/bin/objcopy", "-O", "binary", "-j", ".text", "g.o", "g.bin"));
        assertArrayEquals(Files.readAllBytes(dir.resolve("g.bin")), EchoGuest.code());
    }

    @Test
    void theEntryCodeSitsAtTheSixtyFourBitEntryOfTheProtectedModeKernel() {
        byte[] image = EchoGuest.bzImage();
        int setup = (image[0x1f1] + 1) * 512; // boot protocol: setup_sects, plus the boot sector
        byte[] code = EchoGuest.code();
        for (int i = 0; i < code.length; i++) {
            assertEquals(code[i], image[setup + 0x200 + i], "byte " + i);
        }
        assertEquals(0x53726448, java.nio.ByteBuffer.wrap(image, 0x202, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .getInt(), "HdrS");
    }
}
