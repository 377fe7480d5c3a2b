/**
 * The virtio-net offload engine, pure Java on byte arrays: {@code virtio_net_hdr}
 * ({@link org.jvmd.virtio.net.VirtioNetHdr}), feature bits and the TUNSETOFFLOAD mapping
 * ({@link org.jvmd.virtio.net.VirtioNetFeatures}, {@link org.jvmd.virtio.net.TunFlags},
 * {@link org.jvmd.virtio.net.TapOffloads}), checksums
 * ({@link org.jvmd.virtio.net.InetChecksum}), software GSO
 * ({@link org.jvmd.virtio.net.Segmenter}) and the per-direction policies. Nothing here
 * allocates per packet or throws for guest or wire input; drops carry a
 * {@link org.jvmd.virtio.net.DropReason} for the device's counters.
 *
 * <h2>Transmit (guest to tap), per frame</h2>
 * <ol>
 *   <li>Decode the header ({@link org.jvmd.virtio.net.VirtioNetHdr#read}) and judge it with
 *       the frame length alone: {@link org.jvmd.virtio.net.TxValidator#check}.</li>
 *   <li>{@code PASS}: write header and frame to the tap as they are (no copy of the
 *       frame is needed).</li>
 *   <li>{@code FINISH_CSUM}: gather the frame into the scratch array, run
 *       {@link org.jvmd.virtio.net.InetChecksum#completePartial} if NEEDS_CSUM is set, write
 *       it with an empty header.</li>
 *   <li>{@code SEGMENT}: gather the frame, {@link org.jvmd.virtio.net.Segmenter#segment}
 *       with a headroom of the header size into a second scratch array, write each segment
 *       with an empty header (the headroom is already zero).</li>
 *   <li>{@code DROP}, or a segmenter result of -1: count the reason; the chain is still
 *       returned to the guest.</li>
 * </ol>
 *
 * <h2>Receive (tap to guest), per frame</h2>
 * <ol>
 *   <li>Read header and frame from the tap; {@link org.jvmd.virtio.net.RxOffloadPolicy#check}
 *       against the guest's current offloads.</li>
 *   <li>{@code FINISH_CSUM}: {@link org.jvmd.virtio.net.InetChecksum#completePartial};
 *       {@code SEGMENT}: {@link org.jvmd.virtio.net.Segmenter#segment}, each segment then
 *       delivered on its own.</li>
 *   <li>{@link org.jvmd.virtio.net.RxOffloadPolicy#prepareHeader} gives the header the
 *       guest may see; {@link org.jvmd.virtio.net.RxBufferPlan} spreads header and frame
 *       over the receive buffers, and num_buffers is patched with
 *       {@link org.jvmd.virtio.net.VirtioNetHdr#putNumBuffers} once the count is known.</li>
 * </ol>
 *
 * <h2>Configuration, when the driver acks features or changes offloads</h2>
 * {@code TunFlags.forGuest(acked)} is the TUNSETOFFLOAD argument vmd applies (TUNSCAP);
 * {@code new RxOffloadPolicy(acked)} and {@code new TxValidator(acked, tapOffloads)}
 * replace the queue's old ones. VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET goes through
 * {@link org.jvmd.virtio.net.VirtioNetFeatures#guestOffloadsAllowed} and
 * {@link org.jvmd.virtio.net.VirtioNetFeatures#withGuestOffloads}.
 */
package org.jvmd.virtio.net;
