package org.jvmd.vmm.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import com.google.protobuf.ByteString;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.jvmd.proto.Error;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.Ready;
import org.jvmd.proto.ResetDone;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Channel;

/**
 * Whatever vionet sends out of turn (a second Ready, errors, unrequested stats or reset
 * confirmations, with arbitrary contents), the relay survives it, forwards nothing of it to
 * vmd, and still relays the next TUNSCAP unchanged.
 */
class VionetProxyRelayPropertiesTest {

    @Provide
    Arbitrary<FromVionet> unsolicited() {
        Arbitrary<String> text = Arbitraries.strings().ofMaxLength(200);
        Arbitrary<FromVionet> ready = Combinators.combine(text, Arbitraries.integers())
                .as((t, pid) -> FromVionet.newBuilder().setReady(Ready.newBuilder().setProcess(t).setPid(pid)).build());
        Arbitrary<FromVionet> error = Combinators.combine(text, Arbitraries.integers())
                .as((t, e) -> FromVionet.newBuilder().setError(Error.newBuilder().setMessage(t).setErrno(e)).build());
        Arbitrary<FromVionet> stats = Combinators.combine(Arbitraries.integers().greaterOrEqual(0),
                        Arbitraries.longs(), text)
                .as((nic, n, key) -> FromVionet.newBuilder().setStats(StatsReply.newBuilder().addNics(NicStats.newBuilder()
                        .setNic(nic).setTxFrames(n).putDrops(key, n))).build());
        Arbitrary<FromVionet> resetDone = Arbitraries.just(
                FromVionet.newBuilder().setResetDone(ResetDone.getDefaultInstance()).build());
        Arbitrary<FromVionet> empty = Arbitraries.just(FromVionet.getDefaultInstance());
        return Arbitraries.oneOf(ready, error, stats, resetDone, empty);
    }

    @Property(tries = 25)
    void outOfTurnMessagesNeverReachVmdNorStopTheRelay(
            @ForAll @Size(max = 8) List<@net.jqwik.api.From("unsolicited") FromVionet> noise,
            @ForAll int flags) throws Exception {
        BlockingQueue<TunCapabilities> uplink = new LinkedBlockingQueue<>();
        Channel[] ch = Channel.pair();
        NicConfig nic = NicConfig.newBuilder().setMac(ByteString.copyFrom(new byte[6])).build();
        try (VionetPeer peer = new VionetPeer(ch[1]);
             VionetProxy proxy = new VionetProxy("vm/prop/vionet0", nic, uplink::add)) {
            proxy.start(ch[0], null, LibC.memfdCreate("r", 0), LibC.open("/dev/null", LibC.O_RDWR), List.of(),
                    "", "", 5_000);
            peer.next(ToVionet.MsgCase.INIT, 5_000);
            for (FromVionet m : noise) {
                peer.send(m);
            }
            TunCapabilities caps = TunCapabilities.newBuilder().setTunFlags(flags).build();
            peer.send(FromVionet.newBuilder().setTuncap(caps).build());
            assertEquals(caps, uplink.poll(5, TimeUnit.SECONDS));
            assertTrue(uplink.isEmpty());
            assertTrue(proxy.alive());
        }
    }
}
