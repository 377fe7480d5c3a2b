/**
 * The guest simulator (issue 5): a virtio-net guest whose network stack is the Linux
 * kernel of a network namespace, driving vionet-proc through real virtqueues in a guest
 * memfd.
 *
 * <ul>
 * <li>{@link org.jvmd.it.sim.GuestSim}: start-up (taps, guest RAM, eventfds, spawning
 *     vionet-proc), the transport's control messages (FeaturesAcked, QueueReady, DriverOk,
 *     Shutdown), vmd's TUNSCAP side, Stats, the control queue and fault injection.</li>
 * <li>{@link org.jvmd.it.sim.TxPath} / {@link org.jvmd.it.sim.RxPath}: one thread per
 *     direction, the driver's data path; no allocation per frame.</li>
 * <li>{@link org.jvmd.it.sim.GuestSimMain}: {@code bin/guest-sim}, scripts/bench-net's
 *     vionet hook ({@code --ns1 G --tap1 gtap0 --ns2 H --tap2 htap0 --guest-offloads on|off},
 *     prints {@code ready}, exits on SIGTERM).</li>
 * </ul>
 *
 * <p>Build and run: any build that compiles the it module writes
 * {@code it/target/guest-sim.classpath} and {@code it/target/vionet.classpath}
 * (dependency:build-classpath); {@code bin/guest-sim} runs {@code it/target/classes} with the
 * first, and the simulator starts vionet-proc with the second. The integration tests live in
 * {@code it/src/test/java/org/jvmd/it/sim}.
 */
package org.jvmd.it.sim;
