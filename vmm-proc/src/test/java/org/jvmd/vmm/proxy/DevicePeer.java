package org.jvmd.vmm.proxy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.memory.MappedGuestMemory;

/**
 * The device-process end of a {@link DeviceProxy}'s channel contract, played in-process by
 * tests of a proxy: it records every message with the descriptors the init carried, answers
 * init with {@link #answerInit} and a reset with its confirmation (the contract's required
 * answers), and sends whatever else a test tells it to. It models none of the device's
 * behaviour; tests assert only what the proxy sends and what it does with the answers.
 *
 * @param <T> the proxy's messages ({@code ToVionet}, {@code ToVioblk})
 * @param <F> the device's messages
 */
public class DevicePeer<T extends Message, F extends MessageLite> implements AutoCloseable {
    public final Channel channel;
    private final Parser<T> parser;
    private final F resetDone;
    private final BlockingQueue<T> received = new LinkedBlockingQueue<>();
    private final List<Fd> fds = new ArrayList<>();
    private final List<FdSlot> slots = new ArrayList<>();
    private final Thread thread;
    public volatile boolean answerReset = true;
    public volatile F answerInit;
    private volatile boolean eof;

    /** Answers init with {@code ready} and a reset with {@code resetDone}. */
    public DevicePeer(Channel channel, Parser<T> parser, F ready, F resetDone) {
        this.channel = channel;
        this.parser = parser;
        this.answerInit = ready;
        this.resetDone = resetDone;
        this.thread = Thread.ofPlatform().daemon().name("device-peer").start(this::loop);
    }

    /** The name of the oneof field {@code m} carries ("init", "queue_ready"), or "". */
    private static String field(Message m) {
        Descriptors.OneofDescriptor msg = m.getDescriptorForType().getOneofs().get(0);
        Descriptors.FieldDescriptor f = m.getOneofFieldDescriptor(msg);
        return f == null ? "" : f.getName();
    }

    private static boolean isInit(Message m) {
        return field(m).equals("init");
    }

    private static boolean isReset(Message m) {
        return field(m).equals("reset");
    }

    /** The regions of an init message (its {@code init.regions}). */
    @SuppressWarnings("unchecked")
    private static List<MemoryRegion> regions(Message init) {
        Message i = (Message) init.getField(init.getDescriptorForType().findFieldByName("init"));
        return (List<MemoryRegion>) i.getField(i.getDescriptorForType().findFieldByName("regions"));
    }

    private void loop() {
        while (true) {
            try (Received<T> r = channel.receive(parser, -1)) {
                T m = r.message();
                if (isInit(m)) {
                    synchronized (this) {
                        for (int i = 0; i < r.fdCount(); i++) {
                            slots.add(r.slots().get(i));
                            fds.add(r.take(i));
                        }
                    }
                }
                received.add(m);
                if (isInit(m)) {
                    send(answerInit);
                } else if (isReset(m) && answerReset) {
                    send(resetDone);
                }
            } catch (IOException e) {
                eof = true;
                return;
            }
        }
    }

    public void send(F m) throws IOException {
        channel.send(m);
    }

    /** The next message the proxy sent, within {@code ms}. */
    public T next(long ms) throws InterruptedException {
        T m = received.poll(ms, TimeUnit.MILLISECONDS);
        if (m == null) {
            throw new AssertionError("the proxy sent nothing within " + ms + " ms");
        }
        return m;
    }

    /** The next message of {@code kind} (its MsgCase), failing on any other message in between. */
    public T next(Enum<?> kind, long ms) throws InterruptedException {
        T m = next(ms);
        if (!field(m).toUpperCase(java.util.Locale.ROOT).equals(kind.name())) {
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

    /** The descriptor the init message carried as ({@code role}, {@code index}, {@code layer}). */
    public synchronized Fd fd(FdRole role, int index, int layer) {
        for (int i = 0; i < slots.size(); i++) {
            FdSlot s = slots.get(i);
            if (s.getRole() == role && s.getIndex() == index && s.getLayer() == layer) {
                return fds.get(i);
            }
        }
        throw new AssertionError("init carried no " + role + " " + index + "/" + layer + ": " + slots);
    }

    public Fd fd(FdRole role, int index) {
        return fd(role, index, 0);
    }

    /** Maps the memfd of the init message with its regions (as the device process does). */
    public MappedGuestMemory mapMemory(T init) throws SysException {
        List<MappedGuestMemory.Range> ranges = regions(init).stream()
                .map(r -> new MappedGuestMemory.Range(r.getGuestPhys(), r.getSize(), r.getMemfdOffset())).toList();
        return MappedGuestMemory.map(fd(FdRole.FD_MEMFD, 0), ranges);
    }

    /** Waits until the proxy's end of the channel is closed. */
    public boolean awaitEof(long ms) throws InterruptedException {
        thread.join(ms);
        return eof;
    }

    /** Dies like a crashed device process: the proxy sees EOF. */
    @Override
    public synchronized void close() {
        channel.close();
        Fd.closeAll(fds);
    }
}
