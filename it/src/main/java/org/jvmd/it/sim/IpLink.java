package org.jvmd.it.sim;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Read-only questions to iproute2 about an interface in a network namespace. The simulator
 * configures nothing (scripts/bench-net's hook contract); it only looks.
 */
final class IpLink {
    private IpLink() {}

    private static final Pattern ETHER = Pattern.compile("link/ether ([0-9a-f]{2}(?::[0-9a-f]{2}){5})");

    /** The MAC address of {@code dev} in {@code ns} (null: this process's netns); fails if there is no such interface. */
    static byte[] mac(String ns, String dev) throws IOException {
        String out = ip(ns, "-o", "link", "show", "dev", dev);
        Matcher m = ETHER.matcher(out);
        if (!m.find()) {
            throw new IOException("no Ethernet address for " + dev + " in `ip link show`: " + out.strip());
        }
        return parseMac(m.group(1));
    }

    static byte[] parseMac(String s) {
        String[] parts = s.split(":");
        if (parts.length != 6) {
            throw new IllegalArgumentException("not a MAC address: " + s);
        }
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) {
            mac[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return mac;
    }

    static String format(byte[] mac) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < mac.length; i++) {
            b.append(i == 0 ? "" : ":").append(String.format("%02x", mac[i] & 0xff));
        }
        return b.toString();
    }

    /** Runs {@code ip [-n ns] args...}; its stdout, or an IOException with its stderr. */
    static String ip(String ns, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add("ip");
        if (ns != null) {
            cmd.add("-n");
            cmd.add(ns);
        }
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + ": timed out");
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + ": " + out.strip());
            }
            return out;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
