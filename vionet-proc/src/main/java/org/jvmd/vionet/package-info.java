/**
 * vionet-proc, the unprivileged virtio-net device process (OpenBSD vmd's vionet).
 *
 * <h2>Pure core, thin shell</h2>
 * <ul>
 *   <li>{@link org.jvmd.vionet.Vionet}: the device (negotiation, activation, reset, TUNSCAP,
 *       counters) against {@link org.jvmd.virtio.GuestMemory},
 *       {@link org.jvmd.vionet.TapIo}, {@link org.jvmd.vionet.VectorInterrupt} and
 *       {@link org.jvmd.vionet.VionetUplink}, with one class per queue: {@code VionetTx},
 *       {@code VionetRx} (held chains, backlog), {@code VionetCtrl} (over
 *       {@link org.jvmd.vionet.MacFilter}), and {@code TunCapTracker}, the pure state machine
 *       of what the tap may hand. One thread, no locks. Tested in process with heap memory, the
 *       driver side of the rings and a tap in memory (src/test: GuestDriver, MemoryTap,
 *       Packets).</li>
 *   <li>{@link org.jvmd.vionet.DhcpMessage} / {@link org.jvmd.vionet.DhcpResponder}: the
 *       local interface's DHCP server, pure code on byte arrays.</li>
 *   <li>{@link org.jvmd.vionet.VionetMain}: acquire (init message, memfd, tap, eventfds),
 *       shed (preload, warm-up, chroot, setresuid, seccomp without open/socket/exec/ioctl),
 *       then {@link org.jvmd.vionet.VionetLoop}, the one event-loop thread (epoll over the
 *       channel, the tap and the kicks), with {@link org.jvmd.vionet.NativeTapIo} doing
 *       readv/writev straight between the tap and mapped guest memory.</li>
 * </ul>
 * The channel contract (messages, descriptors, TUNSCAP replies, stats keys) is described in
 * docs/architecture.md and, as first built, in docs/dev-notes/vionet-channel.md.
 */
package org.jvmd.vionet;
