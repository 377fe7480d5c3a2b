package org.jvmd.virtio;

/**
 * A device for tests: copies each chain's readable bytes into its writable buffers (as far
 * as they reach) and completes it with the number of bytes written.
 */
final class EchoDevice {
    final SplitQueue queue;
    final DescriptorChain chain;
    private byte[] scratch = new byte[4096];

    EchoDevice(SplitQueue queue) {
        this.queue = queue;
        this.chain = queue.newChain();
    }

    /** Serves up to {@code max} chains and publishes; returns how many were served. */
    int serve(int max) throws GuestFault {
        int served = 0;
        while (served < max && queue.pop(chain)) {
            echo();
            served++;
        }
        queue.publish();
        return served;
    }

    void echo() throws GuestFault {
        int n = (int) Math.min(chain.readableBytes(), chain.writableBytes());
        if (scratch.length < n) {
            scratch = new byte[n];
        }
        int got = chain.gather(0, scratch, 0, n);
        int put = chain.scatter(0, scratch, 0, got);
        queue.push(chain.head(), put);
    }
}
