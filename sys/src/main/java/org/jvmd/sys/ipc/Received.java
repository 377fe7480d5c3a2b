package org.jvmd.sys.ipc;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.sys.Fd;

/**
 * One message from a {@link Channel} (or the control socket, {@link
 * ControlSocket.Connection#receive}) with the descriptors that came with it. The receiver
 * owns the descriptors: {@link #take} hands one over, {@link #takeAll} every one left;
 * {@link #close()} closes every descriptor not taken, so {@code try (var r = ch.receive(...))}
 * never leaks. A control request names its descriptors by index in arrival order (its
 * {@link #slots} are empty); a channel message describes them with FdSlots.
 */
public final class Received<M> implements AutoCloseable {
    private final M message;
    private final List<FdSlot> slots;
    private final Fd[] fds;

    Received(M message, List<FdSlot> slots, Fd[] fds) {
        this.message = message;
        this.slots = slots;
        this.fds = fds;
    }

    public M message() {
        return message;
    }

    /** How many descriptors arrived. */
    public int fdCount() {
        return fds.length;
    }

    /** How the message describes its descriptors (empty for a message without an {@code fds} field). */
    public List<FdSlot> slots() {
        return Collections.unmodifiableList(slots);
    }

    /** Takes ownership of the {@code i}-th descriptor. */
    public Fd take(int i) {
        Fd fd = fds[i];
        if (fd == null) {
            throw new IllegalStateException("fd " + i + " already taken");
        }
        fds[i] = null;
        return fd;
    }

    /** Takes the descriptor the message describes as {@code role}/{@code index}. */
    public Fd take(FdRole role, int index) {
        for (int i = 0; i < slots.size(); i++) {
            FdSlot s = slots.get(i);
            if (s.getRole() == role && s.getIndex() == index && fds[i] != null) {
                return take(i);
            }
        }
        throw new IllegalStateException("message carries no " + role + " #" + index);
    }

    /** Takes every descriptor of {@code role}, in order. */
    public List<Fd> takeAll(FdRole role) {
        List<Fd> out = new ArrayList<>();
        for (int i = 0; i < slots.size(); i++) {
            if (slots.get(i).getRole() == role && fds[i] != null) {
                out.add(take(i));
            }
        }
        return out;
    }

    /**
     * Takes ownership of every descriptor not taken yet, in the order they arrived (the
     * control socket's messages name theirs by index in this list).
     */
    public List<Fd> takeAll() {
        List<Fd> out = new ArrayList<>();
        for (int i = 0; i < fds.length; i++) {
            if (fds[i] != null) {
                out.add(take(i));
            }
        }
        return out;
    }

    /** Closes every descriptor not taken. */
    @Override
    public void close() {
        for (int i = 0; i < fds.length; i++) {
            if (fds[i] != null) {
                fds[i].close();
                fds[i] = null;
            }
        }
    }
}
