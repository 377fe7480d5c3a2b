/**
 * vmctl: {@link org.jvmd.vmctl.Vmctl} (commands by unique prefix, vmctl's messages and exit
 * codes), {@link org.jvmd.vmctl.StatusTable} and {@link org.jvmd.vmctl.FmtScaled} (the status
 * table as print_vm_info prints it) and the console client.
 */
package org.jvmd.vmctl;
