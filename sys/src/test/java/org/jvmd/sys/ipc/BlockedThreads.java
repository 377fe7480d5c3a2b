package org.jvmd.sys.ipc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/** Test helper: wait (without sleeping) until a thread of this process is blocked in a given syscall. */
final class BlockedThreads {
    private BlockedThreads() {}

    /** Waits until the thread whose tid appears in {@code tid} sits in one of {@code nrs} (x86_64 numbers). */
    static void awaitSyscall(AtomicInteger tid, int... nrs) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (tid.get() != 0) {
                try {
                    String sc = Files.readString(Path.of("/proc/self/task/" + tid.get() + "/syscall"));
                    for (int nr : nrs) {
                        if (sc.startsWith(nr + " ")) {
                            return;
                        }
                    }
                } catch (IOException notYet) {
                    // the thread has not started
                }
            }
            Thread.onSpinWait();
        }
        throw new AssertionError("thread " + tid.get() + " never blocked in syscall " + java.util.Arrays.toString(nrs));
    }
}
