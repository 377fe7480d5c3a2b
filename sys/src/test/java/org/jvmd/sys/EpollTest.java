package org.jvmd.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class EpollTest {
    @Test
    void readyDescriptorsReportTheirEventsAndData() throws Exception {
        try (Epoll ep = new Epoll(8); EventFd kick0 = EventFd.create(true); EventFd kick1 = EventFd.create(true)) {
            ep.add(kick0.fd(), LibC.EPOLLIN, 100);
            ep.add(kick1.fd(), LibC.EPOLLIN, 101);
            assertEquals(0, ep.waitFor(0));
            kick1.signal();
            assertEquals(1, ep.waitFor(1000));
            assertEquals(101, ep.data(0));
            assertTrue((ep.events(0) & LibC.EPOLLIN) != 0);
            assertEquals(1, kick1.read());

            kick0.signal();
            kick1.signal();
            assertEquals(2, ep.waitFor(1000));
            assertEquals(100 + 101, ep.data(0) + ep.data(1));

            ep.modify(kick0.fd(), LibC.EPOLLIN, 7L << 40);
            assertEquals(2, ep.waitFor(1000));
            assertTrue(ep.data(0) == 7L << 40 || ep.data(1) == 7L << 40);

            ep.delete(kick0.fd());
            ep.delete(kick1.fd());
            assertEquals(0, ep.waitFor(0));
            SysException e = assertThrows(SysException.class, () -> ep.delete(kick0.fd()));
            assertEquals("epoll_ctl(DEL, " + kick0.fd().num() + "): ENOENT (No such file or directory)", e.getMessage());
        }
    }

    @Test
    void anOpenPollWindowFindsAReadyEventWithoutSleeping() throws Exception {
        try (Epoll ep = new Epoll(4); EventFd kick = EventFd.create(true)) {
            ep.add(kick.fd(), LibC.EPOLLIN, 5);
            PollWindow w = new PollWindow(1_000_000);
            w.slept(1);   // a short wait opened it
            kick.signal();
            assertEquals(1, ep.waitPolling(w));
            assertEquals(5, ep.data(0));
            assertEquals(1, w.pollHits());
            assertEquals(1, w.sleeps());
        }
    }

    @Test
    void aPollThatFindsNothingSleepsUntilTheEventAndAWaitPastTheMaximumClosesTheWindow() throws Exception {
        try (Epoll ep = new Epoll(4); EventFd kick = EventFd.create(true)) {
            ep.add(kick.fd(), LibC.EPOLLIN, 6);
            PollWindow w = new PollWindow(50_000);
            w.slept(1);
            assertEquals(PollWindow.GROW_START, w.nanos());
            Thread signaller = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(20);
                    kick.signal();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertEquals(1, ep.waitPolling(w));
            signaller.join();
            assertEquals(6, ep.data(0));
            assertEquals(0, w.pollHits());
            assertEquals(2, w.sleeps());
            assertEquals(0, w.nanos(), "a 20 ms wait is past a 50 us maximum");
        }
    }

    /** Grows {@code w} by waits it did not cover until it is at least {@code nanos} wide. */
    static PollWindow opened(PollWindow w, long nanos) {
        while (w.nanos() < nanos) {
            w.slept(w.nanos() + 1);
        }
        return w;
    }

    /** Counts its calls; ready() says yes from its {@code readyAt}-th call on, end() says {@code endSays}. */
    static final class CountingPoller implements Epoll.Poller {
        final int readyAt;
        final boolean endSays;
        int starts;
        int looks;
        int ends;

        CountingPoller(int readyAt, boolean endSays) {
            this.readyAt = readyAt;
            this.endSays = endSays;
        }

        @Override
        public void start() {
            starts++;
        }

        @Override
        public boolean ready() {
            return ++looks >= readyAt;
        }

        @Override
        public boolean end() {
            ends++;
            return endSays;
        }
    }

    @Test
    @Timeout(20)
    void aPollerWithWorkEndsThePollWithoutAnEventAndIsEndedOnce() throws Exception {
        try (Epoll ep = new Epoll(4); EventFd kick = EventFd.create(true)) {
            ep.add(kick.fd(), LibC.EPOLLIN, 7);
            PollWindow w = opened(new PollWindow(60_000_000_000L), 10_000_000_000L);   // stalls cannot end it
            CountingPoller p = new CountingPoller(3, false);
            assertEquals(0, ep.waitPolling(w, p), "no descriptor was ready");
            assertEquals(1, p.starts);
            assertEquals(3, p.looks);
            assertEquals(1, p.ends);
            assertEquals(1, w.pollHits());
        }
    }

    @Test
    @Timeout(20)
    void workReportedWhenThePollEndsIsNotSleptThrough() throws Exception {
        try (Epoll ep = new Epoll(4); EventFd kick = EventFd.create(true)) {
            ep.add(kick.fd(), LibC.EPOLLIN, 8);
            PollWindow w = new PollWindow(50_000);
            w.slept(1);   // a 10 us window: its looks find nothing (the sleep counted here is this one)
            CountingPoller p = new CountingPoller(Integer.MAX_VALUE, true);
            assertEquals(0, ep.waitPolling(w, p), "returned without an event (a sleep would never end)");
            assertEquals(1, p.ends);
            assertEquals(1, w.pollHits());
            assertEquals(1, w.sleeps(), "no sleep besides the one that opened the window");
        }
    }

    @Test
    @Timeout(20)
    void aDescriptorEventEndsThePollerTooAtTheLookThatPollsEpoll() throws Exception {
        try (Epoll ep = new Epoll(4); EventFd kick = EventFd.create(true)) {
            ep.add(kick.fd(), LibC.EPOLLIN, 9);
            PollWindow w = opened(new PollWindow(60_000_000_000L), 10_000_000_000L);
            kick.signal();
            CountingPoller p = new CountingPoller(Integer.MAX_VALUE, false);
            assertEquals(1, ep.waitPolling(w, p));
            assertEquals(9, ep.data(0));
            assertEquals(0, p.looks, "every look polls epoll first");
            assertEquals(1, p.starts);
            assertEquals(1, p.ends);

            // a poller that reads its own descriptors: epoll at every 4th look only
            CountingPoller reads = new CountingPoller(Integer.MAX_VALUE, false);
            assertEquals(1, ep.waitPolling(w, reads, 4), "the ready descriptor is seen at the 4th look");
            assertEquals(9, ep.data(0));
            assertEquals(3, reads.looks, "looks 1-3 asked the poller only");
            assertEquals(1, reads.ends);
            assertThrows(IllegalArgumentException.class, () -> ep.waitPolling(w, reads, 0));
        }
    }

    @Test
    @Timeout(20)
    void waitsThatTheirFirstLookEndsStillPollEpollEveryNthWait() throws Exception {
        try (Epoll ep = new Epoll(4); EventFd channel = EventFd.create(true)) {
            ep.add(channel.fd(), LibC.EPOLLIN, 12);
            PollWindow w = opened(new PollWindow(60_000_000_000L), 10_000_000_000L);
            channel.signal();
            CountingPoller busy = new CountingPoller(1, false);   // work at every look: a busy data path
            assertEquals(0, ep.waitPolling(w, busy, 3));
            assertEquals(0, ep.waitPolling(w, busy, 3));
            assertEquals(1, ep.waitPolling(w, busy, 3), "the channel is not starved by the data path");
            assertEquals(12, ep.data(0));
            assertEquals(2, busy.looks);
        }
    }

    @Test
    @Timeout(20)
    void aClosedWindowNeverCallsThePoller() throws Exception {
        try (Epoll ep = new Epoll(4); EventFd kick = EventFd.create(true)) {
            ep.add(kick.fd(), LibC.EPOLLIN, 10);
            kick.signal();
            CountingPoller p = new CountingPoller(1, true);
            assertEquals(1, ep.waitPolling(new PollWindow(0), p));
            assertEquals(0, p.starts + p.looks + p.ends, "the thread went straight to sleep");
        }
    }

    @Test
    @Timeout(20)
    void aPollThatThrowsStillAsksForNotificationsAgain() throws Exception {
        try (Epoll ep = new Epoll(4)) {
            PollWindow w = opened(new PollWindow(60_000_000_000L), 10_000_000_000L);
            int[] ends = new int[1];
            Epoll.Poller throwing = new Epoll.Poller() {
                @Override
                public void start() {}

                @Override
                public boolean ready() {
                    throw new IllegalStateException("a ring that faults");
                }

                @Override
                public boolean end() {
                    ends[0]++;
                    return false;
                }
            };
            assertThrows(IllegalStateException.class, () -> ep.waitPolling(w, throwing));
            assertEquals(1, ends[0]);
        }
    }
}
