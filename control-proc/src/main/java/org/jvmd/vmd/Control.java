package org.jvmd.vmd;

import java.lang.System.Logger.Level;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.jvmd.proto.DiskRequest;
import org.jvmd.proto.Error;
import org.jvmd.proto.Ok;
import org.jvmd.proto.Request;
import org.jvmd.proto.ResetRequest;
import org.jvmd.proto.Response;
import org.jvmd.proto.StartRequest;
import org.jvmd.proto.StatusReply;
import org.jvmd.proto.VmSelector;
import org.jvmd.proto.VmStatus;
import org.jvmd.sys.Fd;
import org.jvmd.vmd.Registry.VmInfo;
import org.jvmd.vmd.Registry.VmRef;
import org.jvmd.vmd.config.Caller;
import org.jvmd.vmd.config.DiskSpec;

/**
 * vmd's control.c and the request half of vmd.c: one dispatch over vmctl's requests, with
 * vmd's permission rules. Root may do anything; others may start, stop, pause, unpause, wait
 * for, list, open the console of (and read the counters of) the VMs they own.
 */
public final class Control {
    private static final System.Logger LOG = System.getLogger("vmd");

    /** What the daemon itself does for reload, load, reset and log (vmd.c's vmd_reload). */
    public interface Daemon {
        /** vmctl reload: re-reads the configuration file. */
        void reload() throws VmdException;

        /** vmctl load: adds the VMs and switches of {@code file} to the running configuration. */
        void load(Path file) throws VmdException;

        /** vmctl reset vms / switches / all: forgets that part of the running configuration. */
        void reset(ResetRequest.What what) throws VmdException;

        void setVerbose(boolean verbose);
    }

    private final Registry registry;
    private final Daemon daemon;

    public Control(Registry registry, Daemon daemon) {
        this.registry = registry;
        this.daemon = daemon;
    }

    /** Answers one request of {@code caller} that came without descriptors. */
    public Response handle(Request req, Caller caller) {
        return handle(req, caller, List.of());
    }

    /**
     * Answers one request of {@code caller} (may block: start, stop -w, wait). {@code fds}
     * are the descriptors that came with it, in order (the request names them by index):
     * this takes them over and closes every one, whatever the answer; what a VM keeps, the
     * registry keeps as its own duplicates.
     */
    public Response handle(Request req, Caller caller, List<Fd> fds) {
        try {
            return dispatch(req, caller, fds);
        } finally {
            Fd.closeAll(fds);
        }
    }

    private Response dispatch(Request req, Caller caller, List<Fd> fds) {
        try {
            return switch (req.getReqCase()) {
                case START -> start(req.getStart(), caller, fds);
                case STOP -> stop(req, caller);
                case STATUS -> status(req.getStatus().hasVm() ? req.getStatus().getVm() : null);
                case CONSOLE -> console(ref(req.getConsole().getVm()), caller);
                case PAUSE -> ok(registry.pause(ref(req.getPause().getVm()), caller), "paused");
                case UNPAUSE -> ok(registry.unpause(ref(req.getUnpause().getVm()), caller), "unpaused");
                case WAIT -> ok(await(registry.waitFor(ref(req.getWait().getVm()), caller)), "terminated");
                case STATS -> Response.newBuilder().setStats(registry.stats(ref(req.getStats().getVm()), caller))
                        .build();
                case RELOAD -> {
                    rootOnly(caller, req);
                    daemon.reload();
                    yield ok("reload requested");
                }
                case LOAD -> {
                    rootOnly(caller, req);
                    daemon.load(loadPath(req.getLoad().getFile()));
                    yield ok("load requested");
                }
                case RESET -> {
                    rootOnly(caller, req);
                    daemon.reset(req.getReset().getWhat());
                    yield ok("reset requested");
                }
                case LOG -> {
                    rootOnly(caller, req);
                    daemon.setVerbose(req.getLog().getVerbose());
                    yield ok("logging " + (req.getLog().getVerbose() ? "verbose" : "brief"));
                }
                case REQ_NOT_SET -> throw new VmdException(VmdException.EINVAL, "empty request");
            };
        } catch (VmdException e) {
            return Response.newBuilder().setError(Error.newBuilder().setErrno(e.errno()).setCode(e.code())
                    .setMessage(e.getMessage())).build();
        }
    }

    /** The file of a load request: an absolute path (vmctl makes it so; vmd runs from elsewhere). */
    private static Path loadPath(String file) throws VmdException {
        try {
            Path p = Path.of(file);
            if (file.isEmpty() || !p.isAbsolute()) {
                throw new VmdException(VmdException.EINVAL, "load: not an absolute path: " + file);
            }
            return p;
        } catch (InvalidPathException e) {
            throw new VmdException(VmdException.EINVAL, "load: invalid path");
        }
    }

