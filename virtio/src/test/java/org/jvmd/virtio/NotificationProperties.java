package org.jvmd.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * The notification protocol of both sides, as the device loop in {@link SplitQueue}'s
 * documentation and Linux's driver run it: a device that works only when kicked and a
 * driver that reaps only when interrupted, with the other side acting at every step in
 * between (the single-threaded interleavings of the races the re-checks close). Nothing may
 * be left behind: no lost kick, no lost interrupt, with or without EVENT_IDX. The device may
 * also poll before it sleeps, as vionet does ({@link SplitQueue#quiet}): then the guest must
 * not kick at all, and what it added meanwhile must still be found.
 */
class NotificationProperties {
    static final long BUF = 0x40000;

    @Provide
    Arbitrary<List<Integer>> schedules() {
        return Arbitraries.integers().between(0, 4).list().ofMinSize(1).ofMaxSize(120);
    }

    /** Both sides, the pending kick and the pending interrupt. */
    static final class World {
        final DriverQueue driver;
        final SplitQueue queue;
        final EchoDevice device;
        final Random random;
        boolean kicked;
        boolean interrupted;
        int toAdd;
        int reaped;
        int added;
        boolean polling;
        int kicksWhilePolling;

        World(DriverQueue driver, SplitQueue queue, Random random, int chains) {
            this.driver = driver;
            this.queue = queue;
            this.device = new EchoDevice(queue);
            this.random = random;
            this.toAdd = chains;
        }

        /** The guest adds one chain if it can, and kicks if the device asks for it. */
        void driverAdd() throws GuestFault {
            if (toAdd == 0 || driver.numFree() == 0) {
                return;
            }
            if (driver.size() > 1) {
                driver.readable(BUF, 16);
            }
            driver.writable(BUF + 0x100, 16).add();
            toAdd--;
            added++;
            if (driver.kick()) {
                kicked = true;
                if (polling) {
                    kicksWhilePolling++;
                }
            }
        }

        /** Maybe lets the guest act now, in the middle of the device's loop. */
        void guestMayAct() throws GuestFault {
            while (random.nextInt(3) == 0) {
                driverAdd();
            }
        }

        /** Maybe lets the device act now, in the middle of the driver's interrupt handler. */
        void deviceMayAct() throws GuestFault {
            if (kicked && random.nextInt(3) == 0) {
                deviceRun();
            }
        }

        /** The device's kick handler: the loop documented on SplitQueue. */
        void deviceRun() throws GuestFault {
            kicked = false;
            for (;;) {
                queue.disableNotifications();
                guestMayAct();
                while (queue.pop(device.chain)) {
                    device.echo();
                    guestMayAct();
                }
                queue.publish();
                guestMayAct();
                if (queue.needsInterrupt()) {
                    interrupted = true;
                }
                guestMayAct();
                if (!queue.enableNotifications()) {
                    break;
                }
            }
        }

        /**
         * The device polls before it would sleep (VionetLoop's wait through Epoll.waitPolling):
         * kicks off, a few looks at the ring (a kick already pending counts as work), kicks on
         * again; whatever was found, or reported by turning kicks on, is run.
         */
        void devicePoll() throws GuestFault {
            queue.quiet();
            polling = true;
            boolean work = false;
            int looks = 1 + random.nextInt(4);
            for (int i = 0; i < looks && !work; i++) {
                guestMayAct();
                work = kicked || queue.hasAvailable();
            }
            guestMayAct();
            work |= queue.enableNotifications();
            polling = false;
            if (work) {
                deviceRun();
            }
        }

        /** The guest's interrupt handler, in the shape of Linux's virtnet_poll. */
        void driverInterrupt() throws GuestFault {
            interrupted = false;
            for (;;) {
                driver.disableInterrupts();
                deviceMayAct();
                while (driver.reap() != DriverQueue.NONE) {
                    reaped++;
                    deviceMayAct();
                }
                deviceMayAct();
                if (!driver.enableInterrupts()) {
                    break;
                }
            }
        }
    }

    @Property(tries = 300)
    void noKickOrInterruptIsLost(@ForAll("schedules") List<Integer> schedule,
                                 @ForAll @IntRange(min = 0, max = 4) int sizeExp,
                                 @ForAll boolean eventIdx,
                                 @ForAll long seed) throws GuestFault {
        int size = 1 << sizeExp;
        long features = eventIdx ? 1L << Virtq.F_EVENT_IDX : 0;
        HeapGuestMemory mem = new HeapGuestMemory(1 << 20);
        DriverQueue driver = DriverQueue.create(mem, new GuestAllocator(mem, 0x1000, BUF), size, features, 1);
        SplitQueue queue = new SplitQueue(mem, size, new QueueCounters());
        queue.activate(driver.layout(), features);
        World w = new World(driver, queue, new Random(seed), 3 * size + 5);

        for (int step : schedule) {
            switch (step) {
                case 0, 1 -> w.driverAdd();
                case 2 -> { if (w.kicked) w.deviceRun(); }
                case 3 -> { if (w.interrupted) w.driverInterrupt(); }
                default -> w.devicePoll();
            }
        }
        // From here on each side acts only on a notification: anything lost stays behind.
        while (w.kicked || w.interrupted || (w.toAdd > 0 && driver.numFree() > 0)) {
            if (w.kicked) {
                w.deviceRun();
            } else if (w.interrupted) {
                w.driverInterrupt();
            } else {
                w.driverAdd();
            }
        }
        assertEquals(0, w.toAdd, "the guest ran out of descriptors: completions were never reaped");
        assertEquals(w.added, w.reaped, "chains left behind");
        assertEquals(size, driver.numFree());
        assertEquals(0, w.kicksWhilePolling, "the guest kicked a device that was polling its ring");
    }
}
