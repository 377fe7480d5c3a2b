/**
 * The block-driver simulator (issue 14): a virtio-blk guest driver that drives a real
 * vioblk-proc through its channel and eventfds over guest memory in a memfd, at a chosen
 * queue depth.
 *
 * <ul>
 * <li>{@link org.jvmd.it.blk.BlkSim}: start-up (image, guest RAM, eventfds, spawning
 *     vioblk-proc, FeaturesAcked/QueueReady/DriverOk), the request engine
 *     ({@link org.jvmd.it.blk.BlkSim#run} keeps a {@link org.jvmd.it.blk.Workload} at a
 *     queue depth), single requests (IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES),
 *     Stats.</li>
 * <li>{@link org.jvmd.it.blk.VioblkSpawn}: how vioblk-proc is started, in one place.</li>
 * <li>{@link org.jvmd.it.blk.Pattern}: fio's randread/randwrite/read/write patterns.</li>
 * <li>{@link org.jvmd.it.blk.BlkBenchMain}: scripts/bench-blk's vioblk side.</li>
 * </ul>
 *
 * <p>The cross-process tests live in {@code it/src/test/java/org/jvmd/it/blk}.
 */
package org.jvmd.it.blk;
