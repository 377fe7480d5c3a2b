package org.jvmd.it.sim;

import static org.jvmd.virtio.net.VirtioNetFeatures.CSUM;
import static org.jvmd.virtio.net.VirtioNetFeatures.CTRL_GUEST_OFFLOADS;
import static org.jvmd.virtio.net.VirtioNetFeatures.CTRL_VQ;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_CSUM;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_ECN;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_TSO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_UFO;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_USO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.GUEST_USO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_ECN;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_TSO4;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_TSO6;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_UFO;
import static org.jvmd.virtio.net.VirtioNetFeatures.HOST_USO;
import static org.jvmd.virtio.net.VirtioNetFeatures.MAC;
import static org.jvmd.virtio.net.VirtioNetFeatures.MRG_RXBUF;
import static org.jvmd.virtio.net.VirtioNetFeatures.MTU;
import static org.jvmd.virtio.net.VirtioNetFeatures.STATUS;
import static org.jvmd.virtio.net.VirtioNetFeatures.VERSION_1;
import static org.jvmd.virtio.net.VirtioNetFeatures.bit;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.virtio.Virtq;

/**
 * What the guest simulator plays: which taps, which features the device offers (vmd's
 * side) and which of them the simulated driver acks (the guest's side), ring and buffer
 * sizes, and how vionet-proc is started. Mutable, fluent; read once by {@link GuestSim#start}.
 */
public final class SimOptions {
    /**
     * What vmd offers for an interface with every offload on (ARCHITECTURE.md, "Guest-visible
     * virtio-net"): VERSION_1, MAC, STATUS, MTU, CSUM, GUEST_CSUM, HOST/GUEST_TSO4/6, ECN,
     * USO, MRG_RXBUF, CTRL_VQ with CTRL_GUEST_OFFLOADS, EVENT_IDX, INDIRECT_DESC.
     */
    public static final long DEVICE_FEATURES = bit(VERSION_1) | bit(MAC) | bit(STATUS) | bit(MTU)
            | bit(CSUM) | bit(GUEST_CSUM) | bit(HOST_TSO4) | bit(HOST_TSO6) | bit(HOST_ECN)
            | bit(GUEST_TSO4) | bit(GUEST_TSO6) | bit(GUEST_ECN) | bit(HOST_USO) | bit(GUEST_USO4)
            | bit(GUEST_USO6) | bit(MRG_RXBUF) | bit(CTRL_VQ) | bit(CTRL_GUEST_OFFLOADS)
            | bit(Virtq.F_EVENT_IDX) | bit(Virtq.F_INDIRECT_DESC);

    /**
     * The checksum and segmentation features, both directions: what a guest with its
     * offloads off (ethtool -K off, or a driver that knows none) does not ack.
     */
    public static final long OFFLOAD_FEATURES = bit(CSUM) | bit(GUEST_CSUM) | bit(HOST_TSO4)
            | bit(HOST_TSO6) | bit(HOST_ECN) | bit(HOST_UFO) | bit(HOST_USO) | bit(GUEST_TSO4)
            | bit(GUEST_TSO6) | bit(GUEST_ECN) | bit(GUEST_UFO) | bit(GUEST_USO4) | bit(GUEST_USO6);

    /**
     * How long a simulator thread polls before it sleeps, by default as KVM polls a halted
     * vCPU on x86 (KVM_HALT_POLL_NS_DEFAULT, 200 us; the module parameter halt_poll_ns).
     */
    public static final long HALT_POLL_NANOS = 200_000;

    String guestNs;
    String guestTap;
    String hostNs;
    String hostTap;
    boolean guestOffloads = true;
    long deviceFeatures = DEVICE_FEATURES;
    long driverMask = -1L;
    int rxQueueSize = 1024;
    int txQueueSize = 256;
    int mergeableBufferSize = 4096;
    boolean txSplitHeader;
    boolean lockedLladdr = true;
    boolean tapFilter = true;
    boolean oneThread = true;
    long haltPollNanos = HALT_POLL_NANOS;
    byte[] mac;
    int mtu = 1500;
    byte[] localGuestAddr;
    byte[] localGatewayAddr;
    int localPrefixLen;
    String vionetUser = "_vmd";
    Path chroot;
    Path vionetLog;
    final List<String> vionetJvmOptions = new ArrayList<>();
    String vionetClasspath;
    String title = "guest-sim/vionet0";
    long readyTimeoutMillis = 60_000;

    /** The guest side: tap {@code tap} (existing) in netns {@code ns} (null: this process's). */
    public SimOptions guest(String ns, String tap) {
        this.guestNs = ns;
        this.guestTap = tap;
        return this;
    }

    /** vionet's side: tap {@code tap} (existing) in netns {@code ns} (null: this process's). */
    public SimOptions host(String ns, String tap) {
        this.hostNs = ns;
        this.hostTap = tap;
        return this;
    }

