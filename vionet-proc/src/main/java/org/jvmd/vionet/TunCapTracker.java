package org.jvmd.vionet;

import org.jvmd.virtio.net.TunFlags;

/**
 * What the tap may hand the device, as TUN_F_* flags (TUNSETOFFLOAD), as far as vionet
 * knows: a pure state machine over the TUNSCAP requests vionet sends up its channel and the
 * privileged side's answers, which come in request order.
 *
 * <ul>
 * <li>Until an answer says otherwise the tap may hand anything ({@link TunFlags#ALL}).</li>
 * <li>A request in flight may already be applied: its flags count as possible.</li>
 * <li>An answer sets the tap's flags (those requested when applied, those the answer names
 *     when refused). Frames already queued in the tap were made under the old flags, so
 *     what the old flags allowed stays possible (stale) until the tap reads empty once.</li>
 * <li>At most {@link #MAX_INFLIGHT} requests are remembered; when the other side stopped
 *     answering the oldest is forgotten (answers then match the newest).</li>
 * </ul>
 */
final class TunCapTracker {
    static final int MAX_INFLIGHT = 16;
    /** Both USO flags: the tap takes UDP segmentation offload (Linux 6.2+). */
    static final int USO = TunFlags.USO4 | TunFlags.USO6;

    private int tapFlags = TunFlags.ALL;
    private int staleFlags;
    private final int[] inflight = new int[MAX_INFLIGHT];
    private int head;
    private int count;
    private boolean usoKnown;

    /** Records a TUNSCAP request for {@code flags}, just sent. */
    void requested(int flags) {
        if (count == MAX_INFLIGHT) {
            head = (head + 1) % MAX_INFLIGHT;
            count--;
        }
        inflight[(head + count) % MAX_INFLIGHT] = flags;
        count++;
    }

    /**
     * The answer to the oldest request in flight: applied ({@code ok}) or refused, in which
     * case {@code applied} is what the tap kept. Returns the flags that were requested, or
     * -1 if no request was in flight (the answer is then ignored).
     */
    int answered(boolean ok, int applied) {
        if (count == 0) {
            return -1;
        }
        int requested = inflight[head];
        int before = mayGive();
        head = (head + 1) % MAX_INFLIGHT;
        count--;
        tapFlags = ok ? requested : applied;
        if (ok && (requested & USO) == USO) {
            usoKnown = true;
        }
        staleFlags = before & ~tapFlags;
        return requested;
    }

    /** The tap read empty (EAGAIN): every frame made under older flags is gone. */
    void tapEmpty() {
        staleFlags = 0;
    }

    /** Every flag a frame read from the tap now may carry. */
    int mayGive() {
        int f = tapFlags | staleFlags;
        for (int i = 0; i < count; i++) {
            f |= inflight[(head + i) % MAX_INFLIGHT];
        }
        return f;
    }

    /** The flags of the last answer (what the tap was set to). */
    int tapFlags() {
        return tapFlags;
    }

    /** True once the tap took USO: the transmit path may hand it USO frames. */
    boolean usoKnown() {
        return usoKnown;
    }

    /** Requests not answered yet. */
    int inFlight() {
        return count;
    }
}
