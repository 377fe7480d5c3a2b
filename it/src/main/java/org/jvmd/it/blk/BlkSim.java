package org.jvmd.it.blk;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.DiskStats;
import org.jvmd.proto.DriverOk;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FeaturesAcked;
import org.jvmd.proto.FromVioblk;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.Shutdown;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.StatsRequest;
import org.jvmd.proto.ToVioblk;
import org.jvmd.proto.VioblkInit;
import org.jvmd.proto.VioblkReady;
import org.jvmd.it.transport.DeviceLink;
import org.jvmd.it.transport.MemfdRam;
import org.jvmd.it.transport.Handover;
import org.jvmd.it.transport.Simulators;
import org.jvmd.qcow2.BackingChain;
import org.jvmd.qcow2.ImageFormat;
import org.jvmd.sys.Epoll;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.proc.WaitStatus;
import org.jvmd.virtio.DriverQueue;
import org.jvmd.virtio.GuestAllocator;
import org.jvmd.virtio.GuestFault;
import org.jvmd.virtio.RingLayout;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.blk.VirtioBlk;

/**
 * The block-driver simulator (issue 14): a virtio-blk guest driver that drives a real
 * vioblk-proc through its real channel, over guest memory in a memfd, at a chosen queue
 * depth. It plays
 * <ul>
 * <li>vmd's parent: it opens the image (O_RDWR, or O_RDONLY for a read-only disk) and hands
 *     the descriptor down;</li>
 * <li>vmm-proc's transport: it spawns vioblk-proc ({@link VioblkSpawn}) with the memfd, the
 *     image, one kick eventfd for the request queue (the ioeventfd) and one call eventfd per
 *     MSI-X vector (the irqfds: 0 the queue, 1 configuration changes), and forwards
 *     FeaturesAcked, QueueReady and DriverOk (virtio 1.2 §3.1.1);</li>
 * <li>the guest driver: one split virtqueue laid out by {@link DriverQueue}, one request slot
 *     (header, data buffer, status byte) per request in flight; requests are chains
 *     header (device-readable), data segments, status (device-writable) as virtio 1.2
 *     §5.2.6 and Linux virtio_blk.c lay them out; the driver kicks the eventfd when the
 *     device asks for it and waits on the call eventfd for completions.</li>
 * </ul>
 * Not thread-safe: one driver thread issues requests ({@link #run} and the single-request
 * helpers); {@link #stats()} may be called from another.
 */
public final class BlkSim implements AutoCloseable {
    /** virtio 1.2 §6.1: VIRTIO_F_VERSION_1, bit 32. */
    static final long F_VERSION_1 = 1L << 32;
    /** The MSI-X vector of the request queue and of configuration changes (vmm-proc's table: queues first). */
    static final int QUEUE_VECTOR = 0;
    static final int CONFIG_VECTOR = 1;
    static final int VECTORS = 2;
    /** Header at +0, status byte at +{@value}, in each slot's 64-byte control block. */
    static final int STATUS_OFFSET = 32;
    /** The status value the driver leaves before the device writes it: no VIRTIO_BLK_S_* value. */
    public static final int STATUS_UNWRITTEN = 0xff;
    /** How long {@link #run} waits for the next completion before it calls the device stuck. */
    static final long STUCK_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final long WAKE = 1;
    private static final long CALL = 2;

    private final BlkOptions o;
    private MemfdRam ram;
    private MappedGuestMemory mem;
    private GuestAllocator alloc;
    private DriverQueue q;
    private EventFd kick;
    private final EventFd[] calls = new EventFd[VECTORS];
    private EventFd wake;
    private Epoll epoll;
    private DeviceLink<FromVioblk> link;
    private VioblkReady ready;
    private long acked;
    private int segmentBytes;
    private BlkRequest[] slots;
    private BlkRequest[] byHead;
    private long kicks;
    private long interrupts;

    private BlkSim(BlkOptions o) {
        this.o = o;
    }

    /** Opens the image, starts vioblk-proc and negotiates; returns once DRIVER_OK is sent. */
    public static BlkSim start(BlkOptions o) throws Exception {
        if (o.image == null) {
            throw new IllegalArgumentException("no image");
        }
        BlkSim sim = new BlkSim(o);
        return Simulators.start(sim, sim::boot);
    }

    static void log(String msg) {
        Simulators.log("blk-sim", msg);
    }

