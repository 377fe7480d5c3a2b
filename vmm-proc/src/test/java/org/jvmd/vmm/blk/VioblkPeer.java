package org.jvmd.vmm.blk;

import org.jvmd.proto.FromVioblk;
import org.jvmd.proto.Ready;
import org.jvmd.proto.ResetDone;
import org.jvmd.proto.ToVioblk;
import org.jvmd.proto.VioblkReady;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.vmm.proxy.DevicePeer;

/**
 * The vioblk end of the channel contract, played in-process by tests of the proxy
 * ({@link DevicePeer}): answers init with {@link #READY}'s geometry unless told otherwise.
 */
public final class VioblkPeer extends DevicePeer<ToVioblk, FromVioblk> {
    /** A 1 GiB disk: 2^21 sectors, 126 segments of at most 64 KiB, 32 MiB discards. */
    static final VioblkReady READY = VioblkReady.newBuilder()
            .setReady(Ready.newBuilder().setProcess("vm/test/vioblk0").setPid(LibC.getpid()))
            .setCapacitySectors(1L << 21).setSegMax(126).setSizeMax(65536)
            .setMaxDiscardSectors(65536).setMaxWriteZeroesSectors(32768).build();

    public VioblkPeer(Channel channel) {
        this(channel, READY);
    }

    public VioblkPeer(Channel channel, VioblkReady ready) {
        super(channel, ToVioblk.parser(), FromVioblk.newBuilder().setReady(ready).build(),
                FromVioblk.newBuilder().setResetDone(ResetDone.getDefaultInstance()).build());
    }
}