    /** On: the driver acks every offered offload; off: none of {@link #OFFLOAD_FEATURES}. */
    public SimOptions guestOffloads(boolean on) {
        this.guestOffloads = on;
        return this;
    }

    /** The features the device offers (NicConfig.features); default {@link #DEVICE_FEATURES}. */
    public SimOptions deviceFeatures(long features) {
        this.deviceFeatures = features;
        return this;
    }

    /** Feature bits the simulated driver refuses to ack, on top of the offload switch. */
    public SimOptions withoutDriverFeatures(long bits) {
        this.driverMask &= ~bits;
        return this;
    }

    public SimOptions rxQueueSize(int size) {
        this.rxQueueSize = size;
        return this;
    }

    public SimOptions txQueueSize(int size) {
        this.txQueueSize = size;
        return this;
    }

    /** Size of each mergeable receive buffer (Linux uses between 1536 and a page). */
    public SimOptions mergeableBufferSize(int bytes) {
        this.mergeableBufferSize = bytes;
        return this;
    }

    /** Transmit the virtio_net_hdr in its own descriptor (indirect when negotiated). */
    public SimOptions txSplitHeader(boolean on) {
        this.txSplitHeader = on;
        return this;
    }

    /**
     * Both data paths on one thread (the default), as a 1-vCPU guest runs its transmit and its
     * receive (NAPI) on the same CPU; off: a thread each, a guest whose two directions run
     * on two vCPUs. With every thread halt-polling, two simulator threads and vionet's poll
     * are three pollers, which on a 2-CPU host take the CPU from the network stacks they
     * serve: on such a host without /dev/kvm (2026-12-07, interleaved sockperf runs against
     * the C floor) request/response reached 0.66-0.70 / 0.69-0.71 of the floor with a thread
     * each and 0.77-0.80 / 0.81-0.98 with one, tcp 1.00 / 1.06 against 1.05 / 1.10
     * (docs/dev-notes/net-rows-and-lab-offloads.md, session 19).
     */
    public SimOptions oneThread(boolean on) {
        this.oneThread = on;
        return this;
    }

    /**
     * The longest poll of a simulator thread before it sleeps, in microseconds (KVM's
     * halt_poll_ns for the simulated guest's vCPUs); 0: sleep at once, as a guest whose host
     * has halt_poll_ns=0 (for A/B measurements).
     */
    public SimOptions haltPollMicros(long micros) {
        if (micros < 0 || micros > 10_000_000) {
            throw new IllegalArgumentException("halt poll wants 0..10000000 us, got " + micros);
        }
        this.haltPollNanos = micros * 1000;
        return this;
    }

    public SimOptions lockedLladdr(boolean on) {
        this.lockedLladdr = on;
        return this;
    }

    /**
     * Whether a locked NIC's host tap gets vmd's kernel filter (TUNSETTXFILTER, NicConfig
     * tap_filtered); off, vionet receives a locked NIC's frames through its staging copy, as
     * before vmd set the filter (for A/B measurements).
     */
    public SimOptions tapFilter(boolean on) {
        this.tapFilter = on;
        return this;
    }

    /** The NIC's MAC; default: the guest tap's own address (so the guest stack sends with it). */
    public SimOptions mac(byte[] mac) {
        this.mac = mac.clone();
        return this;
    }

    public SimOptions mtu(int mtu) {
        this.mtu = mtu;
        return this;
    }

    /** vmd's `local interface`: vionet answers the guest's DHCP with {@code guest}/{@code prefixLen}, router {@code gateway}. */
    public SimOptions local(byte[] guest, byte[] gateway, int prefixLen) {
        this.localGuestAddr = guest.clone();
        this.localGatewayAddr = gateway.clone();
        this.localPrefixLen = prefixLen;
        return this;
    }

    /** The user vionet drops to ("" keeps root: tests of the drop itself only). */
    public SimOptions vionetUser(String user) {
        this.vionetUser = user;
        return this;
    }

    /** vionet's empty chroot directory; default: a fresh one, removed at close. */
    public SimOptions chroot(Path dir) {
        this.chroot = dir;
        return this;
    }

    /** Where vionet's stdout and stderr go; default: inherited. */
    public SimOptions vionetLog(Path file) {
        this.vionetLog = file;
        return this;
    }

    /** Extra JVM options for vionet (after the defaults, so they win). */
    public SimOptions vionetJvmOptions(String... opts) {
        this.vionetJvmOptions.addAll(List.of(opts));
        return this;
    }

    /** vionet's classpath; default: {@link VionetClasspath#find()}. */
    public SimOptions vionetClasspath(String cp) {
        this.vionetClasspath = cp;
        return this;
    }

    public SimOptions title(String title) {
        this.title = title;
        return this;
    }

    /** The features the simulated driver acks: what a Linux virtio-net driver would, within what is offered. */
    public long driverFeatures() {
        long want = deviceFeatures & driverMask;
        if (!guestOffloads) {
            want &= ~OFFLOAD_FEATURES;
        }
        return want;
    }
}
