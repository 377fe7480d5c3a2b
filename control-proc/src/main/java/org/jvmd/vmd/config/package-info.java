/**
 * vm.conf: {@link org.jvmd.vmd.config.ConfigParser} (vmd's parse.y) reads the file into an
 * immutable {@link org.jvmd.vmd.config.Config} of globals, switches and VMs with vmd's
 * defaults applied, or into {@code file:line: message} errors; {@link
 * org.jvmd.vmd.config.VmInstances} derives instances of configured VMs under vmd's {@code allow
 * instance} rules. Pure Java: no native calls, no threads; the file system is read only for
 * includes and to resolve boot files, and user lookups go through {@link
 * org.jvmd.vmd.config.Accounts}.
 */
package org.jvmd.vmd.config;
