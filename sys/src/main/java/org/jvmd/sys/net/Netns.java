package org.jvmd.sys.net;

import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;

/**
 * Runs code inside a named network namespace ({@code ip netns add NAME}, i.e. the file
 * /run/netns/NAME). setns(2) moves only the calling thread, so the work runs on a fresh
 * thread that ends afterwards; descriptors it opens (a tap, a socket) stay bound to the
 * namespace they were created in.
 */
public final class Netns {
    private Netns() {}

    public static <T> T call(String name, Callable<T> work) throws Exception {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Exception> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("netns-" + name).unstarted(() -> {
            try (Fd ns = LibC.open("/run/netns/" + name, LibC.O_RDONLY)) {
                LibC.setns(ns.num(), LibC.CLONE_NEWNET);
                result.set(work.call());
            } catch (Exception e) {
                failure.set(e);
            }
        });
        t.start();
        t.join();
        if (failure.get() != null) {
            throw failure.get();
        }
        return result.get();
    }
}
