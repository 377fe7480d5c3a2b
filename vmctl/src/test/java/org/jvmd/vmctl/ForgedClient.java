package org.jvmd.vmctl;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.DiskRequest;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StartRequest;
import org.jvmd.proto.StatusRequest;
import org.jvmd.proto.VmSelector;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.ControlSocket;

/**
 * A client that is not vmctl, run as a test's non-root user ({@link TestUser#java}): it sends
 * vmd the requests vmctl never would (a path without its descriptor, descriptors of the
 * wrong kind, too many) and prints vmd's answer as one line: {@code ok}, {@code error:
 * <message>} or {@code dropped} (vmd closed the connection).
 *
 * <p>Usage: {@code ForgedClient socket scenario file}
 */
public final class ForgedClient {
    private ForgedClient() {}

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        String scenario = args[1];
        String file = args.length > 2 ? args[2] : "";
        StartRequest.Builder start = StartRequest.newBuilder().setVm(VmSelector.newBuilder().setName("forged"))
                .setTemplate("tpl");
        List<Fd> fds = new ArrayList<>();
        Request req = switch (scenario) {
            case "kernel-path" -> Request.newBuilder().setStart(start.setKernel(file)).build();
            case "disk-path" -> Request.newBuilder().setStart(start.addDisks(DiskRequest.newBuilder().setPath(file))).build();
            case "kernel-fd" -> {      // file opened read-only (a directory, a FIFO: as they come)
                fds.add(LibC.open(file, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC));
                yield Request.newBuilder().setStart(start.setKernel(file).setKernelFd(0)).build();
            }
            case "kernel-wronly" -> {
                fds.add(LibC.open(file, LibC.O_WRONLY | LibC.O_CLOEXEC));
                yield Request.newBuilder().setStart(start.setKernel(file).setKernelFd(0)).build();
            }
            case "disk-rdonly" -> {
                fds.add(LibC.open(file, LibC.O_RDONLY | LibC.O_CLOEXEC));
                yield Request.newBuilder().setStart(start.addDisks(DiskRequest.newBuilder().setPath(file).setFd(0))).build();
            }
            case "unexpected" -> {     // a status request with descriptors it does not name
                for (int i = 0; i < 5; i++) {
                    fds.add(LibC.open(file, LibC.O_RDONLY | LibC.O_CLOEXEC));
                }
                yield Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build();
            }
            case "too-many" -> {
                for (int i = 0; i <= ControlSocket.MAX_FDS; i++) {
                    fds.add(LibC.open(file, LibC.O_RDONLY | LibC.O_CLOEXEC));
                }
                yield Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build();
            }
            default -> throw new IllegalArgumentException(scenario);
        };
        try (ControlSocket.Connection c = ControlSocket.connectPassing(socket)) {
            c.write(req, fds);
            Response r;
            try {
                r = c.read(Response.parser());
            } catch (IOException e) {
                r = null;
            }
            System.out.println(r == null ? "dropped" : r.hasError() ? "error: " + r.getError().getMessage() : "ok");
        }
    }
}
