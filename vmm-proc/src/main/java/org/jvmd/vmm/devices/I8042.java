package org.jvmd.vmm.devices;

import org.jvmd.vmm.bus.BusDevice;
import org.jvmd.vmm.bus.Interrupts;

/**
 * An 8042 keyboard controller with an MF2 keyboard on its first port and an empty mouse
 * socket on the second: enough for Linux's i8042 and atkbd drivers to bind, for the guest
 * to reset the machine (command 0xFE, or an output-port write with bit 0 clear), and for
 * the host to inject Ctrl-Alt-Del for a graceful stop.
 *
 * <p>The window is five ports, 0x60 (data) to 0x64 (status/command); offsets 1-3 are not
 * decoded (KVM's in-kernel PIT owns port 0x61). The core may instead register
 * {@link #dataPort()} and {@link #commandPort()} as two one-byte windows.
 *
 * <p>Model: one output buffer byte fed from the keyboard queue, the auxiliary queue, or a
 * controller response; a byte moves from a device queue into the buffer only while that
 * port is enabled (CTR bits 4/5). IRQ 1 / IRQ 12 follow "output buffer full from that
 * port, with its interrupt enabled" (CTR bits 0/1) as levels; reading the data port drops
 * the line before the next byte is loaded, so each byte is a fresh edge at the IOAPIC.
 *
 * <p>References: IBM PS/2 Hardware Interface Technical Reference, "Keyboard/Auxiliary
 * Device Controller"; Linux drivers/input/serio/i8042.c and atkbd.c for what is probed.
 */
public final class I8042 implements BusDevice {
    public static final int DATA_PORT = 0x60;
    public static final int COMMAND_PORT = 0x64;
    public static final int WINDOW = 5;
    public static final int KBD_IRQ = 1;
    public static final int AUX_IRQ = 12;

    // Status register bits.
    static final int STR_OBF = 0x01;
    static final int STR_IBF = 0x02;
    static final int STR_SYSFLAG = 0x04;
    static final int STR_CMDDAT = 0x08; // last write went to the command port
    static final int STR_KEYLOCK = 0x10; // 1 = keyboard not inhibited
    static final int STR_AUXDATA = 0x20;

    // Controller command byte (CTR) bits.
    static final int CTR_KBDINT = 0x01;
    static final int CTR_AUXINT = 0x02;
    static final int CTR_SYSFLAG = 0x04;
    static final int CTR_KBDDIS = 0x10;
    static final int CTR_AUXDIS = 0x20;
    static final int CTR_XLATE = 0x40;

    // Controller commands (port 0x64).
    static final int CMD_READ_CTR = 0x20;
    static final int CMD_WRITE_CTR = 0x60;
    static final int CMD_AUX_DISABLE = 0xa7;
    static final int CMD_AUX_ENABLE = 0xa8;
    static final int CMD_AUX_TEST = 0xa9;
    static final int CMD_SELF_TEST = 0xaa;
    static final int CMD_KBD_TEST = 0xab;
    static final int CMD_KBD_DISABLE = 0xad;
    static final int CMD_KBD_ENABLE = 0xae;
    static final int CMD_READ_OUTP = 0xd0;
    static final int CMD_WRITE_OUTP = 0xd1;
    static final int CMD_WRITE_KBD_OUTBUF = 0xd2;
    static final int CMD_WRITE_AUX_OUTBUF = 0xd3; // Linux's AUX_LOOP
    static final int CMD_WRITE_AUX = 0xd4;
    static final int CMD_PULSE_RESET = 0xfe;

    // Keyboard commands and replies (port 0x60).
    static final int KBD_SET_LEDS = 0xed;
    static final int KBD_ECHO = 0xee;
    static final int KBD_SCANSET = 0xf0;
    static final int KBD_GET_ID = 0xf2;
    static final int KBD_SET_REP = 0xf3;
    static final int KBD_ENABLE = 0xf4;
    static final int KBD_RESET_DIS = 0xf5;
    static final int KBD_RESET_DEF = 0xf6;
    static final int KBD_RESET_BAT = 0xff;
    static final int KBD_ACK = 0xfa;
    static final int KBD_NAK = 0xfe;
    static final int KBD_BAT_OK = 0xaa;

