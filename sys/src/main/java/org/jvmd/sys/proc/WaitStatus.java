package org.jvmd.sys.proc;

/** What {@code waitpid} reported about a child (sys/wait.h's W* macros). */
public record WaitStatus(int pid, int raw) {
    public boolean exited() {
        return (raw & 0x7f) == 0;
    }

    public int exitCode() {
        return (raw >> 8) & 0xff;
    }

    public boolean signaled() {
        return (raw & 0x7f) != 0 && (raw & 0x7f) != 0x7f;
    }

    public int signal() {
        return raw & 0x7f;
    }

    /** "exited with status 1" or "was killed by signal 9". */
    public String describe() {
        if (exited()) {
            return "exited with status " + exitCode();
        }
        if (signaled()) {
            return "was killed by signal " + signal() + ((raw & 0x80) != 0 ? " (core dumped)" : "");
        }
        return "changed state 0x" + Integer.toHexString(raw);
    }
}