    private void boot() throws Exception {
        layOutMemory();
        kick = EventFd.create(true);
        for (int v = 0; v < VECTORS; v++) {
            calls[v] = EventFd.create(true);
        }
        wake = EventFd.create(true);
        epoll = new Epoll(4);
        epoll.add(wake.fd(), LibC.EPOLLIN | LibC.EPOLLET, WAKE);
        epoll.add(calls[QUEUE_VECTOR].fd(), LibC.EPOLLIN | LibC.EPOLLET, CALL);
        spawnVioblk();
        layOutQueue();
        negotiate();
    }

    // ---- guest memory ------------------------------------------------------------------

    /** Descriptors of a request whose data takes {@code segments} buffers: header, data, status. */
    private static int chainDescriptors(int segments) {
        return 2 + segments;
    }

    private void layOutMemory() throws SysException {
        int worstSegment = o.segmentBytes > 0 ? Math.min(o.segmentBytes, 4096) : 4096;
        int worstIndirect = chainDescriptors((o.bufferBytes + worstSegment - 1) / worstSegment);
        long need = 4096
                + RingLayout.linuxBytes(o.queueSize, 64) + 4096
                + (long) o.queueSize * worstIndirect * Virtq.DESC_SIZE + 16L * o.queueSize
                + (long) o.maxDepth * (4096 + o.bufferBytes);
        ram = MemfdRam.create("blk-sim-ram", need);
        mem = ram.memory();
        alloc = ram.allocator();
        slots = new BlkRequest[o.maxDepth];
        for (int i = 0; i < slots.length; i++) {
            long control = alloc.allocate(64, 64);
            long data = alloc.allocate(o.bufferBytes, 4096);
            slots[i] = new BlkRequest(i, control, control + STATUS_OFFSET, data, o.bufferBytes);
        }
    }

    /** The ring, after Ready: its indirect tables are sized by the device's size_max and seg_max. */
    private void layOutQueue() throws GuestFault {
        int sizeMax = ready.getSizeMax();
        segmentBytes = o.segmentBytes > 0 ? o.segmentBytes : o.bufferBytes;
        if (sizeMax > 0) {
            segmentBytes = Math.min(segmentBytes, sizeMax);
        }
        if (segmentBytes < 512) {
            throw new IllegalStateException("segments of " + segmentBytes + " bytes (size_max " + sizeMax + ")");
        }
        int segments = (o.bufferBytes + segmentBytes - 1) / segmentBytes;
        if (ready.getSegMax() > 0 && segments > ready.getSegMax()) {
            throw new IllegalStateException("a " + o.bufferBytes + "-byte request takes " + segments
                    + " segments of " + segmentBytes + " bytes, the device takes at most " + ready.getSegMax()
                    + " (seg_max): use larger segments or a smaller buffer");
        }
        int perChain = chainDescriptors(segments);
        acked = F_VERSION_1 | VirtioBlk.offeredFeatures(ready.getReadOnly());
        if (o.indirect) {
            acked |= 1L << Virtq.F_INDIRECT_DESC;
        }
        if (o.eventIdx) {
            acked |= 1L << Virtq.F_EVENT_IDX;
        }
        if (!o.indirect && (long) perChain * o.maxDepth > o.queueSize) {
            throw new IllegalStateException(o.maxDepth + " requests of " + perChain + " descriptors do not fit a ring of "
                    + o.queueSize + " without indirect descriptors");
        }
        q = DriverQueue.create(mem, alloc, o.queueSize, acked, perChain);
        byHead = new BlkRequest[o.queueSize];
    }

    // ---- vioblk-proc -------------------------------------------------------------------

