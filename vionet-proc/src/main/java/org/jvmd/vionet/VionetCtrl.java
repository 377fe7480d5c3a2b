package org.jvmd.vionet;

import java.lang.System.Logger.Level;
import org.jvmd.virtio.DescriptorChain;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.SplitQueue;
import org.jvmd.virtio.net.VirtioNetFeatures;

/**
 * The control queue (Cloud Hypervisor's CtrlQueue, virtio 1.2 §5.1.6.5): the receive modes
 * and MAC tables of {@link MacFilter}, the default MAC address, and the guest offloads,
 * which the device applies through {@link GuestOffloads}. Each command is acked with
 * VIRTIO_NET_OK or, refused and counted, VIRTIO_NET_ERR.
 */
final class VionetCtrl {
    private static final System.Logger LOG = System.getLogger(VionetCtrl.class.getName());

    // virtio 1.2 §5.1.6.5: control queue classes, commands and acks
    static final int CLASS_RX = 0;
    static final int RX_PROMISC = 0;
    static final int RX_ALLMULTI = 1;
    static final int CLASS_MAC = 1;
    static final int MAC_TABLE_SET = 0;
    static final int MAC_ADDR_SET = 1;
    static final int CLASS_GUEST_OFFLOADS = 5;
    static final int GUEST_OFFLOADS_SET = 0;
    static final byte OK = 0;
    static final byte ERR = 1;

    /** Applies VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET (already checked against the acked features). */
    @FunctionalInterface
    interface GuestOffloads {
        void set(long requested);
    }

    private final VionetConfig cfg;
    private final MacFilter filter;
    private final GuestOffloads offloads;
    private final NicCounters counters = new NicCounters();
    private final byte[] data = new byte[8];
    private final byte[] ack = new byte[1];
    private DescriptorChain current;
    /** MAC_TABLE_SET's data, read from the chain being processed. */
    private final MacFilter.Source args = (offset, dst, off, n) -> current.gather(2 + offset, dst, off, n);

    private SplitQueue queue;
    private DescriptorChain chain;

    VionetCtrl(VionetConfig cfg, MacFilter filter, GuestOffloads offloads) {
        this.cfg = cfg;
        this.filter = filter;
        this.offloads = offloads;
    }

    NicCounters counters() {
        return counters;
    }

    void attach(SplitQueue q) {
        queue = q;
        chain = q.newChain();
    }

    void detach() {
        queue = null;
        chain = null;
        current = null;
    }

    /** Runs every available command (at most a queue's worth) with the features {@code acked}. */
    void process(long acked) throws GuestFault {
        SplitQueue q = queue;
        DescriptorChain c = chain;
        for (int budget = q.size(); budget > 0 && q.pop(c); budget--) {
            if (c.writableBytes() < 1) {
                counters.drop(NicCounters.Drop.CTRL_BAD_COMMAND);
                q.push(c.head(), 0);
                continue;
            }
            current = c;
            byte result = command(c, acked);
            if (result != OK) {
                counters.drop(NicCounters.Drop.CTRL_BAD_COMMAND);
            }
            ack[0] = result;
            // struct virtio_net_ctrl: class, command, data (readable), then u8 ack (writable).
            c.scatter(c.writableBytes() - 1, ack, 0, 1);
            q.push(c.head(), 1);
        }
    }

    private byte command(DescriptorChain c, long acked) throws GuestFault {
        long dataLen = c.readableBytes() - 2;
        if (dataLen < 0) {
            return ERR;
        }
        c.gather(0, data, 0, 2);
        int cls = data[0] & 0xFF;
        int cmd = data[1] & 0xFF;
        boolean ctrlRx = VirtioNetFeatures.has(acked, VirtioNetFeatures.CTRL_RX);
        if (cls == CLASS_RX && ctrlRx && (cmd == RX_PROMISC || cmd == RX_ALLMULTI) && dataLen == 1) {
            c.gather(2, data, 0, 1);
            boolean on = data[0] != 0;
            if (cmd == RX_PROMISC) {
                filter.promiscuous(on);
            } else {
                filter.allMulticast(on);
            }
            LOG.log(Level.DEBUG, (cmd == RX_PROMISC ? "promisc " : "allmulti ") + on);
            return OK;
        }
        if (cls == CLASS_MAC && ctrlRx && cmd == MAC_TABLE_SET) {
            return filter.setTables(args, dataLen) ? OK : ERR;
        }
        if (cls == CLASS_MAC && cmd == MAC_ADDR_SET && dataLen == MacFilter.MAC_LEN
                && VirtioNetFeatures.has(acked, VirtioNetFeatures.CTRL_MAC_ADDR)) {
            return macAddrSet(c);
        }
        if (cls == CLASS_GUEST_OFFLOADS && cmd == GUEST_OFFLOADS_SET && dataLen == 8
                && VirtioNetFeatures.has(acked, VirtioNetFeatures.CTRL_GUEST_OFFLOADS)) {
            c.gather(2, data, 0, 8);
            long requested = 0;
            for (int i = 7; i >= 0; i--) {
                requested = requested << 8 | (data[i] & 0xFF);   // le64
            }
            if (!VirtioNetFeatures.guestOffloadsAllowed(acked, requested)) {
                return ERR;
            }
            offloads.set(requested);
            LOG.log(Level.DEBUG, "guest offloads set to 0x" + Long.toHexString(requested));
            return OK;
        }
        return ERR;
    }

    /**
     * VIRTIO_NET_CTRL_MAC_ADDR_SET (virtio 1.2 §5.1.6.5.2): the driver's new default address
     * becomes the filter's own address. With locked lladdr only the configured address is
     * accepted (vmd: the guest cannot move to another MAC).
     */
    private byte macAddrSet(DescriptorChain c) throws GuestFault {
        c.gather(2, data, 0, MacFilter.MAC_LEN);
        if (cfg.lockedLladdr() && !cfg.isOwnMac(data, 0)) {
            return ERR;
        }
        filter.ownAddress(data, 0);
        return OK;
    }
}
