package org.jvmd.vionet;

import org.jvmd.proto.NicConfig;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.GuestMemory;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.net.VirtioNetFeatures;

/**
 * Runs a throw-away device core through its paths before the privilege drop (transmit
 * pass-through, software checksum and segmentation, receive direct and through scratch,
 * control commands, DHCP, reset), so that every class they need is loaded while the
 * process can still open files.
 */
final class Warmup {
    private Warmup() {}

    static void run(GuestMemory memory) {
        try {
            byte[] mac = {2, 0, 0, 0, 0, 1};
            byte[] peer = {2, 0, 0, 0, 0, 2};
            NicConfig nic = NicConfig.newBuilder().setMac(com.google.protobuf.ByteString.copyFrom(mac))
                    .setFeatures(Vionet.SUPPORTED).setLocal(true)
                    .setLocalGuestAddr(com.google.protobuf.ByteString.copyFrom(new byte[] {100, 64, 0, 3}))
                    .setLocalGatewayAddr(com.google.protobuf.ByteString.copyFrom(new byte[] {100, 64, 0, 2}))
                    .build();
            VionetConfig cfg = VionetConfig.from(nic);
            MemoryTap tap = new MemoryTap(memory, 4);
            long features = Vionet.SUPPORTED;
            GuestDriver g = new GuestDriver(memory, features, 16, 2048, true);
            Vionet v = new Vionet(cfg, memory, tap, vector -> { }, caps -> { });
            g.configure(v, features);
            v.tunCapReply(TunCapabilitiesReply.newBuilder().setOk(true).build());
            g.postRx(16);
            byte[] f = Packets.tcp4(peer, mac, 3000, true, 1448);
            g.send(f, 0, f.length);
            f = Packets.udp4(peer, mac, 3000, true, 1000);
            g.send(f, 0, f.length);
            v.kick(Vionet.TX);
            g.reapTx();
            tap.offer(f, 0, 200);
            v.tapReadable();
            g.receive();
            g.control(VionetCtrl.CLASS_GUEST_OFFLOADS, VionetCtrl.GUEST_OFFLOADS_SET, new byte[8]);
            v.kick(Vionet.CTRL);
            f = Packets.tcp4(mac, peer, 3000, true, 1448);
            tap.offer(f, 0, f.length);
            v.tapReadable();
            while (g.receive() != null) {
                g.postRx(1);
            }
            v.stats();
            v.reset();
            v.featuresAcked(VirtioNetFeatures.bit(VirtioNetFeatures.VERSION_1) | VirtioNetFeatures.bit(Virtq.F_EVENT_IDX));
        } catch (GuestFault e) {
            throw new IllegalStateException("warm-up: " + e.getMessage(), e);
        }
    }
}