    private void spawnVioblk() throws IOException {
        link = new DeviceLink<>("blk-sim", "vioblk", o.title, FromVioblk.parser(), o.chroot);
        Handover fds = new Handover();
        DiskFormat format = DiskFormat.FORMAT_RAW;
        List<DiskFormat> baseFormats = new ArrayList<>();
        try {
            // vmd's part: the image opened by the privileged side, handed down; a qcow2
            // image (found by its magic) with its base chain as vmd resolves it, each base
            // read-only as FD_DISK layer 1..n
            List<BackingChain.Entry> chain = BackingChain.resolve(o.image, null);
            for (int l = 0; l < chain.size(); l++) {
                fds.add(FdSlot.newBuilder().setRole(FdRole.FD_DISK).setIndex(0).setLayer(l).build(),
                        LibC.open(chain.get(l).path().toString(), o.readOnly || l > 0 ? LibC.O_RDONLY : LibC.O_RDWR));
                DiskFormat f = chain.get(l).format() == ImageFormat.QCOW2 ? DiskFormat.FORMAT_QCOW2 : DiskFormat.FORMAT_RAW;
                if (l == 0) {
                    format = f;
                } else {
                    baseFormats.add(f);
                }
            }
            fds.add(FdRole.FD_MEMFD, 0, ram.memfd().dup());
            fds.add(FdRole.FD_KICK, VirtioBlk.REQUEST_QUEUE, kick.fd().dup());
            for (int v = 0; v < VECTORS; v++) {
                fds.add(FdRole.FD_CALL, v, calls[v].fd().dup());
            }
            link.adopt(VioblkSpawn.start(o.title, o.vioblkLog, o.classpath, o.jvmOptions));
        } catch (IOException | RuntimeException e) {
            fds.close();
            throw e;
        }
        ToVioblk msg = ToVioblk.newBuilder().addAllFds(fds.slots()).setInit(VioblkInit.newBuilder()
                .setDisk(DiskConfig.newBuilder().setIndex(0).setPath(o.image.toString()).setFormat(format)
                        .addAllBaseFormats(baseFormats).setReadOnly(o.readOnly).setSerial(o.serial))
                .addRegions(MemoryRegion.newBuilder().setGuestPhys(0).setSize(mem.size()).setMemfdOffset(0))
                .setTitle(o.title)
                .setUser(o.user)
                .setChroot(link.chroot().toString())).build();
        link.send(msg, fds.fds());
        ready = link.awaitReady(o.readyTimeoutMillis).getReady();
        log(o.title + " ready, pid " + link.child().pid() + ": " + ready.getCapacitySectors() + " sectors, seg_max "
                + ready.getSegMax() + ", size_max " + ready.getSizeMax() + (ready.getReadOnly() ? ", read-only" : ""));
        link.listen("blk-sim-control", this::received, this::wakeDriver);
    }

    private void send(ToVioblk m) throws IOException {
        link.send(m);
    }

    /** virtio 1.2 §3.1.1: FEATURES_OK, the queue, DRIVER_OK, as vmm-proc's transport forwards them. */
    private void negotiate() throws IOException {
        send(ToVioblk.newBuilder().setFeaturesAcked(FeaturesAcked.newBuilder().setFeatures(acked)).build());
        send(ToVioblk.newBuilder().setQueueReady(DeviceLink.queueReady(VirtioBlk.REQUEST_QUEUE, q.layout(), QUEUE_VECTOR))
                .build());
        send(ToVioblk.newBuilder().setDriverOk(DriverOk.getDefaultInstance()).build());
    }

    /** What vioblk sends unasked or in answer, on the link's reader thread. */
    private void received(FromVioblk m) {
        switch (m.getMsgCase()) {
            case STATS -> link.statsReply(m.getStats());
            case ERROR -> link.problem("vioblk reported: " + m.getError().getMessage());
            default -> link.problem("unexpected message from vioblk: " + m.getMsgCase());
        }
    }

    private void wakeDriver() {
        try {
            wake.signal();
        } catch (SysException e) {
            // closing anyway
        }
    }

    // ---- requests ----------------------------------------------------------------------

    /**
     * Keeps up to {@code depth} requests of {@code w} in flight until it has no more, or, if
     * {@code durationNanos > 0}, until that much time has passed (then the ones in flight
     * complete); returns what completed. Each completion is handed to the workload before
     * its slot takes the next request; the ring is kicked once per batch of new requests.
     *
     * @throws VioblkGoneException vioblk's channel saw EOF (the process died) with requests in flight
     * @throws IOException no completion for {@value #STUCK_NANOS} ns
     */
    public RunStats run(Workload w, int depth, long durationNanos) throws IOException, GuestFault {
        if (depth <= 0 || depth > slots.length) {
            throw new IllegalArgumentException("depth " + depth + ", the simulator has " + slots.length + " slots");
        }
        long kicks0 = kicks;
        long irq0 = interrupts;
        long start = System.nanoTime();
        long end = durationNanos > 0 ? start + durationNanos : Long.MAX_VALUE;
        RunStats.Tally tally = new RunStats.Tally();
        int inFlight = 0;
        boolean more = true;
        for (int i = 0; i < depth && more; i++) {
            more = w.next(slots[i]);
            if (more) {
                submit(slots[i]);
                inFlight++;
            }
        }
        kickIfWanted();
        long last = System.nanoTime();
        while (inFlight > 0) {
            int reaped = 0;
            int head;
            while ((head = q.reap()) != DriverQueue.NONE) {
                long now = System.nanoTime();
                BlkRequest r = byHead[head];
                byHead[head] = null;
                if (r == null) {
                    throw new IllegalStateException("device used head " + head + ", which carries no request");
                }
                r.head = -1;
                long lat = now - r.startNanos;
                int status = mem.readByte(r.status) & 0xff;
                w.done(r, status, q.usedLen(), lat);
                tally.completed(r, lat);
                inFlight--;
                reaped++;
                last = now;
                if (more && now - end < 0) {
                    more = w.next(r);
                    if (more) {
                        submit(r);
                        inFlight++;
                    }
                }
            }
            if (reaped > 0) {
                kickIfWanted();
                continue;
            }
            if (q.enableInterrupts()) {
                continue;
            }
            awaitInterrupt(inFlight, last);
        }
        return tally.stats(last - start, kicks - kicks0, interrupts - irq0);
    }

