package org.jvmd.vmd;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.Termination;
import org.jvmd.vmd.config.VmSpec;

/**
 * The state machine's unit-test side of {@link VmLauncher}: records launches and lets the test
 * play the VM process's events (started, terminated) by hand. No processes.
 */
final class RecordingLauncher implements VmLauncher {
    /** One launch: the test drives its events. */
    static final class Launch implements VmProcess {
        final int id;
        final VmSpec spec;
        final Listener listener;
        final int pid;
        final List<String> calls = new ArrayList<>();

        Launch(int id, VmSpec spec, Listener listener, int pid) {
            this.id = id;
            this.spec = spec;
            this.listener = listener;
            this.pid = pid;
        }

        @Override
        public int pid() {
            return pid;
        }

        @Override
        public synchronized void pause() {
            calls.add("pause");
        }

        @Override
        public synchronized void unpause() {
            calls.add("unpause");
        }

        @Override
        public synchronized void setVerbose(boolean verbose) {
            calls.add(verbose ? "verbose" : "brief");
        }

        @Override
        public synchronized void stop(boolean force) {
            calls.add(force ? "stop-force" : "stop");
        }

        @Override
        public void kill() {
            synchronized (this) {
                calls.add("kill");
            }
            listener.terminated(Termination.TERM_ERROR, "killed");
        }

        /** What {@link #residentBytes} answers; the test sets it. */
        volatile long resident = -1;

        @Override
        public long residentBytes() {
            return resident;
        }

        @Override
        public StatsReply stats() {
            return StatsReply.getDefaultInstance();
        }

        void started() {
            listener.started(pid, "/dev/pts/" + pid);
        }

        void terminated(Termination how) {
            listener.terminated(how, "");
        }
    }

    final List<Launch> launches = new ArrayList<>();
    /** The VM ids {@link #released} was called for, in order. */
    final List<Integer> released = new ArrayList<>();
    IOException failNext;
    private int nextPid = 100;

    @Override
    public synchronized VmProcess launch(int id, VmSpec spec, Listener listener) throws IOException {
        if (failNext != null) {
            IOException e = failNext;
            failNext = null;
            throw e;
        }
        Launch l = new Launch(id, spec, listener, nextPid++);
        launches.add(l);
        return l;
    }

    @Override
    public synchronized void released(int id) {
        released.add(id);
    }

    synchronized Launch last() {
        return launches.get(launches.size() - 1);
    }
}
