package org.jvmd.vmm.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class Uart8250Test {
    static final int IRQ = 4;
    final RecordingInterrupts irq = new RecordingInterrupts();
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final AtomicInteger flushes = new AtomicInteger();
    final Uart8250 uart = new Uart8250(irq, IRQ, new Uart8250.Output() {
        @Override
        public void write(int b) {
            out.write(b);
        }

        @Override
        public void flush() {
            flushes.incrementAndGet();
        }
    }, 64);

    int in(int reg) {
        return (int) uart.read(reg, 1);
    }

    void outb(int reg, int v) {
        uart.write(reg, 1, v);
    }

    @Test
    void ierKeepsOnlyItsFourInterruptBitsAsLinuxProbeExpects() {
        outb(Uart8250.IER, 0);
        assertEquals(0, in(Uart8250.IER) & 0x0f);
        outb(Uart8250.IER, 0x0f);
        assertEquals(0x0f, in(Uart8250.IER));
        outb(Uart8250.IER, 0xff);
        assertEquals(0x0f, in(Uart8250.IER), "UUE bit 6 must not stick or Linux sees an XScale");
    }

    @Test
    void loopbackMirrorsMcrOutputsOntoMsrInputs() {
        outb(Uart8250.MCR, Uart8250.MCR_LOOP | Uart8250.MCR_OUT2 | Uart8250.MCR_RTS);
        assertEquals(0x90, in(Uart8250.MSR) & 0xf0, "Linux autoconfig LOOP test wants DCD|CTS");
        outb(Uart8250.MCR, Uart8250.MCR_LOOP | Uart8250.MCR_DTR | Uart8250.MCR_OUT1);
        assertEquals(0x60, in(Uart8250.MSR) & 0xf0);
    }

    @Test
    void connectedLineShowsCarrierDsrAndCts() {
        assertEquals(0xb0, in(Uart8250.MSR) & 0xf0);
    }

    @Test
    void fifoEnableReportsA16550aInIir() {
        outb(Uart8250.IIR_FCR, 0x01);
        assertEquals(0xc0, in(Uart8250.IIR_FCR) & 0xc0);
        outb(Uart8250.IIR_FCR, 0x21); // 64-byte FIFO request: a 16550A has none
        assertEquals(0xc0, in(Uart8250.IIR_FCR) & 0xf0);
        outb(Uart8250.IIR_FCR, 0x00);
        assertEquals(0x00, in(Uart8250.IIR_FCR) & 0xc0);
    }

    @Test
    void scratchRegisterHoldsWhatWasWritten() {
        outb(Uart8250.SCR, 0xa5);
        assertEquals(0xa5, in(Uart8250.SCR));
        outb(Uart8250.SCR, 0x5a);
        assertEquals(0x5a, in(Uart8250.SCR));
    }

    @Test
    void dlabSelectsTheDivisorLatches() {
        outb(Uart8250.LCR, 0x80);
        outb(0, 0x01);
        outb(1, 0x02);
        assertEquals(0x01, in(0));
        assertEquals(0x02, in(1));
        outb(Uart8250.LCR, 0x03);
        assertEquals(0, in(Uart8250.IER), "IER untouched by divisor writes");
        outb(0, 'x');
        assertEquals("x", out.toString());
    }

    @Test
    void uartRaisesThreInterruptWhenEnabled() {
        outb(Uart8250.IIR_FCR, 0x01);
        assertFalse(irq.level(IRQ));
        outb(Uart8250.IER, Uart8250.IER_ETBEI);
        assertTrue(irq.level(IRQ));
        assertEquals(0xc2, in(Uart8250.IIR_FCR));
        assertFalse(irq.level(IRQ), "reading IIR with THRE as the source clears it");
        assertEquals(0xc1, in(Uart8250.IIR_FCR));
    }

    @Test
    void writingThrReassertsThreWithAFreshEdge() {
        outb(Uart8250.IER, Uart8250.IER_ETBEI);
        in(Uart8250.IIR_FCR);
        outb(Uart8250.RBR_THR, 'a');
        assertTrue(irq.level(IRQ));
        assertEquals(2, irq.edges(IRQ));
        outb(Uart8250.IER, 0);
        assertFalse(irq.level(IRQ), "disabling ETBEI drops the line");
    }

    @Test
    void linuxTxenProbeSeesThreRightAfterEnablingIt() {
        // serial8250_do_startup: IER=THRI; read LSR; read IIR; IER=0.
        outb(Uart8250.IER, Uart8250.IER_ETBEI);
        int lsr = in(Uart8250.LSR);
        int iir = in(Uart8250.IIR_FCR);
        outb(Uart8250.IER, 0);
        assertEquals(Uart8250.LSR_TEMT, lsr & Uart8250.LSR_TEMT);
        assertEquals(0, iir & Uart8250.IIR_NO_INT, "else Linux marks the port UART_BUG_TXEN");
    }

    @Test
    void transmittedBytesReachTheOutputAndFlushOnIerWrites() {
        for (char c : "hello".toCharArray()) {
            assertEquals(0x60, in(Uart8250.LSR) & 0x60);
            outb(Uart8250.RBR_THR, c);
        }
        outb(Uart8250.IER, 0);
        assertEquals("hello", out.toString());
        assertEquals(5, uart.transmitted());
        assertEquals(1, flushes.get());
    }

    @Test
    void loopbackReturnsTransmittedBytesInsteadOfSendingThem() {
        outb(Uart8250.MCR, Uart8250.MCR_LOOP);
        outb(Uart8250.RBR_THR, 0x42);
        assertEquals(0, out.size());
        assertEquals(Uart8250.LSR_DR, in(Uart8250.LSR) & Uart8250.LSR_DR);
        assertEquals(0x42, in(Uart8250.RBR_THR));
        assertEquals(0, in(Uart8250.LSR) & Uart8250.LSR_DR);
    }

    @Test
    void loopbackFifoOverrunsAfterSixteenBytesLikeLinuxSizeFifoExpects() {
        outb(Uart8250.IIR_FCR, 0x07);
        outb(Uart8250.MCR, Uart8250.MCR_LOOP);
        for (int i = 0; i < 256; i++) {
            outb(Uart8250.RBR_THR, i);
        }
        int count = 0;
        int lsr = in(Uart8250.LSR);
        assertEquals(Uart8250.LSR_OE, lsr & Uart8250.LSR_OE);
        while ((in(Uart8250.LSR) & Uart8250.LSR_DR) != 0 && count < 256) {
            assertEquals(count, in(Uart8250.RBR_THR));
            count++;
        }
        assertEquals(16, count);
        assertEquals(0, in(Uart8250.LSR) & Uart8250.LSR_OE, "reading LSR cleared the overrun");
    }

    @Test
    void receivedByteRaisesDataInterruptUntilRead() {
        outb(Uart8250.IER, Uart8250.IER_ERBFI);
        assertEquals(2, uart.receive(new byte[] {'o', 'k'}, 0, 2));
        assertTrue(irq.level(IRQ));
        assertEquals(0x04, in(Uart8250.IIR_FCR));
        assertEquals('o', in(Uart8250.RBR_THR));
        assertTrue(irq.level(IRQ));
        assertEquals('k', in(Uart8250.RBR_THR));
        assertFalse(irq.level(IRQ));
        assertEquals(0x01, in(Uart8250.IIR_FCR));
    }

    @Test
    void receiveDataHasPriorityOverThre() {
        outb(Uart8250.IER, Uart8250.IER_ERBFI | Uart8250.IER_ETBEI);
        uart.receive(new byte[] {1}, 0, 1);
        assertEquals(0x04, in(Uart8250.IIR_FCR));
        in(Uart8250.RBR_THR);
        assertEquals(0x02, in(Uart8250.IIR_FCR));
    }

    @Test
    void overrunRaisesLineStatusInterruptWhenEnabled() {
        outb(Uart8250.IER, Uart8250.IER_ELSI);
        outb(Uart8250.MCR, Uart8250.MCR_LOOP);
        outb(Uart8250.RBR_THR, 1); // FIFO off: depth 1
        assertFalse(irq.level(IRQ));
        outb(Uart8250.RBR_THR, 2);
        assertTrue(irq.level(IRQ));
        assertEquals(0x06, in(Uart8250.IIR_FCR));
        in(Uart8250.LSR);
        assertFalse(irq.level(IRQ));
    }

    @Test
    void modemStatusChangeInterruptsWhenEnabled() {
        outb(Uart8250.MCR, Uart8250.MCR_LOOP);
        in(Uart8250.MSR); // entering loopback dropped DSR and DCD; clear those deltas
        outb(Uart8250.IER, Uart8250.IER_EDSSI);
        assertFalse(irq.level(IRQ));
        outb(Uart8250.MCR, Uart8250.MCR_LOOP | Uart8250.MCR_RTS);
        assertTrue(irq.level(IRQ));
        assertEquals(0x00, in(Uart8250.IIR_FCR));
        int msr = in(Uart8250.MSR);
        assertEquals(Uart8250.MSR_DCTS, msr & Uart8250.MSR_DELTAS);
        assertFalse(irq.level(IRQ));
    }

    @Test
    void fifoResetDiscardsQueuedInput() {
        uart.receive(new byte[] {1, 2, 3}, 0, 3);
        outb(Uart8250.IIR_FCR, 0x03);
        assertEquals(0, uart.pendingInput());
        assertEquals(0, in(Uart8250.LSR) & Uart8250.LSR_DR);
    }

    @Test
    void receiveIsBoundedByCapacityAndWaiterWakesOnRead() throws Exception {
        byte[] big = new byte[100];
        assertEquals(64, uart.receive(big, 0, big.length));
        assertEquals(0, uart.receive(big, 0, 1));
        assertEquals(0, uart.awaitRxSpace(0, TimeUnit.NANOSECONDS));
        int[] space = new int[1];
        Thread reader = Thread.ofPlatform().start(() -> {
            try {
                space[0] = uart.awaitRxSpace(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        in(Uart8250.RBR_THR);
        reader.join();
        assertEquals(1, space[0]);
    }

    @Test
    void wideAccessIsSplitIntoByteCyclesOnConsecutiveRegisters() {
        uart.write(Uart8250.LCR, 2, 0x0303); // LCR=3, MCR=3
        assertEquals(0x03, in(Uart8250.LCR));
        assertEquals(0x03, in(Uart8250.MCR));
        uart.write(Uart8250.SCR, 1, 0x77);
        assertEquals(0x77, uart.read(Uart8250.SCR, 1));
    }

    // ---- properties ----

    record Access(boolean write, long offset, int size, long value) {}

    @Provide
    Arbitrary<Access> accesses() {
        return Combinators.combine(
                        Arbitraries.of(true, false),
                        Arbitraries.longs().between(-2, 10),
                        Arbitraries.of(1, 2, 4, 8),
                        Arbitraries.longs())
                .as(Access::new);
    }

    @Property(tries = 300)
    void arbitraryRegisterAccessesKeepUartInvariants(
            @ForAll @Size(max = 60) List<@From("accesses") Access> ops, @ForAll byte[] input) {
        RecordingInterrupts irq = new RecordingInterrupts();
        Uart8250 uart = new Uart8250(irq, IRQ, b -> {}, 64);
        for (Access a : ops) {
            if (a.write) {
                uart.write(a.offset, a.size, a.value);
            } else {
                long v = uart.read(a.offset, a.size);
                assertEquals(0, a.size == 8 ? 0 : v >>> (8 * a.size), "value wider than the access");
            }
            if (a.value % 5 == 0) {
                uart.receive(input, 0, input.length);
            }
            assertTrue(uart.pendingInput() <= 64);
            assertEquals(uart.interruptLine(), irq.level(IRQ), "line recorded by the irqchip");
        }
        uart.write(Uart8250.LCR, 1, 0);
        assertEquals(0, uart.read(Uart8250.IER, 1) & 0xf0);
        long lsr = uart.read(Uart8250.LSR, 1);
        assertEquals(0x60, lsr & 0x60, "THR and TSR are always empty");
        long iir = uart.read(Uart8250.IIR_FCR, 1);
        assertEquals(0, iir & 0x30);
    }
}
