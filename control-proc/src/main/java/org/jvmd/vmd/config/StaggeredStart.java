package org.jvmd.vmd.config;

/**
 * How vmd starts the enabled VMs: in batches of {@code parallelism}, {@code delaySeconds}
 * apart (vmd's start_vm_batch does this whether or not vm.conf says
 * {@code staggered start parallel N delay S}).
 *
 * @param configured whether vm.conf set it
 * @param parallelism how many VMs start at a time (default: the number of CPUs)
 * @param delaySeconds the pause between batches (default 30)
 */
public record StaggeredStart(boolean configured, int parallelism, int delaySeconds) {
    /** vm.conf(5)'s default delay. */
    public static final int DEFAULT_DELAY = 30;
}
