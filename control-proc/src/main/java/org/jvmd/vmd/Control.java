package org.jvmd.vmd;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.logging.Logger;
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
    private static final Logger LOG = Logger.getLogger("vmd");

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

    /** Answers one request of {@code caller} (may block: start, stop -w, wait). */
    public Response handle(Request req, Caller caller) {
        try {
            return switch (req.getReqCase()) {
                case START -> start(req.getStart(), caller);
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

    private static void rootOnly(Caller caller, Request req) throws VmdException {
        if (!caller.isRoot()) {
            LOG.warning("denied request " + req.getReqCase() + " from uid " + caller.uid());
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

    private Response start(StartRequest s, Caller caller) throws VmdException {
        Registry.StartOptions opts = new Registry.StartOptions(
                s.getTemplate().isEmpty() ? Optional.empty() : Optional.of(s.getTemplate()),
                s.getKernel().isEmpty() ? Optional.empty() : Optional.of(Path.of(s.getKernel())),
                s.getMemoryBytes(), s.hasInterfaces() ? s.getInterfaces() : -1,
                s.getSwitchesList(), disks(s, caller)).withInitrd(initrd(s));
        VmRef ref = ref(s.getVm());
        VmInfo vm = await(registry.start(ref, opts, caller));
        return Response.newBuilder().setOk(Ok.newBuilder().setId(vm.id()).setMessage(vm.tty())).build();
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
     * vmctl start -d: the images in order, each marked with a non-root caller's uid so that
     * its rights on the image are checked when the VM starts (vmd's vm_checkaccess).
     */
    static List<DiskSpec> disks(StartRequest s, Caller caller) throws VmdException {
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
            out.add(new DiskSpec(p.normalize(), f, caller.isRoot() ? OptionalInt.empty() : OptionalInt.of(caller.uid())));
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
