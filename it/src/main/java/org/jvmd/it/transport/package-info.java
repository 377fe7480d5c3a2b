/**
 * What the two simulators ({@link org.jvmd.it.sim.GuestSim}, {@link org.jvmd.it.blk.BlkSim})
 * share in playing vmm-proc's transport to a device process: guest RAM in a memfd
 * ({@link org.jvmd.it.transport.MemfdRam}), the descriptors handed down with their slots
 * ({@link org.jvmd.it.transport.Handover}) and the child with its channel, its reader thread,
 * Stats and shutdown ({@link org.jvmd.it.transport.DeviceLink}). How each device process is
 * spawned stays with its simulator.
 */
package org.jvmd.it.transport;