    /** Lays {@code r} out as a chain (virtio 1.2 §5.2.6) and makes it available; no kick. */
    private void submit(BlkRequest r) throws GuestFault {
        mem.writeInt(r.header, r.type);
        mem.writeInt(r.header + 4, 0);
        mem.writeLong(r.header + 8, r.sector);
        mem.writeByte(r.status, (byte) STATUS_UNWRITTEN);
        q.readable(r.header, VirtioBlk.REQUEST_HEADER_SIZE);
        boolean toDevice = !r.deviceWrites();
        for (int off = 0; off < r.len; off += segmentBytes) {
            int n = Math.min(segmentBytes, r.len - off);
            if (toDevice) {
                q.readable(r.data + off, n);
            } else {
                q.writable(r.data + off, n);
            }
        }
        q.writable(r.status, 1);
        r.startNanos = System.nanoTime();
        int head = q.add();
        if (head == DriverQueue.NONE) {
            throw new IllegalStateException("ring full submitting " + r + ": " + q);
        }
        r.head = head;
        byHead[head] = r;
    }

    private void kickIfWanted() throws GuestFault, SysException {
        if (q.kick()) {
            kick.signal();
            kicks++;
        }
    }

    private void awaitInterrupt(int inFlight, long lastCompletion) throws IOException {
        int n = epoll.waitFor(100);
        for (int i = 0; i < n; i++) {
            if (epoll.data(i) == CALL) {
                interrupts++;
            }
        }
        if (link.ended()) {
            throw new VioblkGoneException(o.title + " closed its channel (EOF) with " + inFlight + " requests in flight"
                    + exitStatus());
        }
        if (n == 0 && System.nanoTime() - lastCompletion > STUCK_NANOS) {
            throw new IOException(o.title + " completed none of " + inFlight + " requests in flight within "
                    + TimeUnit.NANOSECONDS.toSeconds(STUCK_NANOS) + " s: " + q);
        }
    }

    private String exitStatus() {
        try {
            WaitStatus s = link.child().waitFor(2000);
            return s == null ? " (still running)" : " (" + s.describe() + ")";
        } catch (SysException e) {
            return "";
        }
    }

    /** A completed single request: the status byte, the used length and, for IN and GET_ID, the data. */
    public record Result(int status, int usedLen, byte[] data) {}

    /** One request at depth 1; {@code out} is what the device reads (OUT, DISCARD, WRITE_ZEROES). */
    public Result single(int type, long sector, byte[] out, int inLen) throws IOException, GuestFault {
        BlkRequest r = slots[0];
        Result[] result = new Result[1];
        run(new Workload() {
            boolean issued;

            @Override
            public boolean next(BlkRequest s) throws GuestFault {
                if (issued) {
                    return false;
                }
                issued = true;
                if (out != null) {
                    mem.write(s.data, out, 0, out.length);
                    s.set(type, sector, out.length);
                } else {
                    s.set(type, sector, inLen);
                }
                return true;
            }

            @Override
            public void done(BlkRequest s, int status, int usedLen, long latencyNanos) throws GuestFault {
                byte[] in = new byte[s.deviceWrites() ? s.len : 0];
                mem.read(s.data, in, 0, in.length);
                result[0] = new Result(status, usedLen, in);
            }
        }, 1, 0);
        if (result[0] == null) {
            throw new IllegalStateException("request in slot " + r.slot + " did not complete");
        }
        return result[0];
    }