    /**
     * The requests only root may make (vmd's control.c: reload, load, reset, log). The
     * control process refuses them from anyone else before they reach the parent; the parent
     * checks again.
     */
    static boolean rootOnly(Request.ReqCase c) {
        return switch (c) {
            case RELOAD, LOAD, RESET, LOG -> true;
            case START, STOP, STATUS, CONSOLE, PAUSE, UNPAUSE, WAIT, STATS, REQ_NOT_SET -> false;
        };
    }

    private static void rootOnly(Caller caller, Request req) throws VmdException {
        if (!rootOnly(req.getReqCase())) {
            throw new IllegalStateException(req.getReqCase() + " is not a root-only request");
        }
        if (!caller.isRoot()) {
            LOG.log(Level.WARNING, "denied request " + req.getReqCase() + " from uid " + caller.uid());
            throw new VmdException(VmdException.EPERM, "permission denied");
        }
    }

    static VmRef ref(VmSelector s) throws VmdException {
        return switch (s.getByCase()) {
            case ID -> VmRef.of(s.getId());
            case NAME -> VmRef.of(s.getName());
            case BY_NOT_SET -> throw new VmdException(VmdException.ENOENT, "vm not found");
        };
    }

    private Response start(StartRequest s, Caller caller, List<Fd> fds) throws VmdException {
        Passed passed = new Passed(fds, caller);
        Optional<Path> kernel = s.getKernel().isEmpty() ? Optional.empty() : Optional.of(path("kernel", s.getKernel()));
        Optional<Fd> kernelFd = Optional.empty();
        if (kernel.isPresent()) {
            kernelFd = Optional.of(passed.take("kernel " + kernel.get(), s.hasKernelFd(), s.getKernelFd(), false));
        } else if (s.hasKernelFd()) {
            throw new VmdException(VmdException.EINVAL, "kernel descriptor without a kernel");
        }
        Optional<Path> initrd = initrd(s);
        Optional<Fd> initrdFd = Optional.empty();
        if (initrd.isPresent()) {
            initrdFd = Optional.of(passed.take("initrd " + initrd.get(), s.hasInitrdFd(), s.getInitrdFd(), false));
        } else if (s.hasInitrdFd()) {
            throw new VmdException(VmdException.EINVAL, "initrd descriptor without an initrd");
        }
        Registry.StartOptions opts = new Registry.StartOptions(
                s.getTemplate().isEmpty() ? Optional.empty() : Optional.of(s.getTemplate()),
                kernel, s.getMemoryBytes(), s.hasInterfaces() ? s.getInterfaces() : -1,
                s.getSwitchesList(), disks(s, passed)).withInitrd(initrd).withBootFds(kernelFd, initrdFd);
        VmRef ref = ref(s.getVm());
        VmInfo vm = await(registry.start(ref, opts, caller));
        return Response.newBuilder().setOk(Ok.newBuilder().setId(vm.id()).setMessage(vm.tty())).build();
    }

    /** StartRequest.kernel: an absolute path (shown; vmd reads the descriptor). */
    private static Path path(String what, String p) throws VmdException {
        Path k;
        try {
            k = Path.of(p);
        } catch (InvalidPathException e) {
            throw new VmdException(VmdException.EINVAL, "invalid " + what + " path: " + p);
        }
        if (!k.isAbsolute()) {
            throw new VmdException(VmdException.EINVAL, what + " path is not absolute: " + p);
        }
        return k.normalize();
    }

    /**
     * The descriptors of one request: each taken once, by index, and checked like vmd's
     * vm_checkaccess with the caller's rights ({@link CallerAccess#checkPassed}). A file named
     * without its descriptor is refused: vmd opens no path a caller names (vmctl opens the
     * files it names and passes them). Refusals have errno 0: vmctl prints the message.
     */
    static final class Passed {
        private final List<Fd> fds;
        private final boolean[] taken;
        private final Caller caller;

        Passed(List<Fd> fds, Caller caller) {
            this.fds = fds;
            this.taken = new boolean[fds.size()];
            this.caller = caller;
        }

        Fd take(String what, boolean given, int index, boolean write) throws VmdException {
            if (!given) {
                throw new VmdException(0, what + ": not passed as a descriptor (vmctl opens the files it names)");
            }
            if (index < 0 || index >= fds.size()) {
                throw new VmdException(VmdException.EINVAL, what + ": descriptor " + Integer.toUnsignedString(index)
                        + " not passed (" + fds.size() + " came with the request)");
            }
            if (taken[index]) {
                throw new VmdException(VmdException.EINVAL, what + ": descriptor " + index + " named twice");
            }
            taken[index] = true;
            Fd fd = fds.get(index);
            try {
                CallerAccess.checkPassed(what, fd, caller, write);
            } catch (java.io.IOException e) {
                LOG.log(Level.DEBUG, () -> "uid " + caller.uid() + ": " + e.getMessage());
                throw new VmdException(0, e.getMessage());
            }
            return fd;
        }
    }

