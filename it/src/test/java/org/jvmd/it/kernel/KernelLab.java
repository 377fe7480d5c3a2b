package org.jvmd.it.kernel;

import org.jvmd.virtio.net.TunFlags;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.jvmd.sys.SysException;
import org.jvmd.sys.net.Netns;
import org.jvmd.sys.net.Tap;

/**
 * Two private network namespaces with three taps, all created here and deleted by
 * {@link #close}:
 * <pre>
 *  namespace "jvmd-kv-R" (the sender)             namespace "jvmd-kv-R-fw" (the forwarder)
 *  sockets ── kvtx0 (offloads on) ─ test reads ─▶ write ─ kvin0 ──ip_forward──▶ kvout0 (offloads off) ─▶ test reads
 *  100.64.1.1 fd00:6a76:1::1                      peer MAC                      MAC OUT_MAC
 *  peer 100.64.1.2 fd00:6a76:1::2 = PEER_MAC       routes to the peer via kvout0, next hop NEXT_HOP_MAC
 * </pre>
 * The sender's kernel hands its frames (partial checksums, GSO super-frames) to the test
 * through {@link #wire}; writing one of them into {@link #fwIn} makes the forwarder's
 * kernel route it out of {@link #fwOut}, which takes no offload, so the kernel finishes
 * checksums and segments GSO frames in software before the test reads them.
 */
final class KernelLab implements AutoCloseable {
    static final byte[] TX_MAC = mac(0x01, 0x01);
    static final byte[] PEER_MAC = mac(0x01, 0x02);
    static final byte[] OUT_MAC = mac(0x03, 0x01);
    static final byte[] NEXT_HOP_MAC = mac(0x03, 0x02);
    static final byte[] LOCAL4 = ip("100.64.1.1");
    static final byte[] PEER4 = ip("100.64.1.2");
    static final byte[] LOCAL6 = ip("fd00:6a76:1::1");
    static final byte[] PEER6 = ip("fd00:6a76:1::2");

    /** Every offload a tap reader can take, USO included (Linux 6.2+). */
    static final int ALL_OFFLOADS = TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6 | TunFlags.TSO_ECN
        | TunFlags.USO4 | TunFlags.USO6;

    final String tx;
    final String fw;
    private final List<AutoCloseable> open = new ArrayList<>();
    private final List<String> namespaces = new ArrayList<>();
    TapPort wire;
    TapPort fwIn;
    TapPort fwOut;
    /** The TUN_F_* flags the sender's tap took. */
    int wireOffloads;

