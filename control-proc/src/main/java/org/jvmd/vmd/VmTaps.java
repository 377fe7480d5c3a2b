package org.jvmd.vmd;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.net.NetIf;
import org.jvmd.sys.net.Tap;
import org.jvmd.vmd.config.Config;
import org.jvmd.vmd.config.InterfaceSpec;
import org.jvmd.vmd.config.Ipv4Prefix;
import org.jvmd.vmd.config.SwitchSpec;

/**
 * The taps of one VM, created and configured by vmd (vmd's priv.c work on Linux): named
 * {@code vmN-ifM} unless configured, MTU, bridge port of their switch (the bridge is created
 * if missing), gateway address of a local interface, up. vmd keeps these fds; closing them
 * removes the (non-persistent) taps once vmm-proc's copies are closed too.
 */
public final class VmTaps implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("vmd");

    /** A created tap and, for a local interface, its /31 (gateway = tap side, guest = +1). */
    public record Nic(Tap tap, InterfaceSpec spec, byte[] gateway, byte[] guest) {
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
                    if (spec.local()) {
                        Ipv4Prefix prefix = config == null ? Ipv4Prefix.DEFAULT_LOCAL : config.globals().localPrefix();
                        gw = localAddress(prefix, id, i, false);
                        guest = localAddress(prefix, id, i, true);
                        NetIf.setIpv4(name, gw, 31);
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

    /** Makes {@code port} a port of the switch's bridge, creating the bridge when it is missing. */
    static void joinBridge(SwitchSpec sw, String port) throws SysException {
        String br = sw.ifname();
        if (!NetIf.exists(br)) {
            try {
                NetIf.addBridge(br);
                LOG.fine(() -> "switch " + sw.name() + ": created bridge " + br);
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
