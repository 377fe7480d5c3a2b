package org.jvmd.vmm.net;

import org.jvmd.proto.FromVionet;
import org.jvmd.proto.Ready;
import org.jvmd.proto.ResetDone;
import org.jvmd.proto.ToVionet;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.vmm.proxy.DevicePeer;

/** The vionet end of the channel contract, played in-process by tests of the proxy ({@link DevicePeer}). */
public final class VionetPeer extends DevicePeer<ToVionet, FromVionet> {

    public VionetPeer(Channel channel) {
        super(channel, ToVionet.parser(), FromVionet.newBuilder()
                        .setReady(Ready.newBuilder().setProcess("vm/test/vionet0").setPid(LibC.getpid())).build(),
                FromVionet.newBuilder().setResetDone(ResetDone.getDefaultInstance()).build());
    }
}