    private KernelLab() {
        String r = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000000));
        tx = "jvmd-kv-" + r;
        fw = tx + "-fw";
    }

    static KernelLab create() throws Exception {
        KernelLab lab = new KernelLab();
        try {
            lab.setUp();
            return lab;
        } catch (Exception | Error e) {
            lab.close();
            throw e;
        }
    }

    private void setUp() throws Exception {
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new IllegalStateException("kernel test vectors need root (network namespaces and taps)");
        }
        sh("ip", "netns", "add", tx);
        namespaces.add(tx);
        sh("ip", "netns", "add", fw);
        namespaces.add(fw);

        // The sender: classic ECN so that an ECE from the peer puts CWR on a GSO frame.
        sysctl(tx, "net.ipv4.tcp_ecn=1");
        wire = port(tx, "kvtx0");
        wireOffloads = setBestOffloads(wire.tap());
        link(tx, "kvtx0", TX_MAC);
        sh("ip", "-n", tx, "addr", "add", "100.64.1.1/24", "dev", "kvtx0");
        sh("ip", "-n", tx, "-6", "addr", "add", "fd00:6a76:1::1/64", "dev", "kvtx0", "nodad");
        neigh(tx, "100.64.1.2", PEER_MAC, "kvtx0");
        neigh(tx, "fd00:6a76:1::2", PEER_MAC, "kvtx0");

        // The forwarder: kvin0 wears the peer's MAC, so the sender's frames are addressed to it;
        // kvout0 queues strictly first in, first out, so a marker written after a frame leaves
        // after every segment of it.
        sysctl(fw, "net.ipv4.ip_forward=1");
        sysctl(fw, "net.ipv6.conf.all.forwarding=1");
        sysctl(fw, "net.ipv4.conf.all.rp_filter=0");
        sysctl(fw, "net.ipv4.conf.default.rp_filter=0");
        fwIn = port(fw, "kvin0");
        fwOut = port(fw, "kvout0");
        fwOut.tap().setOffload(0);
        link(fw, "kvin0", PEER_MAC);
        link(fw, "kvout0", OUT_MAC);
        sh("tc", "-n", fw, "qdisc", "replace", "dev", "kvout0", "root", "pfifo");
        sh("ip", "-n", fw, "addr", "add", "100.64.2.1/24", "dev", "kvin0");
        sh("ip", "-n", fw, "addr", "add", "100.64.3.1/24", "dev", "kvout0");
        sh("ip", "-n", fw, "-6", "addr", "add", "fd00:6a76:2::1/64", "dev", "kvin0", "nodad");
        sh("ip", "-n", fw, "-6", "addr", "add", "fd00:6a76:3::1/64", "dev", "kvout0", "nodad");
        sh("ip", "-n", fw, "route", "add", "100.64.1.1/32", "dev", "kvin0");
        sh("ip", "-n", fw, "route", "add", "100.64.1.2/32", "dev", "kvout0");
        sh("ip", "-n", fw, "-6", "route", "add", "fd00:6a76:1::1/128", "dev", "kvin0");
        sh("ip", "-n", fw, "-6", "route", "add", "fd00:6a76:1::2/128", "dev", "kvout0");
        neigh(fw, "100.64.1.1", TX_MAC, "kvin0");
        neigh(fw, "fd00:6a76:1::1", TX_MAC, "kvin0");
        neigh(fw, "100.64.1.2", NEXT_HOP_MAC, "kvout0");
        neigh(fw, "fd00:6a76:1::2", NEXT_HOP_MAC, "kvout0");
    }

    /** TUNSETOFFLOAD with USO if this kernel knows it (6.2+), else without. */
    private static int setBestOffloads(Tap tap) throws SysException {
        try {
            tap.setOffload(ALL_OFFLOADS);
            return ALL_OFFLOADS;
        } catch (SysException e) {
            int noUso = ALL_OFFLOADS & ~(TunFlags.USO4 | TunFlags.USO6);
            tap.setOffload(noUso);
            return noUso;
        }
    }

    boolean uso() {
        return (wireOffloads & TunFlags.USO4) != 0;
    }

    private TapPort port(String ns, String name) throws Exception {
        Tap t = Netns.call(ns, () -> Tap.open(name));
        open.add(t);
        return new TapPort(t);
    }

    private static void link(String ns, String dev, byte[] mac) throws Exception {
        sh("ip", "-n", ns, "link", "set", "dev", dev, "address", macString(mac), "up");
    }

    private static void neigh(String ns, String addr, byte[] mac, String dev) throws Exception {
        sh("ip", "-n", ns, "neigh", "replace", addr, "lladdr", macString(mac), "dev", dev, "nud", "permanent");
    }

    private static void sysctl(String ns, String setting) throws Exception {
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", setting);
    }

    /** Closes the taps and deletes both namespaces; collects failures and throws the first. */
    @Override
    public void close() throws Exception {
        Exception first = null;
        for (AutoCloseable c : open.reversed()) {
            try {
                c.close();
            } catch (Exception e) {
                first = first == null ? e : first;
            }
        }
        open.clear();
        for (String ns : namespaces.reversed()) {
            try {
                sh("ip", "netns", "del", ns);
            } catch (Exception e) {
                first = first == null ? e : first;
            }
        }
        namespaces.clear();
        if (first != null) {
            throw first;
        }
    }

    static String sh(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) {
            throw new IOException(String.join(" ", cmd) + ": exit " + rc + ": " + out.strip());
        }
        return out;
    }

    private static byte[] mac(int a, int b) {
        return new byte[] {0x02, 0x6a, 0x76, 0x00, (byte) a, (byte) b};
    }

    static String macString(byte[] mac) {
        StringBuilder s = new StringBuilder();
        for (byte x : mac) {
            s.append(s.isEmpty() ? "" : ":").append(String.format("%02x", x & 0xFF));
        }
        return s.toString();
    }

    private static byte[] ip(String literal) {
        try {
            return InetAddress.getByName(literal).getAddress();
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }
}
