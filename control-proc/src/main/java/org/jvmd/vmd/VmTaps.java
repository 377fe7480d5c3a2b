package org.jvmd.vmd;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.net.NetIf;
import org.jvmd.sys.net.Rtnetlink;
import org.jvmd.sys.net.Tap;
import org.jvmd.vmd.config.Config;
import org.jvmd.vmd.config.InterfaceGroups;
import org.jvmd.vmd.config.InterfaceSpec;
import org.jvmd.vmd.config.Ipv4Prefix;
import org.jvmd.vmd.config.Ipv6Prefix;
import org.jvmd.vmd.config.SwitchSpec;

/**
 * The taps of one VM, created and configured by vmd (vmd's priv.c work on Linux): named
 * {@code vmN-ifM} unless configured, MTU, bridge port of their switch (the bridge is created
 * if missing), interface group, gateway address of a local interface (IPv4, and IPv6 with
 * {@code local inet6}), up. vmd keeps these fds; closing them
 * removes the (non-persistent) taps once vmm-proc's copies are closed too.
 */
public final class VmTaps implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmd");

    /** A created tap and, for a local interface, its /31 (gateway = tap side, guest = +1). */
    public record Nic(Tap tap, InterfaceSpec spec, byte[] gateway, byte[] guest) {
        /** The tap passes no unicast for another MAC (the kernel's filter, set by {@link #create} for a locked interface). */
        public boolean filtered() {
            return spec.locked();
        }
    }

    private final List<Nic> nics;

    private VmTaps(List<Nic> nics) {
        this.nics = nics;
    }

    public List<Nic> nics() {
        return nics;
    }

    /** The tap name vmd gives interface {@code index} of VM {@code id}: {@code vm<id>-if<index>}. */
    public static String defaultName(int id, int index) {
        return "vm" + id + "-if" + index;
    }

    /**
     * vmd's vm_priv_addr: VM {@code id}'s interface {@code index} gets the /31 at
     * prefix + (id << 8) + (index << 1); the first address is the gateway, the second the guest.
     */
    public static byte[] localAddress(Ipv4Prefix prefix, int id, int index, boolean guest) {
        byte[] p = prefix.address().getAddress();
        int base = ((p[0] & 0xff) << 24) | ((p[1] & 0xff) << 16) | ((p[2] & 0xff) << 8) | (p[3] & 0xff);
        int a = base + ((id & 0xffff) << 8) + (index << 1) + (guest ? 1 : 0);
        return new byte[] {(byte) (a >>> 24), (byte) (a >>> 16), (byte) (a >>> 8), (byte) a};
    }

    /** Creates and configures every tap of the VM; on failure nothing is left behind. */
    public static VmTaps create(int id, List<InterfaceSpec> interfaces, Config config) throws SysException {
        List<Nic> made = new ArrayList<>();
        try {
            for (int i = 0; i < interfaces.size(); i++) {
                InterfaceSpec spec = interfaces.get(i);
                String name = spec.tapName().orElse(defaultName(id, i));
                Tap tap = Tap.open(name);
                byte[] gw = null;
                byte[] guest = null;
                try {
                    if (spec.locked()) {   // Nic.filtered
                        // no unicast for another MAC reaches vionet, nor so guest memory
                        tap.filterUnicastTo(spec.lladdr().octets());
                    } else {
                        tap.clearFilter();   // a persistent tap keeps an earlier filter
                    }
                    if (spec.mtu().isPresent()) {
                        NetIf.setMtu(name, spec.mtu().getAsInt());
                    }
                    if (spec.switchName().isPresent()) {
                        Optional<SwitchSpec> sw = config == null ? Optional.empty()
                                : config.switchNamed(spec.switchName().get());
                        if (sw.isEmpty()) {
                            throw new SysException("switch " + spec.switchName().get() + " not configured",
                                    org.jvmd.sys.Errno.ENODEV);
                        }
                        joinBridge(sw.get(), name);
                    }
                    Optional<String> group = spec.group().or(() -> switchOf(spec, config).flatMap(SwitchSpec::group));
                    if (group.isPresent()) {
                        joinGroup(name, group.get());
                    }
                    if (spec.local()) {
                        Ipv4Prefix prefix = config == null ? Ipv4Prefix.DEFAULT_LOCAL : config.globals().localPrefix();
                        gw = localAddress(prefix, id, i, false);
                        guest = localAddress(prefix, id, i, true);
                        NetIf.setIpv4(name, gw, 31);
                        if (config != null && config.globals().localInet6()) {
                            Ipv6Prefix prefix6 = config.globals().localPrefix6().orElse(AutoPrefix6.PREFIX);
                            NetIf.addIpv6(name, localAddress6(prefix6, guest), 96);
                        }
                    }
                    if (spec.up()) {
                        NetIf.setUp(name, true);
                    }
                } catch (SysException | RuntimeException e) {
                    tap.close();
                    throw e;
                }
                made.add(new Nic(tap, spec, gw, guest));
            }
        } catch (SysException | RuntimeException e) {
            for (Nic n : made) {
                n.tap().close();
            }
            throw e;
        }
        return new VmTaps(List.copyOf(made));
    }

    /**
     * vmd's vm_priv_addr6: the gateway's IPv6 address of a local interface, on a /96 of the
     * prefix that holds the guest's IPv4 address in bytes 8 to 11, ending in 1 (the guest's
     * would end in 2; vmd does not answer router solicitations, and neither does jvmd).
     */
    public static byte[] localAddress6(Ipv6Prefix prefix, byte[] guest4) {
        byte[] a = prefix.address().getAddress();
        System.arraycopy(guest4, 0, a, 8, 4);
        a[12] = 0;
        a[13] = 0;
        a[14] = 0;
        a[15] = 1;
        return a;
    }

    /**
     * The prefix of {@code local inet6} without {@code prefix}: a random unique local /48
     * (fd00::/8 and 40 random bits, RFC 4193), chosen once per vmd process so reloads keep it.
     */
    private static final class AutoPrefix6 {
        static final Ipv6Prefix PREFIX = randomUla();

        private static Ipv6Prefix randomUla() {
            byte[] a = new byte[16];
            new java.security.SecureRandom().nextBytes(a);
            a[0] = (byte) 0xfd;
            java.util.Arrays.fill(a, 6, 16, (byte) 0);
            try {
                return new Ipv6Prefix((java.net.Inet6Address) java.net.InetAddress.getByAddress(a), 48);
            } catch (java.net.UnknownHostException e) {
                throw new AssertionError(e);
            }
        }
    }

    private static Optional<SwitchSpec> switchOf(InterfaceSpec spec, Config config) {
        return config == null ? Optional.empty() : spec.switchName().flatMap(config::switchNamed);
    }

    /**
     * Puts the tap into the Linux interface group {@code group} names (a number, or a name
     * iproute2 knows; the parser checked it). An interface's own group wins over its switch's:
     * a Linux interface is in one group, an OpenBSD one may be in several.
     */
    static void joinGroup(String tap, String group) throws SysException {
        InterfaceGroups names = InterfaceGroups.system();
        long n = names.resolve(group).orElseThrow(() -> new SysException("interface group " + group
                + " (not a number, not named in " + names.source() + ")", org.jvmd.sys.Errno.ENOENT));
        Rtnetlink.setGroup(NetIf.index(tap), n);
        LOG.log(Level.DEBUG, () -> tap + ": interface group " + group + " (" + n + ")");
    }

    /** Makes {@code port} a port of the switch's bridge, creating the bridge when it is missing. */
    static void joinBridge(SwitchSpec sw, String port) throws SysException {
        String br = sw.ifname();
        if (!NetIf.exists(br)) {
            try {
                NetIf.addBridge(br);
                LOG.log(Level.DEBUG, () -> "switch " + sw.name() + ": created bridge " + br);
            } catch (SysException e) {
                if (e.errno() != org.jvmd.sys.Errno.EEXIST) {
                    throw e;
                }
            }
        }
        if (sw.up()) {
            NetIf.setUp(br, true);
        }
        NetIf.addToBridge(br, port);
    }

    /** Duplicates of the tap fds to hand to vmm-proc (sending closes them). */
    public List<Fd> dupFds() throws SysException {
        List<Fd> out = new ArrayList<>();
        try {
            for (Nic n : nics) {
                out.add(n.tap().fd().dup());
            }
        } catch (SysException e) {
            Fd.closeAll(out);
            throw e;
        }
        return out;
    }

    @Override
    public void close() {
        for (Nic n : nics) {
            n.tap().close();
        }
    }
}
