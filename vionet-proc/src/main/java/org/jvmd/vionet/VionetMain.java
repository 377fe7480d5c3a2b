package org.jvmd.vionet;

import com.google.protobuf.MessageLite;
import java.io.IOException;
import java.util.List;
import org.jvmd.proto.Error;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.Frames;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.Ready;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.VionetInit;
import org.jvmd.sys.Fd;
import org.jvmd.sys.device.DeviceMain;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.net.Tap;
import org.jvmd.sys.proc.Role;
import org.jvmd.sys.proc.Shed;
import org.jvmd.sys.log.Logs;

/**
 * vionet-proc: the unprivileged virtio-net device process (vmd's vionet). Acquire, then
 * shed ({@link DeviceMain}): it receives its channel (fd 3), the init message with the
 * guest memfd, the tap, the kick and call eventfds; maps guest memory, adopts the tap,
 * closes everything else; loads what it will need; drops to the unprivileged user in an
 * empty chroot with a seccomp filter that leaves no open, socket, exec or ioctl; answers
 * Ready; and runs the data path ({@link VionetLoop}, {@link Vionet}) until Shutdown or end
 * of file.
 */
public final class VionetMain implements DeviceMain.Device<VionetMain.Setup> {
    private static final DeviceMain<Setup> PROCESS = new DeviceMain<>("vionet", Role.VIONET, new VionetMain());

    private VionetMain() {}

    public static void main(String[] args) {
        PROCESS.main(args);
    }

    /** What acquire took: the drop's user and chroot as init names them, the NIC, its tap and loop. */
    record Setup(String user, String chroot, VionetConfig cfg, Tap tap, VionetLoop loop) implements DeviceMain.Setup {}

    /** Takes the init message and its descriptors; maps memory and adopts the tap. */
    @Override
    public Setup acquire(Channel ch) throws IOException {
        try (Received<ToVionet> r = ch.receive(ToVionet.parser(), DeviceMain.INIT_TIMEOUT_MS)) {
            ToVionet m = r.message();
            if (!m.hasInit()) {
                throw new IOException("first message is " + m.getMsgCase() + ", not init");
            }
            VionetInit init = m.getInit();
            Logs.title(init.getTitle());
            VionetConfig cfg = VionetConfig.from(init.getNic());
            List<MappedGuestMemory.Range> ranges = DeviceMain.ranges(init.getRegionsList());
            MappedGuestMemory memory;
            try (Fd memfd = DeviceMain.take(r, FdRole.FD_MEMFD, 0, true)) {
                memory = MappedGuestMemory.map(memfd, ranges);
            }
            Tap tap = Tap.adopt(DeviceMain.take(r, FdRole.FD_TAP, 0, true), init.getNic().getTapName());
            Fd[] kicks = new Fd[3];
            kicks[Vionet.RX] = DeviceMain.take(r, FdRole.FD_KICK, Vionet.RX, true);
            kicks[Vionet.TX] = DeviceMain.take(r, FdRole.FD_KICK, Vionet.TX, true);
            kicks[Vionet.CTRL] = DeviceMain.take(r, FdRole.FD_KICK, Vionet.CTRL, false);
            Fd[] calls = DeviceMain.calls(r);
            VionetLoop loop = new VionetLoop(ch, tap, kicks, calls);
            Vionet vionet = new Vionet(cfg, memory, new NativeTapIo(tap, memory), loop, loop);
            loop.attach(vionet);
            return new Setup(init.getUser(), init.getChroot(), cfg, tap, loop);
            // every descriptor not taken is closed here
        }
    }

    /**
     * The drop, chroot not yet set. It preloads vionet's own classes and those of the modules
     * it runs on, not every org.jvmd class on the class path (vmm-proc's, whose class path
     * vionet shares, never run here).
     */
    @Override
    public Shed shedding(Shed shed, Setup s) {
        FromVionet sample = ready(s);
        return shed.preloadPackages("org.jvmd.vionet.", "org.jvmd.virtio.", "org.jvmd.sys.", "org.jvmd.proto.")
                .warmup(() -> warmup(sample))
                .warmupOnce("vionet device core", VionetWarmup::run); // ahead of init too (DeviceMain)
    }

    @Override
    public FromVionet ready(Setup s) {
        return FromVionet.newBuilder().setReady(Ready.newBuilder().setProcess(Logs.title())
                .setPid((int) ProcessHandle.current().pid())).build();
    }

    @Override
    public String describe(Setup s) {
        return "tap " + s.tap.name() + ", features offered 0x" + Long.toHexString(s.cfg.offered());
    }

    @Override
    public MessageLite error(Error e) {
        return FromVionet.newBuilder().setError(e).build();
    }

    @Override
    public int serve(Setup s) throws IOException {
        return s.loop.run();
    }

    /**
     * Exercises what runs after the drop, so that every class it touches is loaded while
     * files can still be opened: the messages both ways and a device core on heap memory.
     */
    private static void warmup(FromVionet sample) {
        try {
            Frames.encode(sample);
            Frames.encode(VionetLoop.error("warm-up"));
            for (ToVionet.MsgCase c : ToVionet.MsgCase.values()) {
                c.getNumber();
            }
        } catch (IOException e) {
            throw new IllegalStateException("warm-up: " + e.getMessage(), e);
        }
    }
}
