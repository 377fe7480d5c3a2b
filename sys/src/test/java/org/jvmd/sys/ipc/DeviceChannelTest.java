package org.jvmd.sys.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.Example;
import org.jvmd.proto.Error;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.Shutdown;
import org.jvmd.proto.ToVionet;
import org.jvmd.sys.device.DeviceChannel;

/**
 * A device process's end of its channel ({@link DeviceChannel}): what its loop sees of a bad
 * frame, the parent's end of file, a reply to a parent gone, and a message it does not serve.
 * In this package for {@link Channel#sendRaw}, which forges the bad frame.
 */
class DeviceChannelTest {
    private static DeviceChannel<ToVionet> device(Channel ch) {
        return new DeviceChannel<>(ch, ToVionet.parser(),
                m -> FromVionet.newBuilder().setError(Error.newBuilder().setMessage(m)).build());
    }

    private static String errorAt(Channel parent) throws Exception {
        try (Received<FromVionet> r = parent.receive(FromVionet.parser(), 5_000)) {
            assertTrue(r.message().hasError(), r.message().toString());
            return r.message().getError().getMessage();
        }
    }

    @Example
    void badFrameIsAnsweredWithAnErrorAndTheNextMessageStillArrives() throws Exception {
        Channel[] ch = Channel.pair();
        try (Channel parent = ch[0]; Channel child = ch[1]) {
            DeviceChannel<ToVionet> d = device(child);
            byte[] garbage = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};
            parent.sendRaw(garbage, garbage.length);
            assertNull(d.receive());
            assertFalse(d.closed());
            assertTrue(errorAt(parent).startsWith("bad frame: "));

            parent.send(ToVionet.newBuilder().setShutdown(Shutdown.getDefaultInstance()).build());
            assertEquals(ToVionet.MsgCase.SHUTDOWN, d.receive().getMsgCase());
            assertFalse(d.closed());
            assertFalse(d.gone());
        }
    }

    @Example
    void unservedMessageIsAnsweredWithAnErrorNamingIt() throws Exception {
        Channel[] ch = Channel.pair();
        try (Channel parent = ch[0]; Channel child = ch[1]) {
            device(child).unexpected(ToVionet.MsgCase.INIT);
            assertEquals("unexpected message INIT", errorAt(parent));
        }
    }

    @Example
    void parentsEndOfFileIsClosedAndAReplyToItIsGone() throws Exception {
        Channel[] ch = Channel.pair();
        try (Channel child = ch[1]) {
            DeviceChannel<ToVionet> d = device(child);
            ch[0].close();
            assertNull(d.receive());
            assertTrue(d.closed());
            assertFalse(d.gone());
            d.send(FromVionet.getDefaultInstance());
            assertTrue(d.gone());
        }
    }
}
