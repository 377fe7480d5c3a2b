package org.jvmd.vmctl;

import java.nio.file.Path;
import java.util.List;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StartRequest;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * {@code vmctl start [-cL] [-b path] [-d disk] [-i count] [-m size] [-n switch] [-t name] id | name}
 * (ctl_start): starts a configured VM, or a new one from the options. Its arguments are
 * checked here, before vmd is asked.
 */
final class StartCommand extends VmctlCommand {
    StartCommand() {
        super("start", "[-cL] [-b path] [-d disk] [-i count] [-m size] [-n switch] [-t name]\n\t\tid | name",
                "Start a VM configured in vm.conf, or a new one with the options given.");
    }

    @Override
    void declare(CommandSpec s) {
        flag(s, 'c', "Connect to the VM's console once it has started.");
        flag(s, 'L', "Add a local network interface (vmd's -L: a NIC with an address vmd's DHCP hands out).");
        valued(s, 'b', "path", Path.class, "Boot this kernel (Linux bzImage) instead of the configured one.");
        repeated(s, 'd', "disk", Path[].class, "Add a disk image ([raw:|qcow2:]path); up to " + Vmctl.MAX_DISKS + ".");
        valued(s, 'i', "count", String.class, "Number of network interfaces (up to " + Vmctl.MAX_NICS + ").");
        valued(s, 'm', "size", String.class, "Memory size (scaled: 512M, 1G).");
        repeated(s, 'n', "switch", String[].class, "Add a network interface on this switch.");
        valued(s, 't', "name", String.class, "Use the configured VM name as a template.");
        operands(s, "id|name", String.class, null, "The VM to start: a configured VM's id or name, or a new VM's name.");
    }

    @Override
    int run(Vmctl v, ParseResult r) {
        List<String> pos = operands(r);
        if (pos.size() != 1) {
            v.ctlUsage(this);
        }
        String name = pos.get(0);
        StartRequest.Builder b = StartRequest.newBuilder();
        boolean flags = false;
        if (r.hasMatchedOption("-m")) {
            b.setMemoryBytes(v.parseSize(value(r, 'm')) << 20);
            flags = true;
        }
        int nics = -1;
        if (r.hasMatchedOption("-i")) {
            String w = value(r, 'i');
            try {
                long count = Long.parseLong(w);
                if (count < 0) {
                    v.errx("invalid count \"" + w + "\": too small");
                }
                if (count > Integer.MAX_VALUE) {
                    v.errx("invalid count \"" + w + "\": too large");
                }
                nics = (int) count;
            } catch (NumberFormatException e) {
                v.errx("invalid count \"" + w + "\": invalid");
            }
            flags = true;
        }
        String[] switches = values(r, 'n').toArray(String[]::new);
        if (switches.length > 0) {
            flags = true;
        }
        if (r.hasMatchedOption("-L")) {
            String[] more = java.util.Arrays.copyOf(switches, switches.length + 1);
            more[switches.length] = ".";
            switches = more;
            flags = true;
        }
        String[] disks = values(r, 'd').toArray(String[]::new);
        List<org.jvmd.proto.DiskRequest> diskRequests = new java.util.ArrayList<>();
        if (disks.length > 0) {
            flags = true;
            if (disks.length > Vmctl.MAX_DISKS) {
                v.errx("too many disks");
            }
            for (String d : disks) {
                diskRequests.add(v.disk(d));
            }
        }
        String kernel = value(r, 'b');
        String template = value(r, 't');
        if (kernel != null) {
            flags = true;
        }
        if (flags) {
            if (nics < switches.length) {
                nics = Math.max(nics, switches.length);
            }
            if (kernel == null && template == null && !name.matches("[0-9]+")) {
                // a configured VM started with options takes its kernel from vm.conf
            }
            if (nics > Vmctl.MAX_NICS) {
                v.errx("too many network interfaces");
            }
        }
        if (!name.matches("[0-9]+")) {
            if (name.startsWith("-") || name.startsWith(".") || name.startsWith("_")
                    || !name.matches("[A-Za-z0-9._-]+")) {
                v.errx("invalid VM name");
            }
            if (name.length() >= Vmctl.MAX_NAME) {
                v.errx("vm name too long");
            }
        }
        if (template != null && template.length() >= Vmctl.MAX_NAME) {
            v.errx("instance vm name too long");
        }
        Path k = null;
        if (kernel != null) {
            k = Path.of(kernel).toAbsolutePath();
            if (!java.nio.file.Files.exists(k)) {
                v.errx("cannot open kernel '" + kernel + "': No such file or directory");
            }
            if (!java.nio.file.Files.isRegularFile(k)) {
                v.errx("kernel must be a regular file");
            }
            b.setKernel(k.toString());
        }
        b.setVm(v.vmid(name));
        if (nics >= 0) {
            b.setInterfaces(nics);
        }
        for (String s : switches) {
            b.addSwitches(s);
        }
        if (template != null) {
            b.setTemplate(template);
        }
        boolean console = r.hasMatchedOption("-c");
        b.setWait(console);
        // The files named here go to vmd as descriptors vmctl opened with the user's own
        // rights (vmd opens no path a caller names): a file the user cannot open is refused
        // here, naming it.
        Response resp;
        try (CallerFiles files = new CallerFiles()) {
            try {
                if (k != null) {
                    b.setKernelFd(files.bootFile("kernel", k));
                }
                for (org.jvmd.proto.DiskRequest d : diskRequests) {
                    b.addDisks(files.disk(d));
                }
            } catch (CallerFiles.Unopenable e) {
                v.errx(e.getMessage());
            }
            resp = v.call(Request.newBuilder().setStart(b).build(), files.fds());
        }
        if (resp.hasError()) {
            String m = resp.getError().getMessage();
            int e = resp.getError().getErrno();
            if (resp.getError().getCode() == org.jvmd.proto.ErrorCode.TEMPLATE_INVALID) {
                v.warnx("invalid template");
            } else {
                v.warnx("start vm command failed: " + (e != 0 ? Vmctl.strerror(e) : m));
            }
            return 1;
        }
        if (!resp.hasOk()) {
            v.errx("unexpected response received from vmd");
        }
        if (console) {
            return new ConsoleClient(v.in, v.out, v.err).run(resp.getOk().getMessage());
        }
        v.warnx("started vm " + resp.getOk().getId() + " successfully, tty " + resp.getOk().getMessage());
        return 0;
    }
}
