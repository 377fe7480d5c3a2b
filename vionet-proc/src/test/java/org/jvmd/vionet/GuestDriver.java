package org.jvmd.vionet;

import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.net.VirtioNetHdr;

/**
 * A simulated guest driver for one NIC, playing Linux virtio-net against an in-process
 * {@link Vionet} over shared guest memory: receive buffers posted in a pool, transmit
 * frames copied into per-slot buffers, used entries reaped (num_buffers merged). For tests; the notifications are direct calls.
 */
public final class GuestDriver {
    public static final int TX_SLOT = Vionet.TAP_HDR + Vionet.MAX_FRAME + 64;

    public final GuestMemory memory;
    public final DriverQueue rx;
    public final DriverQueue tx;
    public final DriverQueue ctrl;
    private final int size;
    private final int rxBufLen;
    private final long rxBase;
    private final long txBase;
    private final long ctrlBase;
    private final long[] rxAddr;
    private int rxNext;
    private int txNext;
    private int ctrlNext;

    public GuestDriver(GuestMemory memory, long features, int queueSize, int rxBufLen, boolean withCtrl)
            throws GuestFault {
        this.memory = memory;
        this.size = queueSize;
        this.rxBufLen = rxBufLen;
        GuestAllocator a = new GuestAllocator(memory);
        rx = DriverQueue.create(memory, a, queueSize, features, 8);
        tx = DriverQueue.create(memory, a, queueSize, features, 8);
        ctrl = withCtrl ? DriverQueue.create(memory, a, 16, features, 8) : null;
        rxBase = a.allocate((long) queueSize * rxBufLen, 64);
        txBase = a.allocate((long) queueSize * TX_SLOT, 64);
        ctrlBase = a.allocate(16L * 64, 64);
        rxAddr = new long[queueSize];
    }

    /** The memory this driver needs for {@code queueSize} and {@code rxBufLen}. */
    public static int memoryNeeded(int queueSize, int rxBufLen) {
        return 3 * (queueSize * 32 + 16384) + queueSize * (rxBufLen + TX_SLOT) + 65536;
    }

    /** Negotiates: features, the queues (vectors 0 rx, 1 tx, 2 ctrl), DRIVER_OK. */
    public void configure(Vionet v, long features) {
        v.featuresAcked(features);
        v.queueReady(Vionet.RX, rx.layout(), 0);
        v.queueReady(Vionet.TX, tx.layout(), 1);
        if (ctrl != null) {
            v.queueReady(Vionet.CTRL, ctrl.layout(), 2);
        }
        v.driverOk();
    }

    /** Queues {@code b[off..off+len)} (virtio_net_hdr first) as one TX chain; returns the head or NONE. */
    public int send(byte[] b, int off, int len) throws GuestFault {
        return sendSplit(b, off, len, 0);
    }

    /** As {@link #send}, but cut into two descriptors after {@code cut} bytes (0: one descriptor). */
    public int sendSplit(byte[] b, int off, int len, int cut) throws GuestFault {
        long at = txBase + (long) (txNext++ % size) * TX_SLOT;
        memory.write(at, b, off, len);
        if (cut > 0 && cut < len) {
            tx.readable(at, cut).readable(at + cut, len - cut);
        } else {
            tx.readable(at, len);
        }
        return tx.add();
    }

    /** Reaps every used TX chain; returns how many. */
    public int reapTx() throws GuestFault {
        int n = 0;
        while (tx.reap() != DriverQueue.NONE) {
            n++;
        }
        return n;
    }

    /** Posts {@code n} receive buffers of the pool size. */
    public void postRx(int n) throws GuestFault {
        for (int i = 0; i < n; i++) {
            long at = rxBase + (long) (rxNext++ % size) * rxBufLen;
            rx.writable(at, rxBufLen);
            int head = rx.add();
            if (head == DriverQueue.NONE) {
                return;
            }
            rxAddr[head] = at;
        }
    }

    /**
     * Takes the next received frame: the 12-byte header (num_buffers as written) and the
     * frame, the buffers merged as num_buffers says; null if nothing was received.
     */
    public byte[] receive() throws GuestFault {
        int head = rx.reap();
        if (head == DriverQueue.NONE) {
            return null;
        }
        int len = rx.usedLen();
        byte[] first = new byte[len];
        memory.read(rxAddr[head], first, 0, len);
        int buffers = len >= VirtioNetHdr.SIZE ? (first[10] & 0xFF) | (first[11] & 0xFF) << 8 : 1;
        byte[] all = first;
        for (int i = 1; i < buffers; i++) {
            int h = rx.reap();
            if (h == DriverQueue.NONE) {
                throw new IllegalStateException("num_buffers " + buffers + " but only " + i + " used");
            }
            int l = rx.usedLen();
            byte[] more = java.util.Arrays.copyOf(all, all.length + l);
            memory.read(rxAddr[h], more, all.length, l);
            all = more;
        }
        return all;
    }

    /** Queues a control command (class, command, data) with a 1-byte ack buffer; returns the ack address. */
    public long control(int cls, int cmd, byte[] data) throws GuestFault {
        long at = ctrlBase + (long) (ctrlNext++ % 16) * 64;
        byte[] b = new byte[2 + data.length];
        b[0] = (byte) cls;
        b[1] = (byte) cmd;
        System.arraycopy(data, 0, b, 2, data.length);
        memory.write(at, b, 0, b.length);
        memory.writeByte(at + 63, (byte) 0x7F);
        ctrl.readable(at, b.length).writable(at + 63, 1);
        ctrl.add();
        return at + 63;
    }
}
