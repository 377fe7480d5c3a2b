package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.jvmd.proto.ControlCall;
import org.jvmd.proto.ControlReply;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FromControl;
import org.jvmd.proto.LoadRequest;
import org.jvmd.proto.LogRequest;
import org.jvmd.proto.Ok;
import org.jvmd.proto.ReloadRequest;
import org.jvmd.proto.Request;
import org.jvmd.proto.ResetRequest;
import org.jvmd.proto.Response;
import org.jvmd.proto.StatusRequest;
import org.jvmd.proto.ToControl;
import org.jvmd.sys.Fd;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.ControlSocket.PeerCredentials;
import org.jvmd.sys.ipc.Received;

/**
 * The control process's gate and its link to the parent, over a real channel pair: what a
 * caller may not ask never reaches the parent; the rest arrives with the caller's
 * credentials, and the parent's answer reaches the client that asked, even with calls
 * answered out of order; a parent that goes away ends every waiting call with an error.
 */
class ControlGateTest {
    private final Channel[] pair;
    private final ParentLink link;
    private final ControlGate gate;
    private final Thread reader;

    ControlGateTest() throws Exception {
        pair = Channel.pair();
        link = new ParentLink(pair[0]);
        gate = new ControlGate(link);
        reader = Thread.ofPlatform().daemon(true).start(() -> link.run(v -> { }));
    }

    @AfterEach
    void close() {
        pair[0].close();
        pair[1].close();
    }

    private static final PeerCredentials ALICE = new PeerCredentials(1000, 1000, 4242);
    private static final PeerCredentials ROOT = new PeerCredentials(0, 0, 1);

    @Test
    void rootOnlyRequestsFromOthersAndEmptyRequestsNeverReachTheParent() throws Exception {
        for (Request r : new Request[] {Request.newBuilder().setReload(ReloadRequest.getDefaultInstance()).build(),
                Request.newBuilder().setLoad(LoadRequest.newBuilder().setFile("/etc/vm.conf")).build(),
                Request.newBuilder().setReset(ResetRequest.getDefaultInstance()).build(),
                Request.newBuilder().setLog(LogRequest.newBuilder().setVerbose(true)).build()}) {
            Response resp = gate.handle(r, ALICE, List.of());
            assertEquals(VmdException.EPERM, resp.getError().getErrno(), r.toString());
            assertEquals("permission denied", resp.getError().getMessage());
        }
        assertEquals(VmdException.EINVAL, gate.handle(Request.getDefaultInstance(), ROOT, List.of()).getError().getErrno());
        assertThrows(SocketTimeoutException.class, () -> pair[1].receive(FromControl.parser(), 200),
                "nothing was forwarded");
    }

    @Test
    void theRestReachesTheParentWithTheCallersCredentialsAndEachAnswerItsClient() throws Exception {
        Request status = Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build();
        Request reload = Request.newBuilder().setReload(ReloadRequest.getDefaultInstance()).build();
        CompletableFuture<Response> a = CompletableFuture.supplyAsync(() -> gate.handle(status, ALICE, List.of()));
        ControlCall first = call();
        CompletableFuture<Response> b = CompletableFuture.supplyAsync(() -> gate.handle(reload, ROOT, List.of()));
        ControlCall second = call();
        assertEquals(1000, first.getUid());
        assertEquals(4242, first.getPid());
        assertEquals(status, first.getRequest());
        assertEquals(0, second.getUid());
        assertEquals(reload, second.getRequest());
        // answered in the other order
        answer(second.getId(), "reloaded");
        answer(first.getId(), "status");
        assertEquals("reloaded", b.get().getOk().getMessage());
        assertEquals("status", a.get().getOk().getMessage());
    }

    @Test
    void aParentThatGoesAwayEndsEveryWaitingCallWithAnError() throws Exception {
        CompletableFuture<Response> a = CompletableFuture.supplyAsync(
                () -> gate.handle(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build(), ALICE, List.of()));
        call();
        pair[1].close();
        Response r = a.get();
        assertEquals(VmdException.EIO, r.getError().getErrno());
        reader.join(5000);
        assertTrue(!reader.isAlive(), "the link's reader ends with the parent");
        assertEquals(VmdException.EIO,
                gate.handle(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build(), ALICE, List.of())
                        .getError().getErrno());
    }

    @Test
    void theRequestsDescriptorsGoWithItToTheParentAndARefusedRequestsAreClosed() throws Exception {
        Fd[] files = Channel.socketpair();
        Request status = Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build();
        CompletableFuture<Response> a = CompletableFuture.supplyAsync(
                () -> gate.handle(status, ALICE, new ArrayList<>(List.of(files[0]))));
        try (Received<FromControl> r = pair[1].receive(FromControl.parser(), 5000)) {
            assertEquals(List.of(FdSlot.newBuilder().setRole(FdRole.FD_CALLER).setIndex(0).build()), r.slots());
            assertEquals(1, r.takeAll(FdRole.FD_CALLER).size());
            answer(r.message().getCall().getId(), "status");
        }
        assertEquals("status", a.get().getOk().getMessage());
        assertFalse(files[0].isOpen(), "the control process's copy went with the call");

        Response refused = gate.handle(Request.newBuilder().setReload(ReloadRequest.getDefaultInstance()).build(), ALICE,
                List.of(files[1]));
        assertEquals(VmdException.EPERM, refused.getError().getErrno());
        assertFalse(files[1].isOpen(), "a refused request's descriptors are closed");
    }

    private ControlCall call() throws Exception {
        try (Received<FromControl> r = pair[1].receive(FromControl.parser(), 5000)) {
            assertTrue(r.message().hasCall(), r.message().toString());
            return r.message().getCall();
        }
    }

    private void answer(long id, String message) throws Exception {
        pair[1].send(ToControl.newBuilder().setReply(ControlReply.newBuilder().setId(id)
                .setResponse(Response.newBuilder().setOk(Ok.newBuilder().setMessage(message)))).build());
    }
}
