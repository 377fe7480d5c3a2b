package org.jvmd.testkit;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A network namespace a test made ({@code /run/netns/NAME}), with its loopback up; given to
 * tests by {@link NetnsTest}. To open a socket or a tap inside it, run the code on a thread
 * that entered it ({@code org.jvmd.sys.net.Netns.call(ns.name(), ...)}).
 */
public final class NetNs implements AutoCloseable {
    private static final AtomicInteger SEQ = new AtomicInteger();
    private final String name;
    private boolean removed;

    private NetNs(String name) {
        this.name = name;
    }

    /**
     * Creates namespace {@code jt-<hint>-<pid>-<n>} (hint cut so that the name stays short)
     * and brings its loopback up; removes it again if that fails.
     */
    public static NetNs create(String hint) throws IOException, InterruptedException {
        String h = hint.replaceAll("[^A-Za-z0-9]", "");
        String name = "jt-" + h.substring(0, Math.min(h.length(), 16)) + "-" + ProcessHandle.current().pid()
                + "-" + SEQ.incrementAndGet();
        Shell.sh("ip", "netns", "add", name);
        NetNs ns = new NetNs(name);
        try {
            ns.ip("link", "set", "lo", "up");
        } catch (IOException | InterruptedException | RuntimeException e) {
            ns.close();
            throw e;
        }
        return ns;
    }

    public String name() {
        return name;
    }

    /** {@code ip -n NAME args...}: its output. */
    public String ip(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ip", "-n", name));
        cmd.addAll(List.of(args));
        return Shell.sh(cmd);
    }

    /** {@code ip netns exec NAME cmd...}: its output. */
    public String exec(String... cmd) throws IOException, InterruptedException {
        return Shell.sh(execCommand(cmd));
    }

    /** The command line that runs {@code cmd} inside this namespace (for a ProcessBuilder the test manages itself). */
    public List<String> execCommand(String... cmd) {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", name));
        all.addAll(List.of(cmd));
        return all;
    }

    /** Whether {@code /run/netns/NAME} still exists. */
    public boolean exists() throws IOException, InterruptedException {
        return Shell.sh("ip", "netns", "list").lines().anyMatch(l -> l.equals(name) || l.startsWith(name + " "));
    }

    /** Removes the namespace (and with it every device still in it); again: nothing. */
    @Override
    public void close() throws IOException, InterruptedException {
        if (!removed) {
            removed = true;
            Shell.sh("ip", "netns", "del", name);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