    private static final int SOURCE_CTRL = 0;
    private static final int SOURCE_KBD = 1;
    private static final int SOURCE_AUX = 2;

    /** Scan code set 2 (what the keyboard sends) for Ctrl, Alt, Delete: press, then release. */
    static final byte[] CTRL_ALT_DEL_SET2 = {
        0x14, 0x11, (byte) 0xe0, 0x71, (byte) 0xe0, (byte) 0xf0, 0x71, (byte) 0xf0, 0x11, (byte) 0xf0, 0x14
    };
    /** The same keys as the controller delivers them with translation on (set 1). */
    static final byte[] CTRL_ALT_DEL_SET1 = {
        0x1d, 0x38, (byte) 0xe0, 0x53, (byte) 0xe0, (byte) 0xd3, (byte) 0xb8, (byte) 0x9d
    };

    private static final int QUEUE = 16;

    private final Interrupts interrupts;
    private final Runnable resetRequest;

    private int ctr = CTR_KBDINT | CTR_SYSFLAG | CTR_AUXDIS;
    private int outputPort = 0x03; // bit 0: reset line released; bit 1: A20 enabled
    private boolean lastWasCommand;
    private int pendingCommand = -1; // controller command awaiting its data byte

    private boolean obf;
    private int outByte;
    private int outSource;

    private final ByteQueue kbdQueue = new ByteQueue(QUEUE);
    private final ByteQueue auxQueue = new ByteQueue(QUEUE);
    private int kbdPendingCommand = -1; // keyboard command awaiting its parameter
    private boolean scanning = true;
    private int scanSet = 2;

    private boolean kbdLine;
    private boolean auxLine;
    private long resets;

    /** @param resetRequest called (on the vCPU thread) when the guest pulses the reset line */
    public I8042(Interrupts interrupts, Runnable resetRequest) {
        this.interrupts = interrupts;
        this.resetRequest = resetRequest;
    }

