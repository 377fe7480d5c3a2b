/**
 * vmd, the control process: {@link org.jvmd.vmd.Vmd} (command line, signals, staggered start,
 * reload, shutdown), {@link org.jvmd.vmd.Registry} (VM ids and the state machine: stopped,
 * waiting, starting, running, paused, stopping; restart on reboot, rate limited),
 * {@link org.jvmd.vmd.Control} and {@link org.jvmd.vmd.ControlServer} (the control socket and
 * vmd's permission rules), {@link org.jvmd.vmd.VmmProcSpawner} (vmm-proc children and TUNSCAP)
 * and {@link org.jvmd.vmd.VmTaps} (taps, bridges, local addresses). The configuration lives in
 * {@code org.jvmd.vmd.config}.
 */
package org.jvmd.vmd;