    /** StartRequest.initrd: an absolute path, or none. */
    static Optional<Path> initrd(StartRequest s) throws VmdException {
        if (s.getInitrd().isEmpty()) {
            return Optional.empty();
        }
        Path p;
        try {
            p = Path.of(s.getInitrd());
        } catch (InvalidPathException e) {
            throw new VmdException(VmdException.EINVAL, "invalid initrd path: " + s.getInitrd());
        }
        if (!p.isAbsolute()) {
            throw new VmdException(VmdException.EINVAL, "initrd path is not absolute: " + s.getInitrd());
        }
        return Optional.of(p.normalize());
    }

    /**
     * vmctl start -d: the images in order, each with the descriptors the caller passed: the
     * image (O_RDWR: the guest writes it) and its qcow2 bases in chain order (read-only),
     * checked with the caller's rights (vmd's vm_checkaccess).
     */
    static List<DiskSpec> disks(StartRequest s, Passed passed) throws VmdException {
        List<DiskSpec> out = new ArrayList<>();
        for (DiskRequest d : s.getDisksList()) {
            Path p;
            try {
                p = Path.of(d.getPath());
            } catch (InvalidPathException e) {
                throw new VmdException(VmdException.EINVAL, "invalid disk path: " + d.getPath());
            }
            if (!p.isAbsolute()) {
                throw new VmdException(VmdException.EINVAL, "disk path is not absolute: " + d.getPath());
            }
            DiskSpec.Format f = switch (d.getFormat()) {
                case FORMAT_AUTO -> DiskSpec.Format.AUTO;
                case FORMAT_RAW -> DiskSpec.Format.RAW;
                case FORMAT_QCOW2 -> DiskSpec.Format.QCOW2;
                case UNRECOGNIZED -> throw new VmdException(VmdException.EINVAL, "unknown disk format");
            };
            p = p.normalize();
            String what = "disk " + out.size() + " (" + p + ")";
            List<Fd> layers = new ArrayList<>();
            layers.add(passed.take(what, d.hasFd(), d.getFd(), true));
            for (int i = 0; i < d.getBaseFdsCount(); i++) {
                layers.add(passed.take(what + ": base image " + (i + 1), true, d.getBaseFds(i), false));
            }
            out.add(new DiskSpec(p, f, layers));
        }
        if (out.size() > DiskSpec.MAX_DISKS) {
            throw new VmdException(VmdException.EINVAL, "too many disks");
        }
        return out;
    }

    private Response stop(Request req, Caller caller) throws VmdException {
        var s = req.getStop();
        VmRef ref = ref(s.getVm());
        CompletableFuture<VmInfo> done = registry.stop(ref, s.getForce(), caller);
        if (s.getWait() || s.getForce()) {
            return ok(await(done), "terminated");
        }
        int id = registry.info(ref).map(VmInfo::id).orElse(ref.id());
        return Response.newBuilder().setOk(Ok.newBuilder().setId(id).setMessage("requested to shutdown")).build();
    }

    private Response status(VmSelector only) {
        StatusReply.Builder b = StatusReply.newBuilder();
        for (VmInfo v : registry.status()) {
            if (only != null && !matches(only, v)) {
                continue;
            }
            b.addVms(toProto(v));
        }
        return Response.newBuilder().setStatus(b).build();
    }

    private static boolean matches(VmSelector s, VmInfo v) {
        return switch (s.getByCase()) {
            case ID -> s.getId() == v.id();
            case NAME -> s.getName().equals(v.name());
            case BY_NOT_SET -> true;
        };
    }

    static VmStatus toProto(VmInfo v) {
        return VmStatus.newBuilder()
                .setId(v.id()).setPid(v.pid()).setVcpus(v.vcpus())
                .setMaxMemory(v.maxMemory()).setCurMemory(v.curMemory())
                .setTty(v.tty()).setOwner(Owners.format(v.ownerUid(), v.ownerGid()))
                .setOwnerUid(v.ownerUid()).setOwnerGid(v.ownerGid())
                .setState(v.state().toProto()).setName(v.name()).addAllDisks(v.disks()).build();
    }

    /** vmctl console: the VM's tty (vmctl opens it; the pty belongs to the VM's owner). */
    private Response console(VmRef ref, Caller caller) throws VmdException {
        VmInfo v = registry.owned(ref, caller);
        if (v.tty().isEmpty()) {
            throw new VmdException(VmdException.ENOENT, "console not found");
        }
        return Response.newBuilder().setOk(Ok.newBuilder().setId(v.id()).setMessage(v.tty())).build();
    }

    private static <T> T await(CompletableFuture<T> f) throws VmdException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmdException(4, "interrupted call");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof VmdException v) {
                throw v;
            }
            throw new VmdException(VmdException.EIO, String.valueOf(e.getCause().getMessage()));
        }
    }

    private static Response ok(VmInfo v, String what) {
        return Response.newBuilder().setOk(Ok.newBuilder().setId(v.id()).setMessage(what)).build();
    }

    private static Response ok(String what) {
        return Response.newBuilder().setOk(Ok.newBuilder().setMessage(what)).build();
    }

    static Response error(int errno, String message) {
        return Response.newBuilder().setError(Error.newBuilder().setErrno(errno).setMessage(message)).build();
    }
}
