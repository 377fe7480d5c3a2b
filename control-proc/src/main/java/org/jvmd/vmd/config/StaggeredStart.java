package org.jvmd.vmd.config;

/**
 * How vmd starts the enabled VMs ({@code staggered start parallel N delay S}).
 *
 * @param configured whether vm.conf asked for a staggered start
 * @param parallelism how many VMs start at a time (default: the number of CPUs)
 * @param delaySeconds the pause between batches (default 30)
 */
public record StaggeredStart(boolean configured, int parallelism, int delaySeconds) {
    /** vm.conf(5)'s default delay. */
    public static final int DEFAULT_DELAY = 30;
}
