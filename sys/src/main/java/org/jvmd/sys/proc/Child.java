package org.jvmd.sys.proc;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import java.io.IOException;
import java.net.SocketTimeoutException;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.Ready;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;

/**
 * A spawned child process and the parent's end of its channel. {@link #close()} makes sure
 * the child is gone and reaped: it kills a child that still runs.
 */
public final class Child implements AutoCloseable {
    /** pidfd_open(2), x86_64 (arch/x86/entry/syscalls/syscall_64.tbl). */
    private static final long SYS_PIDFD_OPEN = 434;

    private volatile String title;
    private final int pid;
    private final Channel channel;
    private WaitStatus status;

    Child(String title, int pid, Channel channel) {
        this.title = title;
        this.pid = pid;
        this.channel = channel;
    }

    public String title() {
        return title;
    }

    /**
     * Names the child anew in every later error about it: a child spawned ahead of its job
     * (vmd's warm pool of vmm-procs) is called after the VM it is given, as one spawned for it.
     */
    public void retitle(String newTitle) {
        this.title = newTitle;
    }

    public int pid() {
        return pid;
    }

    public Channel channel() {
        return channel;
    }

    /**
     * Waits for the child's first message, which must be Ready (a {@link Ready}, or a
     * message whose {@code ready} field is set) and returns it. Any other outcome kills and
     * reaps the child and throws {@link ChildFailedException} with a message that says what
     * happened ("vionet exited with status 1 before Ready", "vionet failed: ...",
     * "vionet did not answer Ready within 5000 ms").
     */
    public <M> M awaitReady(Parser<M> parser, long timeoutMillis) throws IOException {
        M m;
        try (Received<M> r = channel.receive(parser, timeoutMillis)) {
            m = r.message();
        } catch (SocketTimeoutException e) {
            WaitStatus s = kill();
            throw new ChildFailedException(title + " did not answer Ready within " + timeoutMillis + " ms (killed)", s, 0);
        } catch (PeerClosedException e) {
            WaitStatus s = waitFor(Math.max(timeoutMillis, 1000));
            if (s == null) {
                s = kill();
                throw new ChildFailedException(title + " closed its channel before Ready (killed)", s, 0);
            }
            throw new ChildFailedException(title + " " + s.describe() + " before Ready", s, 0);
        } catch (FrameException e) {
            WaitStatus s = kill();
            throw new ChildFailedException(title + " sent a bad frame before Ready: " + e.getMessage(), s, 0);
        }
        if (m instanceof Ready) {
            return m;
        }
        if (m instanceof Message msg) {
            FieldDescriptor ready = msg.getDescriptorForType().findFieldByName("ready");
            if (ready != null && msg.hasField(ready)) {
                return m;
            }
            FieldDescriptor error = msg.getDescriptorForType().findFieldByName("error");
            if (error != null && msg.hasField(error)
                    && msg.getField(error) instanceof org.jvmd.proto.Error err) {
                WaitStatus s = kill();
                throw new ChildFailedException(title + " failed: " + err.getMessage()
                        + (err.getErrno() != 0 ? " (" + Errno.describe(err.getErrno()) + ")" : ""), s, err.getErrno());
            }
        }
        WaitStatus s = kill();
        throw new ChildFailedException(title + " sent " + describe(m) + " instead of Ready (killed)", s, 0);
    }

    private static String describe(Object m) {
        return m instanceof Message msg ? msg.getDescriptorForType().getName() : m.getClass().getSimpleName();
    }

    /** True until the child has been reaped by this object (a zombie still counts as alive). */
    public synchronized boolean isReaped() {
        return status != null;
    }

    /**
     * Waits up to {@code timeoutMillis} (-1: forever) for the child to exit and reaps it.
     * Returns how it ended, or null if it still runs.
     */
    public synchronized WaitStatus waitFor(long timeoutMillis) throws SysException {
        if (status != null) {
            return status;
        }
        if (timeoutMillis != 0) {
            try (Fd pidfd = Fd.adopt((int) LibC.syscall(SYS_PIDFD_OPEN, pid, 0, 0, "pidfd_open(" + pid + ")"))) {
                LibC.poll(pidfd, LibC.POLLIN, (int) Math.min(Integer.MAX_VALUE, timeoutMillis));
            }
        }
        status = LibC.waitpid(pid, LibC.WNOHANG);
        return status;
    }

    /** Sends {@code sig} to the child, unless it has already been reaped. */
    public synchronized void signal(int sig) throws SysException {
        if (status == null) {
            LibC.kill(pid, sig);
        }
    }

    /** SIGKILLs the child unless it was reaped already, and reaps it. */
    public synchronized WaitStatus kill() throws SysException {
        if (status == null) {
            try {
                LibC.kill(pid, LibC.SIGKILL);
            } catch (SysException e) {
                if (e.errno() != Errno.ESRCH) {
                    throw e;
                }
            }
            status = LibC.waitpid(pid, 0);
        }
        return status;
    }

    /** Closes the channel, and kills and reaps the child if it has not exited. */
    @Override
    public void close() throws SysException {
        channel.close();
        kill();
    }

    @Override
    public String toString() {
        return title + "[" + pid + "]";
    }
}
