package org.jvmd.vioblk;

import com.google.protobuf.MessageLite;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.Error;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.Frames;
import org.jvmd.proto.FromVioblk;
import org.jvmd.proto.Ready;
import org.jvmd.proto.ToVioblk;
import org.jvmd.proto.VioblkInit;
import org.jvmd.proto.VioblkReady;
import org.jvmd.qcow2.BackingChain;
import org.jvmd.qcow2.DiskImage;
import org.jvmd.qcow2.ImageException;
import org.jvmd.qcow2.ImageFormat;
import org.jvmd.qcow2.Layer;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.FileIo;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.LibC;
import org.jvmd.sys.NativeBuffer;
import org.jvmd.sys.SysException;
import org.jvmd.sys.device.DeviceMain;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.proc.Role;
import org.jvmd.sys.proc.Shed;
import org.jvmd.virtio.blk.BlockBackend;
import org.jvmd.virtio.blk.Vioblk;
import org.jvmd.virtio.blk.VioblkLimits;
import org.jvmd.virtio.blk.VirtioBlk;
import org.jvmd.sys.log.Logs;

/**
 * vioblk-proc: the unprivileged virtio-blk device process, one per disk (vmd's vioblk.c).
 * Acquire, then shed ({@link DeviceMain}): it receives its channel (fd 3), then {@code VioblkInit} with the
 * guest memfd, the image (and a qcow2 disk's read-only base chain, FD_DISK layers 1..n),
 * the request queue's kick eventfd and a call eventfd per MSI-X vector; maps guest memory,
 * opens the image (sizes a raw one; reads a qcow2 one's header and tables through the qcow2
 * library), closes everything else; loads what it will need; drops to the unprivileged user in an empty chroot with no_new_privs and the disk
 * seccomp profile (no open, socket, exec, ioctl, truncate or flock); answers
 * {@code VioblkReady} with the geometry; and serves the guest ({@link VioblkLoop},
 * {@link Vioblk}, {@link RawBackend} or {@link Qcow2Backend}, {@link IoPool}) until Shutdown
 * or end of file, then closes the image (a qcow2 image writes back its cached metadata).
 */
public final class VioblkMain implements DeviceMain.Device<VioblkMain.Setup> {
    private static final System.Logger LOG = System.getLogger(VioblkMain.class.getName());

    /** The class a parent starts (vmm-proc's proxy, the block-driver simulator). */
    public static final String MAIN_CLASS = Role.VIOBLK.mainClass();
    /**
     * {@code -Djvmd.vioblk.inlineLone=false}: hand even a lone request to an I/O thread
     * (see {@link Vioblk#serveLoneRequestsInline}; on by default: two thread wake-ups fewer
     * per request at queue depth 1).
     */
    public static final String INLINE_PROPERTY = "jvmd.vioblk.inlineLone";
    private static final DeviceMain<Setup> PROCESS = new DeviceMain<>("vioblk", Role.VIOBLK, new VioblkMain());

    private VioblkMain() {}

    public static void main(String[] args) {
        PROCESS.main(args);
    }

    /** AOT training (JEP 514): the start-up up to the drop, without a parent, memory or image. */
    static int train() {
        return PROCESS.train();
    }

