package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** The warm pool's logic over fake members: take, refill, dead members discarded, backoff, close. */
class WarmPoolTest {
    static final long MS = 1_000_000L;

    /** A process that is alive until the test says it died. */
    static final class FakeMember implements WarmPool.Member {
        final int pid;
        volatile boolean alive = true;
        volatile boolean closed;

        FakeMember(int pid) {
            this.pid = pid;
        }

        @Override
        public int pid() {
            return pid;
        }

        @Override
        public boolean alive() {
            return alive && !closed;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    /** Spawns members 1, 2, 3, ...; fails while {@link #failing} is set. */
    static final class FakeFactory implements WarmPool.Factory<FakeMember> {
        final List<FakeMember> spawned = new ArrayList<>();
        volatile boolean failing;
        int calls;

        @Override
        public synchronized FakeMember spawn() throws IOException {
            calls++;
            if (failing) {
                throw new IOException("posix_spawn: EAGAIN");
            }
            FakeMember m = new FakeMember(100 + spawned.size());
            spawned.add(m);
            return m;
        }
    }

    final AtomicLong now = new AtomicLong(1_000 * MS);
    final FakeFactory factory = new FakeFactory();

    WarmPool<FakeMember> pool(int size) {
        return new WarmPool<>("vmm-proc", size, factory, now::get);
    }

    @Test
    void aRefillSpawnsUpToTheSizeAndNeverMore() {
        WarmPool<FakeMember> p = pool(2);
        assertEquals(WarmPool.CHECK_MS, p.refill());
        assertEquals(2, p.members().size());
        p.refill();
        p.refill();
        assertEquals(2, factory.calls, "a full pool spawns nothing");
        assertEquals(factory.spawned, p.members());
    }

    @Test
    void aTakeHandsOutTheOldestLiveMemberAndTheNextRefillReplacesIt() {
        WarmPool<FakeMember> p = pool(2);
        p.refill();
        FakeMember first = factory.spawned.get(0);
        assertSame(first, p.take());
        assertFalse(first.closed, "handed out, not closed: the caller owns it now");
        assertEquals(List.of(factory.spawned.get(1)), p.members());
        p.refill();
        assertEquals(2, factory.calls, "not while the start it serves is under way");
        p.settled();
        p.refill();
        assertEquals(List.of(factory.spawned.get(1), factory.spawned.get(2)), p.members());
    }

    @Test
    void nothingIsSpawnedUntilEveryStartThatTookAMemberSettled() {
        WarmPool<FakeMember> p = pool(2);
        p.refill();
        p.take();
        p.take();
        assertNull(p.take(), "empty: that start spawns its own, the pool does not count it");
        p.refill();
        assertEquals(List.of(), p.members());
        p.settled();
        p.refill();
        assertEquals(List.of(), p.members(), "one start still under way");
        p.settled();
        p.refill();
        assertEquals(2, p.members().size());
        p.settled(); // one too many: harmless
        p.take();
        p.refill();
        assertEquals(1, p.members().size(), "the count did not go below zero");
    }

    @Test
    void aDeadMemberIsNeverHandedOutButDiscardedAndReaped() {
        WarmPool<FakeMember> p = pool(2);
        p.refill();
        FakeMember dead = factory.spawned.get(0);
        dead.alive = false;
        assertSame(factory.spawned.get(1), p.take());
        assertTrue(dead.closed, "the dead one is closed (its Child reaps it)");
        assertEquals(List.of(), p.members());
    }

    @Test
    void aTakeFromAnEmptyPoolIsNullAndTheCallerSpawnsItsOwn() {
        WarmPool<FakeMember> p = pool(1);
        assertNull(p.take());
        p.refill();
        factory.spawned.get(0).alive = false;
        assertNull(p.take(), "its only member died");
    }

    @Test
    void aMemberThatDiesWhileWaitingIsNoticedAndReplacedAfterASecond() {
        WarmPool<FakeMember> p = pool(1);
        p.refill();
        FakeMember killed = factory.spawned.get(0);
        killed.alive = false;
        long wait = p.refill();
        assertTrue(killed.closed, "discarded: closed and reaped");
        assertEquals(List.of(), p.members(), "not at once: a death counts as a failure");
        assertEquals(WarmPool.BACKOFF_MIN_MS, wait);
        now.addAndGet(WarmPool.BACKOFF_MIN_MS * MS);
        p.refill();
        assertEquals(List.of(factory.spawned.get(1)), p.members(), "replaced");
    }

    @Test
    void failingSpawnsBackOffDoublingUpToAMinute() {
        WarmPool<FakeMember> p = pool(2);
        factory.failing = true;
        p.refill();
        assertEquals(1, factory.calls, "one failure ends the round");
        now.addAndGet(500 * MS);
        p.refill();
        assertEquals(1, factory.calls, "not within the first second");
        long[] expected = {1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000};
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], WarmPool.backoffMillis(i + 1));
        }
        long t = 500;
        for (int i = 0; i < 6; i++) {
            long backoff = WarmPool.backoffMillis(i + 1);
            now.addAndGet((backoff - t - 1) * MS);
            p.refill();
            assertEquals(i + 1, factory.calls, "still waiting " + backoff + " ms after failure " + (i + 1));
            now.addAndGet(1 * MS);
            p.refill();
            assertEquals(i + 2, factory.calls, "tried again after " + backoff + " ms");
            t = 0;
        }
        assertEquals(7, p.failures());
        assertEquals(List.of(), p.members());
    }

    @Test
    void aMemberThatSurvivesACheckEndsTheBackoff() {
        WarmPool<FakeMember> p = pool(1);
        factory.failing = true;
        p.refill();
        now.addAndGet(1_000 * MS);
        p.refill();
        assertEquals(2, p.failures());
        factory.failing = false;
        now.addAndGet(2_000 * MS);
        p.refill();
        assertEquals(1, p.members().size());
        assertEquals(2, p.failures(), "spawned, not yet proven");
        now.addAndGet(WarmPool.CHECK_MS * MS);
        p.refill();
        assertEquals(0, p.failures(), "alive a check later: spawning works again");
        p.members().get(0).alive = false;
        p.refill();
        assertEquals(1, p.failures(), "the next death starts a new streak at one second");
    }

    @Test
    void aPoolOfSizeZeroSpawnsNothing() {
        WarmPool<FakeMember> p = pool(0);
        p.refill();
        p.start();
        assertEquals(0, factory.calls);
        assertNull(p.take());
        p.close();
        assertThrows(IllegalArgumentException.class, () -> pool(-1));
    }

    @Test
    void closeEndsEveryMemberAndNothingIsSpawnedOrTakenAfterIt() {
        WarmPool<FakeMember> p = pool(3);
        p.refill();
        p.close();
        assertTrue(factory.spawned.stream().allMatch(m -> m.closed));
        assertNull(p.take());
        p.refill();
        assertEquals(3, factory.calls);
        assertEquals(List.of(), p.members());
    }

    @Test
    void itsThreadKeepsThePoolFullAndEndsWithClose() throws Exception {
        WarmPool<FakeMember> p = new WarmPool<>("vmm-proc", 2, factory, System::nanoTime);
        p.start();
        await(() -> p.members().size() == 2, "two members");
        FakeMember taken = p.take();
        Thread.sleep(50);
        assertEquals(2, factory.calls, "not replaced while its start is under way");
        p.settled();
        await(() -> p.members().size() == 2 && factory.calls == 3, "the taken one replaced once its start settled");
        p.members().get(0).alive = false;
        await(() -> factory.calls == 4 && p.members().size() == 2, "a dead one replaced (within a check and a second)");
        p.close();
        assertTrue(factory.spawned.stream().filter(m -> m != taken).allMatch(m -> m.closed));
        assertFalse(taken.closed);
        int calls = factory.calls;
        Thread.sleep(50);
        assertEquals(calls, factory.calls, "the thread ended");
    }

    static void await(BooleanSupplier cond, String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }
}
