package org.jvmd.vmd;

import java.lang.System.Logger.Level;
import java.util.List;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.sys.Fd;
import org.jvmd.sys.ipc.ControlSocket;

/**
 * What vmd's control process does with a client's request (vmd's control.c): refuses what the
 * caller may not ask — an empty request, and reload, load, reset and log from anyone but root —
 * and hands the rest, with the caller's credentials and the descriptors its request carried
 * (vmctl passes the files it names), to the parent ({@link ParentLink}), whose
 * answer goes back to the client. The parent checks every request again ({@link Control}):
 * this gate spares it requests it would refuse, it is not what keeps them out.
 */
final class ControlGate implements ControlServer.Handler {
    private static final System.Logger LOG = System.getLogger("vmd");

    private final ParentLink parent;

    ControlGate(ParentLink parent) {
        this.parent = parent;
    }

    @Override
    public Response handle(Request req, ControlSocket.PeerCredentials peer, List<Fd> fds) {
        if (req.getReqCase() == Request.ReqCase.REQ_NOT_SET) {
            Fd.closeAll(fds);
            return Control.error(VmdException.EINVAL, "empty request");
        }
        if (peer.uid() != 0 && Control.rootOnly(req.getReqCase())) {
            Fd.closeAll(fds);
            LOG.log(Level.WARNING, "denied request " + req.getReqCase() + " from uid " + peer.uid());
            return Control.error(VmdException.EPERM, "permission denied");
        }
        return parent.call(req, peer, fds);
    }
}
