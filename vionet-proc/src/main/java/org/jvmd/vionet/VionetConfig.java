package org.jvmd.vionet;

import org.jvmd.bytes.BigEndian;
import org.jvmd.proto.NicConfig;

/**
 * One NIC's configuration as the device core uses it (from vionet.proto NicConfig).
 *
 * @param nic       the NIC index (NicStats.nic, TunCapabilities.nic)
 * @param mac       the guest's MAC address, 6 bytes
 * @param mtu       the MTU (1500 when the config says 0)
 * @param offered   the device features offered to the guest (VIRTIO_NET_F_* and ring bits)
 * @param lockedLladdr drop TX from another source MAC and RX unicast to another MAC
 * @param tapFiltered the tap's kernel filter passes no unicast frame for another MAC
 *                  (NicConfig.tap_filtered), so a locked NIC may receive straight into guest memory
 * @param dhcp      the local-interface DHCP responder, or null
 */
public record VionetConfig(int nic, byte[] mac, int mtu, long offered, boolean lockedLladdr, boolean tapFiltered,
        DhcpResponder dhcp) {
    public VionetConfig {
        if (mac.length != 6) {
            throw new IllegalArgumentException("MAC address of " + mac.length + " bytes, want 6");
        }
        if (mtu < 68 || mtu > 65535) {
            throw new IllegalArgumentException("MTU " + mtu);
        }
        mac = mac.clone();
    }

    /** True if {@code b[off..off+6)} is this NIC's MAC address. */
    public boolean isOwnMac(byte[] b, int off) {
        for (int i = 0; i < 6; i++) {
            if (b[off + i] != mac[i]) {
                return false;
            }
        }
        return true;
    }

    /** From the init message; throws IllegalArgumentException naming what is wrong. */
    public static VionetConfig from(NicConfig c) {
        byte[] mac = c.getMac().toByteArray();
        int mtu = c.getMtu() == 0 ? 1500 : c.getMtu();
        DhcpResponder dhcp = null;
        if (c.getLocal()) {
            byte[] g = c.getLocalGuestAddr().toByteArray();
            byte[] gw = c.getLocalGatewayAddr().toByteArray();
            if (g.length != 4 || gw.length != 4) {
                throw new IllegalArgumentException("local interface needs 4-byte local_guest_addr and local_gateway_addr");
            }
            int prefix = c.getLocalPrefixLen() == 0 ? 31 : c.getLocalPrefixLen();
            dhcp = new DhcpResponder(mac, BigEndian.get32(g, 0), BigEndian.get32(gw, 0), prefix);
        }
        return new VionetConfig(c.getIndex(), mac, mtu, c.getFeatures(), c.getLockedLladdr(), c.getTapFiltered(), dhcp);
    }
}
