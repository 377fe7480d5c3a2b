package org.jvmd.vmm.net;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.Ready;
import org.jvmd.proto.ResetDone;
import org.jvmd.proto.ToVionet;
import org.jvmd.sys.Channel;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.MappedGuestMemory;
import org.jvmd.sys.Received;
import org.jvmd.sys.SysException;

/**
 * The vionet end of the channel contract, played in-process by tests of the proxy: it
 * records every {@code ToVionet} with the descriptors it carried, answers {@code init} with
 * {@code Ready} and {@code Reset} with {@code ResetDone} (the contract's required answers),
 * and sends whatever else a test tells it to. It models none of vionet's device behaviour;
 * tests assert only what the proxy sends and what it does with the answers.
 */
public final class VionetPeer implements AutoCloseable {
    public final Channel channel;
    private final BlockingQueue<ToVionet> received = new LinkedBlockingQueue<>();
    private final List<Fd> fds = new ArrayList<>();
    private final List<FdSlot> slots = new ArrayList<>();
    private final Thread thread;
    volatile boolean answerReset = true;
    volatile FromVionet answerInit = FromVionet.newBuilder()
            .setReady(Ready.newBuilder().setProcess("vm/test/vionet0").setPid(LibC.getpid())).build();
    private volatile boolean eof;

    public VionetPeer(Channel channel) {
        this.channel = channel;
        this.thread = Thread.ofPlatform().daemon().name("vionet-peer").start(this::loop);
    }

    private void loop() {
        while (true) {
            try (Received<ToVionet> r = channel.receive(ToVionet.parser(), -1)) {
                ToVionet m = r.message();
                if (m.hasInit()) {
                    synchronized (this) {
                        for (int i = 0; i < r.fdCount(); i++) {
                            slots.add(r.slots().get(i));
                            fds.add(r.take(i));
                        }
                    }
                }
                received.add(m);
                if (m.hasInit()) {
                    send(answerInit);
                } else if (m.hasReset() && answerReset) {
                    send(FromVionet.newBuilder().setResetDone(ResetDone.getDefaultInstance()).build());
                }
            } catch (IOException e) {
                eof = true;
                return;
            }
        }
    }

    public void send(FromVionet m) throws IOException {
        channel.send(m);
    }

    /** The next message the proxy sent, within {@code ms}. */
    public ToVionet next(long ms) throws InterruptedException {
        ToVionet m = received.poll(ms, TimeUnit.MILLISECONDS);
        if (m == null) {
            throw new AssertionError("the proxy sent nothing within " + ms + " ms");
        }
        return m;
    }

    /** The next message of {@code kind}, failing on any other message in between. */
    public ToVionet next(ToVionet.MsgCase kind, long ms) throws InterruptedException {
        ToVionet m = next(ms);
        if (m.getMsgCase() != kind) {
            throw new AssertionError("expected " + kind + ", got " + m);
        }
        return m;
    }

    public boolean nothingPending() {
        return received.isEmpty();
    }

    public synchronized List<FdSlot> slots() {
        return List.copyOf(slots);
    }

    /** The descriptor the init message carried as ({@code role}, {@code index}). */
    public synchronized Fd fd(FdRole role, int index) {
        for (int i = 0; i < slots.size(); i++) {
            if (slots.get(i).getRole() == role && slots.get(i).getIndex() == index) {
                return fds.get(i);
            }
        }
        throw new AssertionError("init carried no " + role + " " + index + ": " + slots);
    }

    /** Maps the memfd of the init message with its regions (as vionet does). */
    public MappedGuestMemory mapMemory(ToVionet init) throws SysException {
        List<MappedGuestMemory.Range> ranges = init.getInit().getRegionsList().stream()
                .map(r -> new MappedGuestMemory.Range(r.getGuestPhys(), r.getSize(), r.getMemfdOffset())).toList();
        return MappedGuestMemory.map(fd(FdRole.FD_MEMFD, 0), ranges);
    }

    /** Waits until the proxy's end of the channel is closed. */
    public boolean awaitEof(long ms) throws InterruptedException {
        thread.join(ms);
        return eof;
    }

    /** Dies like a crashed vionet: the proxy sees EOF. */
    @Override
    public synchronized void close() {
        channel.close();
        Fd.closeAll(fds);
    }
}
