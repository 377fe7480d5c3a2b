package org.jvmd.it.blk;

import org.jvmd.virtio.GuestFault;

/** What {@link BlkSim#run} keeps in flight: the requests to issue and what to do with each completion. */
public interface Workload {
    /**
     * Fills {@code r} with the next request ({@link BlkRequest#set}, and its data where the
     * device reads it). Returns false when there is nothing more to issue.
     */
    boolean next(BlkRequest r) throws GuestFault;

    /**
     * {@code r} completed with {@code status} (the status byte), {@code usedLen} (the used
     * element's length) after {@code latencyNanos}. Runs on the driver thread before the
     * slot is reused; throw to stop the run.
     */
    void done(BlkRequest r, int status, int usedLen, long latencyNanos) throws GuestFault;
}
