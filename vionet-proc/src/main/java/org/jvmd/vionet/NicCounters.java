package org.jvmd.vionet;

import java.util.Locale;
import org.jvmd.proto.NicStats;
import org.jvmd.sys.Errno;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.QueueCounters;
import org.jvmd.virtio.net.DropReason;

/**
 * Per-NIC counters (common.proto NicStats). Each queue of the device writes its own
 * instance; a StatsRequest adds them up on the device's one thread, so plain fields
 * suffice. Nothing here allocates except {@link #toProto}.
 */
public final class NicCounters {
    /** Drops that are vionet's own, beside the offload engine's and the rings'. */
    public enum Drop {
        LOCKED_LLADDR_TX,
        LOCKED_LLADDR_RX,
        RX_TRUNCATED,
        RX_RUNT,
        TX_TAP_ERROR,
        RX_BACKLOG_FULL,
        CTRL_BAD_COMMAND,
        QUEUE_BROKEN,
        /** A transmit chain with a device-writable descriptor (virtio 1.2 §2.7.4.1). */
        TX_WRITABLE_DESCRIPTOR,
        /** A received frame the guest's CTRL_RX filter does not want (virtio 1.2 §5.1.6.5.1-2). */
        RX_MAC_FILTER,
        /**
         * A DHCP message from the guest to the local server that needs no answer (RELEASE,
         * DECLINE, a REQUEST for another server: RFC 2131 §4.3): consumed, not forwarded.
         */
        DHCP_UNANSWERED,
        /**
         * A transmit chain longer than any frame ({@link Vionet#MAX_FRAME} behind the header);
         * its key is the one the rings use for the same fault, "frame_too_long".
         */
        FRAME_TOO_LONG,
    }

    private static final DropReason[] ENGINE = DropReason.values();
    private static final Drop[] OWN = Drop.values();
    private static final GuestFault.Reason[] RING = GuestFault.Reason.values();

    public long txFrames;
    public long txBytes;
    public long rxFrames;
    public long rxBytes;
    public long txCsumOffloaded;
    public long txTsoFrames;
    public long txUsoFrames;
    public long txSwSegmented;
    public long txSwChecksummed;
    public long rxCsumOffloaded;
    public long rxGsoFrames;
    public long rxSwSegmented;
    public long rxSwChecksummed;
    public long tapErrors;
    public long dhcpReplies;

    private final long[] engineDrops = new long[ENGINE.length];
    private final long[] ownDrops = new long[OWN.length];
    /** Tap errors by errno (index = errno, bounded). */
    private final long[] tapErrno = new long[134];
    private final long[] tapErrnoWrite = new long[134];

    public void drop(DropReason r) {
        engineDrops[r.ordinal()]++;
    }

    public void drop(Drop d) {
        ownDrops[d.ordinal()]++;
    }

    public long drops(DropReason r) {
        return engineDrops[r.ordinal()];
    }

    public long drops(Drop d) {
        return ownDrops[d.ordinal()];
    }

    /** Adds {@code o}'s counts to these (a sum over the paths' own counters). */
    public void add(NicCounters o) {
        txFrames += o.txFrames;
        txBytes += o.txBytes;
        rxFrames += o.rxFrames;
        rxBytes += o.rxBytes;
        txCsumOffloaded += o.txCsumOffloaded;
        txTsoFrames += o.txTsoFrames;
        txUsoFrames += o.txUsoFrames;
        txSwSegmented += o.txSwSegmented;
        txSwChecksummed += o.txSwChecksummed;
        rxCsumOffloaded += o.rxCsumOffloaded;
        rxGsoFrames += o.rxGsoFrames;
        rxSwSegmented += o.rxSwSegmented;
        rxSwChecksummed += o.rxSwChecksummed;
        tapErrors += o.tapErrors;
        dhcpReplies += o.dhcpReplies;
        for (int i = 0; i < engineDrops.length; i++) {
            engineDrops[i] += o.engineDrops[i];
        }
        for (int i = 0; i < ownDrops.length; i++) {
            ownDrops[i] += o.ownDrops[i];
        }
        for (int i = 0; i < tapErrno.length; i++) {
            tapErrno[i] += o.tapErrno[i];
            tapErrnoWrite[i] += o.tapErrnoWrite[i];
        }
    }

    /** A read (write == false) or write error of the tap, as a positive errno. */
    public void tapError(int errno, boolean write) {
        tapErrors++;
        int i = Math.min(Math.max(errno, 0), tapErrno.length - 1);
        if (write) {
            tapErrnoWrite[i]++;
        } else {
            tapErrno[i]++;
        }
    }

    public long tapErrors(int errno) {
        int i = Math.min(Math.max(errno, 0), tapErrno.length - 1);
        return tapErrno[i] + tapErrnoWrite[i];
    }

    /** The counters as a NicStats message; {@code rings} are the queues' bad-chain counters. */
    public NicStats toProto(int nic, QueueCounters... rings) {
        NicStats.Builder b = NicStats.newBuilder().setNic(nic)
                .setTxFrames(txFrames).setTxBytes(txBytes).setRxFrames(rxFrames).setRxBytes(rxBytes)
                .setTxCsumOffloaded(txCsumOffloaded).setTxTsoFrames(txTsoFrames).setTxUsoFrames(txUsoFrames)
                .setTxSwSegmented(txSwSegmented).setTxSwChecksummed(txSwChecksummed)
                .setRxCsumOffloaded(rxCsumOffloaded).setRxGsoFrames(rxGsoFrames)
                .setRxSwSegmented(rxSwSegmented).setRxSwChecksummed(rxSwChecksummed)
                .setTapErrors(tapErrors);
        for (DropReason r : ENGINE) {
            put(b, r.name(), engineDrops[r.ordinal()]);
        }
        for (Drop d : OWN) {
            put(b, d.name(), ownDrops[d.ordinal()]);
        }
        for (GuestFault.Reason r : RING) {
            long n = 0;
            for (QueueCounters q : rings) {
                n += q == null ? 0 : q.get(r);
            }
            put(b, r.name(), n);
        }
        for (int e = 0; e < tapErrno.length; e++) {
            put(b, "tap_" + errnoKey(e), tapErrno[e] + (e == Errno.EAGAIN ? 0 : tapErrnoWrite[e]));
        }
        put(b, "tap_eagain_write", tapErrnoWrite[Errno.EAGAIN]);
        return b.build();
    }

    private static void put(NicStats.Builder b, String name, long n) {
        if (n != 0) {
            String key = name.toLowerCase(Locale.ROOT);
            b.putDrops(key, b.getDropsOrDefault(key, 0) + n);
        }
    }

    private static String errnoKey(int e) {
        return switch (e) {
            case Errno.EIO -> "eio";
            case Errno.EAGAIN -> "eagain";
            case Errno.EFAULT -> "efault";
            case Errno.EINVAL -> "einval";
            case Errno.EMSGSIZE -> "emsgsize";
            case Errno.ENETDOWN -> "enetdown";
            case Errno.ENOBUFS -> "enobufs";
            default -> "errno" + e;
        };
    }
}
