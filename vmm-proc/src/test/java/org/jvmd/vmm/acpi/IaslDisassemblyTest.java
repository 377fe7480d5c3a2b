package org.jvmd.vmm.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.testkit.RequiresTools;

/**
 * An independent check of the encoder: ACPICA's disassembler (iasl, Debian package
 * acpica-tools) must read every table without a warning. Runs where iasl is installed.
 */
class IaslDisassemblyTest {
    @TempDir
    Path dir;

    String disassemble(String name, byte[] table) throws IOException, InterruptedException {
        Path dat = dir.resolve(name + ".dat");
        Files.write(dat, table);
        Process p = new ProcessBuilder("iasl", "-d", dat.toString()).directory(dir.toFile())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), log);
        assertFalse(log.toLowerCase().contains("warning") || log.toLowerCase().contains("error"), log);
        return Files.readString(dir.resolve(name + ".dsl"));
    }

    @Test
    @RequiresTools("iasl")
    void iaslReadsEveryTableWithoutComplaint() throws Exception {
        AcpiTables t = new AcpiTables(AcpiTables.Config.pc(4, 0xc000_0000L, 0x3ec0_0000L));
        String dsdt = disassemble("dsdt", t.dsdt());
        assertTrue(dsdt.contains("Device (PCI0)"));
        assertTrue(dsdt.contains("EisaId (\"PNP0A03\")"));
        assertTrue(dsdt.contains("WordBusNumber (ResourceProducer"));
        assertTrue(dsdt.contains("Name (\\_S5, Package (0x04)"));
        assertTrue(dsdt.contains("Device (C003)"));
        String fadt = disassemble("facp", t.fadt(0xe1000, 0xe0040));
        assertTrue(fadt.contains("PM1A Event Block Address : 00000600"), fadt);
        String madt = disassemble("apic", t.madt());
        assertEquals(4, madt.split("\\[Processor Local APIC\\]", -1).length - 1);
        disassemble("xsdt", t.xsdt(0xe2000, 0xe3000));
    }
}