    @Override
    public int serve(Setup s) throws IOException {
        if (s.uring != null) {
            // after the drop: the ring refuses what it must, and no new ring can be made
            LOG.log(Level.INFO, "io_uring confined: " + s.uring.checkConfined());
        }
        int status = s.loop.run();
        if (s.uring != null) {
            LOG.log(Level.INFO, "io_uring: " + s.uring.summary());
        }
        try {
            // Requests in flight have drained: a qcow2 image writes back its cached metadata
            // (refcounts lowered since the last flush), a raw one has nothing to write.
            s.backend.close();
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "closing the image: " + e.getMessage());
            return status == 0 ? 1 : status;
        }
        return status;
    }

    @Override
    public String describe(Setup s) {
        return s.vioblk.capacitySectors() + " sectors" + (s.vioblk.readOnly() ? ", read-only" : "")
                + ", " + s.dataPath;
    }

    @Override
    public MessageLite error(Error e) {
        return FromVioblk.newBuilder().setError(e).build();
    }

    /** What acquire took: the drop's user and chroot as init names them, the device, its loop, threads and image. */
    record Setup(String user, String chroot, Vioblk vioblk, VioblkLoop loop, IoPool pool, BlockBackend backend,
            UringIo uring, String dataPath) implements DeviceMain.Setup {}

    /** Takes the init message and its descriptors; maps memory, sizes the image. */
    @Override
    public Setup acquire(Channel ch) throws IOException {
        try (Received<ToVioblk> r = ch.receive(ToVioblk.parser(), DeviceMain.INIT_TIMEOUT_MS)) {
            ToVioblk m = r.message();
            if (!m.hasInit()) {
                throw new IOException("first message is " + m.getMsgCase() + ", not init");
            }
            VioblkInit init = m.getInit();
            Logs.title(init.getTitle());
            DiskConfig disk = init.getDisk();
            List<MappedGuestMemory.Range> ranges = DeviceMain.ranges(init.getRegionsList());
            List<Fd> layers = takeLayers(r, disk);
            BlockBackend backend;
            boolean readOnly;
            MappedGuestMemory memory = null;
            try {
                readOnly = disk.getReadOnly() || accessMode(layers.get(0)) == LibC.O_RDONLY;
                try (Fd memfd = DeviceMain.take(r, FdRole.FD_MEMFD, 0, true)) {
                    memory = MappedGuestMemory.map(memfd, ranges);
                }
                backend = backend(disk, layers, memory, readOnly);
            } catch (IOException | RuntimeException e) {
                Fd.closeAll(layers);
                if (memory != null) {
                    memory.close();
                }
                throw e;
            }
            Fd kick = DeviceMain.take(r, FdRole.FD_KICK, VirtioBlk.REQUEST_QUEUE, true);
            Fd[] calls = DeviceMain.calls(r);
            EventFd done = EventFd.create(true);
            IoPool pool = new IoPool(Logs.title(), done, IoPool.defaultThreads());
            VioblkLoop loop = new VioblkLoop(ch, kick, calls, done, pool, disk.getIndex());
            StringBuilder why = new StringBuilder();
            // a qcow2 disk's every layer is a fixed file of the ring (layer n is file n), registered here, before the drop
            UringIo uring = switch (backend) {
                case RawBackend raw -> UringIo.open(raw, pool, done, VioblkLimits.DEFAULT.segMax(), why);
                case Qcow2Backend q -> UringIo.open(layers, q.image(), memory, pool, done,
                        VioblkLimits.DEFAULT.segMax(), why);
                default -> null;
            };
            if (uring == null && why.isEmpty()) {
                why.append("not raw or qcow2");
            }
            String dataPath = uring != null
                    ? "data path io_uring (confined ring, " + UringIo.ENTRIES + " entries"
                            + (uring.async() ? ", IOSQE_ASYNC" : "") + ", " + layers.size() + " fixed file"
                            + (layers.size() == 1 ? "" : "s") + (backend instanceof Qcow2Backend
                                    ? "; qcow2 allocation, copy-on-write, compressed clusters" : "")
                            + "; flush, discard, zeroes on " + pool.threads() + " I/O threads)"
                    : "data path " + pool.threads() + " I/O threads, preadv/pwritev (no io_uring: " + why + ")";
            LOG.log(Level.INFO, dataPath);
            loop.useUring(uring);
            Vioblk vioblk = new Vioblk(backend, readOnly, disk.getSerial(), VioblkLimits.DEFAULT, memory,
                    uring != null ? uring : pool::submit, loop, loop);
            vioblk.serveLoneRequestsInline(Boolean.parseBoolean(System.getProperty(INLINE_PROPERTY, "true")));
            loop.attach(vioblk);
            return new Setup(init.getUser(), init.getChroot(), vioblk, loop, pool, backend, uring, dataPath);
            // every descriptor not taken (strays beyond the layers base_formats names) is closed here
        }
    }

    /**
     * The disk's layer descriptors: layer 0 its own image, then one per
     * {@code base_formats} entry (the base chain vmd resolved), all taken from the message.
     */
    private static List<Fd> takeLayers(Received<ToVioblk> r, DiskConfig disk) throws IOException {
        if (disk.getBaseFormatsCount() > MAX_LAYERS - 1) {
            throw new IOException(what(disk) + ": " + disk.getBaseFormatsCount() + " base layers (at most "
                    + (MAX_LAYERS - 1) + ")");
        }
        List<Fd> layers = new ArrayList<>();
        try {
            for (int l = 0; l <= disk.getBaseFormatsCount(); l++) {
                layers.add(takeDisk(r, disk.getIndex(), l));
            }
        } catch (IOException | RuntimeException e) {
            Fd.closeAll(layers);
            throw e;
        }
        return layers;
    }

    /** At most this many layers (image and bases): the qcow2 library's chain bound. */
    static final int MAX_LAYERS = BackingChain.MAX_DEPTH;

    private static String what(DiskConfig disk) {
        return "disk " + disk.getIndex() + " (" + disk.getPath() + ")";
    }

    /**
     * The backend for the disk's format: a raw image by preadv/pwritev on guest memory
     * ({@link RawBackend}), a qcow2 image and its bases through the qcow2 library
     * ({@link Qcow2Backend}). The layers are adopted (closed on failure by the caller only
     * while none was adopted: the library takes them all or none).
     */
    private static BlockBackend backend(DiskConfig disk, List<Fd> layers, MappedGuestMemory memory, boolean readOnly)
            throws IOException {
        return switch (disk.getFormat()) {
            case FORMAT_RAW -> {
                if (layers.size() > 1) {
                    throw new IOException(what(disk) + ": a raw image has no base, but " + (layers.size() - 1)
                            + " base layer(s) were given");
                }
                yield new RawBackend(layers.get(0), memory, RawBackend.sizeOf(layers.get(0)));
            }
            case FORMAT_QCOW2 -> {
                List<Layer> ls = new ArrayList<>();
                for (int l = 0; l < layers.size(); l++) {
                    ImageFormat f = l == 0 ? ImageFormat.QCOW2 : switch (disk.getBaseFormats(l - 1)) {
                        case FORMAT_RAW -> ImageFormat.RAW;
                        case FORMAT_QCOW2 -> ImageFormat.QCOW2;
                        default -> throw new IOException(what(disk) + ": base " + l + " has format "
                                + disk.getBaseFormats(l - 1) + " (vmd resolves every format)");
                    };
                    String name = l == 0 ? disk.getPath() : "base " + l + " of " + disk.getPath();
                    ls.add(new Layer(new FdImageFile(layers.get(l), name), f));
                }
                DiskImage image;
                try {
                    image = DiskImage.open(ls, readOnly);
                } catch (ImageException e) {
                    throw new IOException(what(disk) + ": " + e.getMessage(), e);
                }
                yield new Qcow2Backend(image, memory);
            }
            default -> throw new IOException(what(disk) + ": format " + disk.getFormat()
                    + " is not served by vioblk (vmd resolves the format before)");
        };
    }

    /** O_RDONLY, O_WRONLY or O_RDWR: how the parent opened the image. */
    private static int accessMode(Fd fd) throws SysException {
        return LibC.fcntl(fd, LibC.F_GETFL, 0, "fcntl(F_GETFL)") & 3;
    }

    private static Fd takeDisk(Received<ToVioblk> r, int index, int layer) throws IOException {
        List<FdSlot> slots = r.slots();
        for (int i = 0; i < slots.size(); i++) {
            FdSlot s = slots.get(i);
            if (s.getRole() == FdRole.FD_DISK && s.getIndex() == index && s.getLayer() == layer) {
                return r.take(i);
            }
        }
        throw new IOException("init carries no FD_DISK #" + index + " layer " + layer);
    }

    /**
     * The drop, chroot not yet set: vioblk's own classes and those of the modules it runs on
     * are preloaded (not vmm-proc's, whose class path it shares), the data path warmed up.
     */
    @Override
    public Shed shedding(Shed shed, Setup s) {
        return shed.preloadPackages("org.jvmd.vioblk.", "org.jvmd.virtio.", "org.jvmd.sys.", "org.jvmd.proto.",
                        "org.jvmd.qcow2.")
                .preloadClasses(FileIo.class)
                .warmup(VioblkMain::warmupMessages)
                .warmupOnce("vioblk device core", () -> { // ahead of init too (DeviceMain)
                    Warmup.run();
                    Warmup.qcow2();
                })
                .warmup(() -> warmupImage(s));
    }

    @Override
    public FromVioblk ready(Setup s) {
        return ready(s.vioblk);
    }

    static FromVioblk ready(Vioblk v) {
        VioblkLimits l = v.limits();
        return FromVioblk.newBuilder().setReady(VioblkReady.newBuilder()
                .setReady(Ready.newBuilder().setProcess(Logs.title()).setPid((int) ProcessHandle.current().pid()))
                .setCapacitySectors(v.capacitySectors()).setReadOnly(v.readOnly())
                .setSegMax(l.segMax()).setSizeMax(l.sizeMax())
                .setMaxDiscardSectors((int) l.maxDiscardSectors()).setMaxDiscardSeg(l.maxDiscardSeg())
                .setMaxWriteZeroesSectors((int) l.maxWriteZeroesSectors()).setMaxWriteZeroesSeg(l.maxWriteZeroesSeg()))
                .build();
    }

    /**
     * Exercises what runs after the drop while files can still be opened: the messages both
     * ways and the I/O calls here, a device core with the I/O threads' hand-off on heap memory
     * ({@link #shedding}), and in {@link #warmupImage} the image's read path (one sector into
     * a native buffer, not into guest memory).
     */
    private static void warmupMessages() {
        try {
            Frames.encode(VioblkLoop.error("warm-up"));
            for (ToVioblk.MsgCase c : ToVioblk.MsgCase.values()) {
                c.getNumber();
            }
            FileIo.preload();
        } catch (IOException e) {
            throw new IllegalStateException("warm-up: " + e.getMessage(), e);
        }
    }

    private static void warmupImage(Setup s) {
        try {
            if (s != null) {
                Frames.encode(ready(s.vioblk));
                VioblkLoop.stats(s.vioblk, 0);
                NativeBuffer b = new NativeBuffer(VirtioBlk.SECTOR_SIZE);
                if (s.backend instanceof RawBackend raw) {
                    IoVec iov = new IoVec(1);
                    iov.add(b, 0, b.size());
                    FileIo.tryPreadv(raw.fd(), iov, 0);
                } else if (s.backend instanceof Qcow2Backend q && q.image().size() >= b.size()) {
                    q.image().read(0, b.asByteBuffer());
                }
                FileIo.warmUp();
            }
        } catch (IOException e) {
            throw new IllegalStateException("warm-up: " + e.getMessage(), e);
        }
    }
}
