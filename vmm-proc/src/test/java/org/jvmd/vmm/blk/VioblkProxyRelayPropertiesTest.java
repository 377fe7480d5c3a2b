package org.jvmd.vmm.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskStats;
import org.jvmd.proto.Error;
import org.jvmd.proto.FromVioblk;
import org.jvmd.proto.Paused;
import org.jvmd.proto.ResetDone;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.ToVioblk;
import org.jvmd.proto.VioblkReady;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Channel;

/**
 * Whatever vioblk sends out of turn (a second Ready, errors, Paused or ResetDone nobody asked
 * for, empty messages, with arbitrary contents), the relay survives it, nobody hears of a
 * death, and the next stats request is still answered with vioblk's counters.
 */
class VioblkProxyRelayPropertiesTest {

    @Provide
    Arbitrary<FromVioblk> unsolicited() {
        Arbitrary<String> text = Arbitraries.strings().ofMaxLength(200);
        Arbitrary<FromVioblk> ready = Arbitraries.longs().map(n -> FromVioblk.newBuilder()
                .setReady(VioblkReady.newBuilder().setCapacitySectors(n).setSegMax(n.intValue())).build());
        Arbitrary<FromVioblk> error = Combinators.combine(text, Arbitraries.integers())
                .as((t, e) -> FromVioblk.newBuilder().setError(Error.newBuilder().setMessage(t).setErrno(e)).build());
        Arbitrary<FromVioblk> paused = Arbitraries.just(FromVioblk.newBuilder().setPaused(Paused.getDefaultInstance())
                .build());
        Arbitrary<FromVioblk> resetDone = Arbitraries.just(
                FromVioblk.newBuilder().setResetDone(ResetDone.getDefaultInstance()).build());
        Arbitrary<FromVioblk> empty = Arbitraries.just(FromVioblk.getDefaultInstance());
        return Arbitraries.oneOf(ready, error, paused, resetDone, empty);
    }

    @Property(tries = 25)
    void outOfTurnMessagesNeitherStopTheRelayNorLookLikeADeath(
            @ForAll @Size(max = 8) List<@net.jqwik.api.From("unsolicited") FromVioblk> noise,
            @ForAll long reads, @ForAll String reason) throws Exception {
        Channel[] ch = Channel.pair();
        List<VioblkProxy> deaths = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (VioblkPeer peer = new VioblkPeer(ch[1]);
             VioblkProxy proxy = new VioblkProxy("vm/prop/vioblk0", DiskConfig.getDefaultInstance(), deaths::add)) {
            proxy.start(ch[0], null, LibC.memfdCreate("r", 0), List.of(LibC.open("/dev/null", LibC.O_RDWR)),
                    List.of(), "", "", 5_000);
            peer.next(ToVioblk.MsgCase.INIT, 5_000);
            for (FromVioblk m : noise) {
                peer.send(m);
            }
            DiskStats counters = DiskStats.newBuilder().setReads(reads).putErrors(reason, 1).build();
            CompletableFuture<DiskStats> asked = CompletableFuture.supplyAsync(() -> {
                try {
                    return proxy.diskStats(5_000);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            peer.next(ToVioblk.MsgCase.STATS, 5_000);
            peer.send(FromVioblk.newBuilder().setStats(StatsReply.newBuilder().addDisks(counters)).build());
            assertEquals(counters, asked.get(5, TimeUnit.SECONDS));
            assertTrue(proxy.alive());
            assertTrue(deaths.isEmpty());
        }
    }
}