    /** Port 0x60 alone, for registering the two ports as separate one-byte windows. */
    public BusDevice dataPort() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return I8042.this.read(0, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                I8042.this.write(0, size, value);
            }
        };
    }

    /** Port 0x64 alone. */
    public BusDevice commandPort() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return I8042.this.read(4, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                I8042.this.write(4, size, value);
            }
        };
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset == 0) {
            return readData();
        }
        if (offset == 4) {
            return status();
        }
        return 0xff; // not decoded
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        if (offset == 0) {
            lastWasCommand = false;
            writeData(v);
        } else if (offset == 4) {
            lastWasCommand = true;
            pendingCommand = -1;
            command(v);
        }
        updateLines();
    }

    private int status() {
        int s = STR_KEYLOCK;
        if (obf) {
            s |= STR_OBF;
            if (outSource == SOURCE_AUX) {
                s |= STR_AUXDATA;
            }
        }
        if ((ctr & CTR_SYSFLAG) != 0) {
            s |= STR_SYSFLAG;
        }
        if (lastWasCommand) {
            s |= STR_CMDDAT;
        }
        return s; // IBF never set: every write is consumed at once
    }

    private int readData() {
        int v = outByte; // an empty buffer returns the stale byte, as the real part does
        if (obf) {
            obf = false;
            updateLines(); // drop the line so the next byte is a new edge
            refill();
            updateLines();
        }
        return v;
    }

    private void command(int cmd) {
        switch (cmd) {
            case CMD_READ_CTR -> respond(ctr);
            case CMD_WRITE_CTR, CMD_WRITE_OUTP, CMD_WRITE_KBD_OUTBUF, CMD_WRITE_AUX_OUTBUF, CMD_WRITE_AUX ->
                    pendingCommand = cmd;
            case CMD_AUX_DISABLE -> ctr |= CTR_AUXDIS;
            case CMD_AUX_ENABLE -> {
                ctr &= ~CTR_AUXDIS;
                refill();
            }
            case CMD_AUX_TEST, CMD_KBD_TEST -> respond(0x00); // "no error"
            case CMD_SELF_TEST -> respond(0x55);
            case CMD_KBD_DISABLE -> ctr |= CTR_KBDDIS;
            case CMD_KBD_ENABLE -> {
                ctr &= ~CTR_KBDDIS;
                refill();
            }
            case CMD_READ_OUTP -> respond(outputPort);
            default -> {
                if (cmd > CMD_READ_CTR && cmd < 0x40) {
                    respond(0); // other controller RAM bytes read as 0
                } else if (cmd > CMD_WRITE_CTR && cmd < 0x80) {
                    pendingCommand = cmd; // other RAM bytes: the data byte is swallowed
                } else if ((cmd & 0xf0) == 0xf0) {
                    // 0xF0-0xFF pulse output lines whose bit is 0; bit 0 is the CPU reset
                    // (0xFF is Linux's "null command": pulses nothing).
                    if ((cmd & 0x01) == 0) {
                        reset();
                    }
                }
                // Anything else is ignored, as an 8042 does with undefined commands.
            }
        }
    }

    private void writeData(int v) {
        int cmd = pendingCommand;
        pendingCommand = -1;
        switch (cmd) {
            case CMD_WRITE_CTR -> {
                ctr = v;
                refill();
            }
            case CMD_WRITE_OUTP -> {
                outputPort = v;
                if ((v & 0x01) == 0) {
                    reset();
                }
            }
            case CMD_WRITE_KBD_OUTBUF -> {
                kbdQueue.offer(v);
                refill();
            }
            case CMD_WRITE_AUX_OUTBUF -> {
                auxQueue.offer(v);
                refill();
            }
            case CMD_WRITE_AUX -> {
                // Nothing is plugged into the mouse socket: the transfer times out.
                auxQueue.offer(KBD_NAK);
                refill();
            }
            default -> {
                if (cmd < 0) {
                    keyboard(v);
                }
            }
        }
    }

    /** The keyboard itself: what an MF2 keyboard answers to host commands. */
    private void keyboard(int v) {
        kbdQueue.clear(); // a keyboard discards its pending output on a new command
        if (kbdPendingCommand >= 0) {
            int cmd = kbdPendingCommand;
            kbdPendingCommand = -1;
            keyboardParameter(cmd, v);
            refill();
            return;
        }
        switch (v) {
            case KBD_SET_LEDS, KBD_SET_REP, KBD_SCANSET -> {
                kbdQueue.offer(KBD_ACK);
                kbdPendingCommand = v;
            }
            case KBD_ECHO -> kbdQueue.offer(KBD_ECHO);
            case KBD_GET_ID -> {
                kbdQueue.offer(KBD_ACK);
                kbdQueue.offer(0xab);
                // MF2 keyboard ID; a translating controller turns 0x83 into 0x41.
                kbdQueue.offer((ctr & CTR_XLATE) != 0 ? 0x41 : 0x83);
            }
            case KBD_ENABLE -> {
                scanning = true;
                kbdQueue.offer(KBD_ACK);
            }
            case KBD_RESET_DIS -> {
                scanning = false;
                scanSet = 2;
                kbdQueue.offer(KBD_ACK);
            }
            case KBD_RESET_DEF -> {
                scanSet = 2;
                kbdQueue.offer(KBD_ACK);
            }
            case KBD_RESET_BAT -> {
                scanning = true;
                scanSet = 2;
                kbdQueue.offer(KBD_ACK);
                kbdQueue.offer(KBD_BAT_OK);
            }
            default -> kbdQueue.offer(v >= 0xf7 ? KBD_ACK : KBD_NAK); // set-3 key modes ack; unknown: resend
        }
        refill();
    }

    private void keyboardParameter(int cmd, int param) {
        if (cmd == KBD_SCANSET) {
            if (param == 0) {
                kbdQueue.offer(KBD_ACK);
                kbdQueue.offer(scanSet);
            } else if (param <= 3) {
                scanSet = param;
                kbdQueue.offer(KBD_ACK);
            } else {
                kbdQueue.offer(KBD_NAK);
            }
        } else {
            kbdQueue.offer(KBD_ACK); // LED state, typematic rate
        }
    }

    /** A controller response takes the output buffer; a device byte it displaces is kept. */
    private void respond(int v) {
        if (obf && outSource == SOURCE_KBD) {
            kbdQueue.pushFront(outByte);
        } else if (obf && outSource == SOURCE_AUX) {
            auxQueue.pushFront(outByte);
        }
        obf = true;
        outByte = v & 0xff;
        outSource = SOURCE_CTRL;
    }

    private void refill() {
        if (obf) {
            return;
        }
        if (!kbdQueue.isEmpty() && (ctr & CTR_KBDDIS) == 0) {
            outByte = kbdQueue.poll();
            outSource = SOURCE_KBD;
            obf = true;
        } else if (!auxQueue.isEmpty() && (ctr & CTR_AUXDIS) == 0) {
            outByte = auxQueue.poll();
            outSource = SOURCE_AUX;
            obf = true;
        }
    }

    private void updateLines() {
        boolean kbd = obf && outSource != SOURCE_AUX && (ctr & CTR_KBDINT) != 0;
        boolean aux = obf && outSource == SOURCE_AUX && (ctr & CTR_AUXINT) != 0;
        if (kbd != kbdLine) {
            kbdLine = kbd;
            interrupts.setIrqLine(KBD_IRQ, kbd);
        }
        if (aux != auxLine) {
            auxLine = aux;
            interrupts.setIrqLine(AUX_IRQ, aux);
        }
    }

    private void reset() {
        resets++;
        resetRequest.run();
    }

    /**
     * Types Ctrl-Alt-Del (press and release) on the keyboard for a graceful stop; Linux's
     * keyboard driver turns it into a signal to init. Returns false, queuing nothing, when
     * no driver listens (scanning disabled, keyboard port disabled or its interrupt off) or
     * the keyboard buffer lacks room; the caller then falls back to the ACPI power button.
     */
    public synchronized boolean sendCtrlAltDel() {
        if (!keyboardListening()) {
            return false;
        }
        byte[] codes = (ctr & CTR_XLATE) != 0 ? CTRL_ALT_DEL_SET1 : CTRL_ALT_DEL_SET2;
        if (kbdQueue.space() < codes.length) {
            return false;
        }
        for (byte b : codes) {
            kbdQueue.offer(b & 0xff);
        }
        refill();
        updateLines();
        return true;
    }

    /** True once a driver has enabled the keyboard port, its interrupt and scanning. */
    public synchronized boolean keyboardListening() {
        return scanning && (ctr & CTR_KBDDIS) == 0 && (ctr & CTR_KBDINT) != 0;
    }

    /** How many times the guest asked for a reset. */
    public synchronized long resets() {
        return resets;
    }

    /** A small bounded byte FIFO (a device's output buffer). */
    private static final class ByteQueue {
        private final int[] buf;
        private int head;
        private int count;

        ByteQueue(int capacity) {
            buf = new int[capacity];
        }

        boolean isEmpty() {
            return count == 0;
        }

        int space() {
            return buf.length - count;
        }

        /** Appends; a full device buffer drops the byte (the keyboard's overrun). */
        void offer(int v) {
            if (count < buf.length) {
                buf[(head + count) % buf.length] = v & 0xff;
                count++;
            }
        }

        void pushFront(int v) {
            if (count < buf.length) {
                head = (head + buf.length - 1) % buf.length;
                buf[head] = v & 0xff;
                count++;
            }
        }

        int poll() {
            int v = buf[head];
            head = (head + 1) % buf.length;
            count--;
            return v;
        }

        void clear() {
            head = 0;
            count = 0;
        }
    }
}
