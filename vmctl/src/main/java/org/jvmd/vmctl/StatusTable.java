package org.jvmd.vmctl;

import java.util.List;
import org.jvmd.proto.VmState;
import org.jvmd.proto.VmStatus;
import org.jvmd.sys.proc.Users;

/**
 * vmctl's print_vm_info: {@code "%5s %5s %5s %7s %7s %7s %12s %8s %s"} with ID PID VCPUS
 * MAXMEM CURMEM TTY OWNER STATE NAME; a VM without a process shows "-" for PID, CURMEM and TTY.
 */
public final class StatusTable {
    public static final String HEADER = String.format("%5s %5s %5s %7s %7s %7s %12s %8s %s", "ID", "PID", "VCPUS",
            "MAXMEM", "CURMEM", "TTY", "OWNER", "STATE", "NAME");

    private StatusTable() {
    }

    /** The table; {@code runningOnly} is -r. Returns the text and whether any VM was counted. */
    public static String format(List<VmStatus> vms, boolean runningOnly) {
        StringBuilder out = new StringBuilder(HEADER).append('\n');
        for (VmStatus v : vms) {
            boolean running = v.getPid() != 0 && v.getId() != 0;
            if (!running && runningOnly) {
                continue;
            }
            out.append(line(v, running)).append('\n');
            for (int i = 0; i < v.getDisksCount(); i++) {
                out.append(disk(i, v.getDisks(i))).append('\n');
            }
        }
        return out.toString();
    }

    static String line(VmStatus v, boolean running) {
        String user = owner(v);
        String maxmem = FmtScaled.format(v.getMaxMemory());
        if (running) {
            String tty = v.getTty();
            int slash = tty.lastIndexOf('/');
            if (tty.isEmpty()) {
                tty = "-";
            } else if (slash >= 0 && slash + 1 < tty.length()) {
                tty = tty.substring(slash + 1);
            }
            return String.format("%5d %5d %5d %7s %7s %7s %12s %8s %s", v.getId(), v.getPid(), v.getVcpus(), maxmem,
                    FmtScaled.format(v.getCurMemory()), tty, user, state(v.getState()), v.getName());
        }
        return String.format("%5d %5s %5d %7s %7s %7s %12s %8s %s", v.getId(), "-", v.getVcpus(), maxmem, "-", "-",
                user, state(v.getState()), v.getName());
    }

    /** A disk of the VM above, in guest order (disk 0 is /dev/vda): {@code "      disk0 /var/vm/web.img"}. */
    static String disk(int index, String image) {
        return String.format("%5s disk%d %s", "", index, image);
    }

    /**
     * user, or user:group; cut to 15 characters like vmctl's char user[16]. The names are
     * the ones vmd sent ({@code owner}, looked up on the same host); only a status without
     * them is looked up here, which costs vmctl the start-up of the native linker.
     */
    static String owner(VmStatus v) {
        if (!v.getOwner().isEmpty()) {
            String o = v.getOwner();
            int colon = v.getOwnerGid() != -1 ? o.lastIndexOf(':') : -1;
            String user = colon >= 0 ? o.substring(0, colon) : o;
            if (user.length() > 15) {
                user = user.substring(0, 15);
            }
            String both = colon >= 0 ? user + o.substring(colon) : user;
            return both.length() > 15 ? both.substring(0, 15) : both;
        }
        String user = Users.userName(v.getOwnerUid());
        if (user.length() > 15) {
            user = user.substring(0, 15);
        }
        if (v.getOwnerGid() != -1) {
            user = user + ":" + Users.groupName(v.getOwnerGid());
        }
        return user.length() > 15 ? user.substring(0, 15) : user;
    }

    static String state(VmState s) {
        return switch (s) {
            case STOPPED -> "stopped";
            case WAITING -> "waiting";
            case STARTING -> "starting";
            case RUNNING -> "running";
            case PAUSED -> "paused";
            case STOPPING -> "stopping";
            default -> "unknown";
        };
    }
}