    /** VIRTIO_BLK_T_IN of {@code len} bytes at {@code sector}. */
    public Result read(long sector, int len) throws IOException, GuestFault {
        return single(VirtioBlk.T_IN, sector, null, len);
    }

    /** VIRTIO_BLK_T_OUT of {@code data} at {@code sector}; returns the status byte. */
    public int write(long sector, byte[] data) throws IOException, GuestFault {
        return single(VirtioBlk.T_OUT, sector, data, 0).status();
    }

    /** VIRTIO_BLK_T_FLUSH; returns the status byte. */
    public int flush() throws IOException, GuestFault {
        return single(VirtioBlk.T_FLUSH, 0, null, 0).status();
    }

    /** VIRTIO_BLK_T_GET_ID into a 20-byte buffer. */
    public Result getId() throws IOException, GuestFault {
        return single(VirtioBlk.T_GET_ID, 0, null, VirtioBlk.ID_BYTES);
    }

    /** VIRTIO_BLK_T_DISCARD of one segment; returns the status byte. */
    public int discard(long sector, int sectors) throws IOException, GuestFault {
        return single(VirtioBlk.T_DISCARD, 0, segment(sector, sectors, 0), 0).status();
    }

    /** VIRTIO_BLK_T_WRITE_ZEROES of one segment, with the unmap flag if asked; returns the status byte. */
    public int writeZeroes(long sector, int sectors, boolean unmap) throws IOException, GuestFault {
        return single(VirtioBlk.T_WRITE_ZEROES, 0,
                segment(sector, sectors, unmap ? VirtioBlk.WRITE_ZEROES_FLAG_UNMAP : 0), 0).status();
    }

    /** struct virtio_blk_discard_write_zeroes (virtio 1.2 §5.2.6): le64 sector, le32 num_sectors, le32 flags. */
    public static byte[] segment(long sector, int sectors, int flags) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(VirtioBlk.DISCARD_SEGMENT_SIZE)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(sector).putInt(sectors).putInt(flags);
        return b.array();
    }

    // ---- observations ------------------------------------------------------------------

    /** vioblk's counters for the disk (a Stats request). */
    public DiskStats stats() throws IOException, InterruptedException {
        StatsReply r = link.stats(ToVioblk.newBuilder().setStats(StatsRequest.getDefaultInstance()).build(), 10_000);
        if (r.getDisksCount() != 1) {
            throw new IOException("StatsReply with " + r.getDisksCount() + " disks, expected 1");
        }
        return r.getDisks(0);
    }

    /** What vioblk answered its init with. */
    public VioblkReady ready() {
        return ready;
    }

    /** The guest's memory: request data is read and written here at {@link BlkRequest#data()}. */
    public MappedGuestMemory memory() {
        return mem;
    }

    /** Capacity of the disk in 512-byte sectors. */
    public long capacitySectors() {
        return ready.getCapacitySectors();
    }

    public long ackedFeatures() {
        return acked;
    }

    /** The largest request the slots take, in bytes. */
    public int bufferBytes() {
        return o.bufferBytes;
    }

    /** The data bytes per descriptor this simulator sends. */
    public int segmentBytes() {
        return segmentBytes;
    }

    public int vioblkPid() {
        return link.child().pid();
    }

    /** The empty directory vioblk was told to chroot into. */
    public Path chroot() {
        return link.chroot();
    }

    /** Sends SIGKILL to vioblk-proc (not reaped here: the channel's EOF is what the driver sees). */
    public void killVioblk() throws SysException {
        link.child().signal(LibC.SIGKILL);
    }

    /** True once vioblk's channel has closed. */
    public boolean vioblkGone() {
        return link.ended();
    }

    /** What went wrong on the control channel so far. */
    public List<String> problems() {
        return link == null ? List.of() : link.problems();
    }

    /** The driver's kicks and the interrupts it took, all runs together. */
    public long[] kicksAndInterrupts() {
        return new long[] {kicks, interrupts};
    }

    // ---- shutdown ----------------------------------------------------------------------

    /** Asks vioblk to shut down (kills it after 3 s) and frees everything. */
    @Override
    public void close() {
        if (link != null) {
            link.close(link.ended() ? null : ToVioblk.newBuilder().setShutdown(Shutdown.getDefaultInstance()).build());
        }
        for (AutoCloseable c : Arrays.asList(kick, calls[0], calls[1], wake, epoll, ram)) {
            close(c);
        }
    }

    private static void close(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            log("closing " + c + ": " + e);
        }
    }
}
