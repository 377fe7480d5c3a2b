package org.jvmd.sys.proc;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The child process roles, one row each (OpenBSD vmd's {@code procs[]} in proc.c): the main
 * class a spawner starts, the JVM options beside {@link Spawner#DEFAULT_JVM_OPTIONS}, the
 * unprivileged user and empty chroot the child drops to when its parent names none, and its
 * seccomp profile. Every spawner of a role ({@link Spawner#role}: vmd for vmm-proc, vmm-proc
 * for its device processes, the simulators, benchmarks and scripts/aot-cache through
 * {@link #main}) starts it from this row, so that what is measured is what ships.
 *
 * <p>An empty user or chroot in an init message means the role's default ({@link #user},
 * {@link #chroot}): every role drops, always.
 */
public enum Role {
    /**
     * One VM: KVM, vCPUs, the platform devices, the console; a guest's RAM is a memfd, not
     * heap, and the kernel and initrd go straight into it. It has no data path (its devices
     * with one are processes of their own): C1 only (-XX:TieredStopAtLevel=1), whose code is
     * quick to make; with C2, a VM's start in kvm-lab's one-CPU L1 spent 18 s of its CPU in the
     * two compilers, competing with the guest (docs/dev-notes/bench-density.md). -Xmn8m: the
     * default young generation is a third of the initial heap (1/64 of the host's memory),
     * touched page by page before the first collection, on a big host hundreds of MiB a VM.
     * ErrorFileToStderr: it runs chrooted, where no hs_err file could be written.
     */
    VMM("vmm-proc", "org.jvmd.vmm.VmmMain", List.of("-Xmn8m", "-XX:TieredStopAtLevel=1", "-XX:+ErrorFileToStderr"),
            "vmm", () -> Seccomp.device(false)),
    /**
     * One NIC. Its data path wants C2, which the JVM's default (tiered) gives: no
     * -XX:TieredStopAtLevel here, so that JAVA_TOOL_OPTIONS may still lower it (the lab
     * does, see scripts/lab-test). ErrorFileToStderr: the process runs chrooted in an empty
     * directory, where a JVM crash report (hs_err) could not be written; on stderr it lands
     * in vmm-proc's log. -Xmx64m (issue 17, measured on the host under bin/guest-sim with one
     * iperf3 TCP stream, PSS from smaps_rollup): its live data after a collection is 5 MiB,
     * but the young generation of the former -Xmx256m (a third of it) is touched page by page
     * and not collected for minutes: PSS 105-114 MiB after 10-30 s and growing, against
     * 93-98 MiB flat with -Xmx64m (two young collections while it starts, 18 ms the longer,
     * none in 30 s of traffic, which allocates some 0.3 MB/s: one a minute or so), at the same
     * throughput (median 5.75 Gbit/s both, over 5 and 7 runs on a loaded 2-core host);
     * -XX:ReservedCodeCacheSize=32m and -Xss256k gained nothing. -Xmn8m (the same under
     * bin/guest-sim, 10 s of iperf3 each way, A/B/B/A): PSS 97-99 MiB without it, 82-86 MiB with
     * it, throughput 8.3-9.3 Gbit/s either way; its data path allocates nothing per frame, so
     * the small young generation fills in minutes, not per burst. -Xmn4m (the same, with the
     * native heap trimmed, A/B/B/A): PSS 67.9 / 67.0 MiB with 8m, 63.9 / 62.7 with 4m, tcp
     * 8.1-9.2 Gbit/s and request/response 12,300-14,800 transactions/s either way.
     */
    VIONET("vionet-proc", "org.jvmd.vionet.VionetMain", List.of("-Xmn4m", "-Xmx64m", "-XX:+ErrorFileToStderr"), "vionet",
            () -> Seccomp.device(true)),
    /**
     * One disk. Its buffers are guest memory and the image's page cache, guest data never
     * enters the heap. -Xmn8m, as vmm-proc's (issue 17, scripts/bench-blk with vioblk-proc's
     * PSS sampled, docs/dev-notes/bench-density.md): the start fills the default young
     * generation (~42 MiB here) once and I/O then allocates too little to collect it, so it
     * stays resident: 94-100 MiB anonymous under I/O without it, 68-74 with it (eight young
     * collections while it starts, about one a minute under I/O), the vioblk/fio ratios
     * within their run-to-run spread; -Xmn4m saved nothing more.
     */
    VIOBLK("vioblk-proc", "org.jvmd.vioblk.VioblkMain", List.of("-Xmn8m", "-Xmx128m", "-XX:+ErrorFileToStderr"), "disk",
            Seccomp::disk),
    /**
     * vmd's control process (OpenBSD vmd's "control"): the control socket, vmctl's
     * connections and their requests, with no root capability. A small heap: it holds a
     * client's request (at most a frame) per connection, up to ControlServer's client cap.
     */
    CONTROL("control-proc", "org.jvmd.vmd.ControlMain", List.of("-Xmx32m", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=16m", "-XX:+ErrorFileToStderr"), "control",
            Seccomp::control);

    /** The unprivileged user every role drops to when its parent names none. */
    public static final String DEFAULT_USER = "_vmd";
    /**
     * The empty directory every role chroots into when its parent names none (as OpenBSD's
     * vmd, whose unprivileged processes chroot to {@code /var/empty}); created root:root 0755
     * when absent ({@link #chroot}), and refused by {@link Shed} when not empty.
     */
    public static final Path DEFAULT_CHROOT = Path.of("/var/empty");

    private final String process;
    private final String mainClass;
    private final List<String> jvmOptions;
    private final String seccompProfile;
    private final Supplier<Seccomp.Builder> seccomp;

    Role(String process, String mainClass, List<String> jvmOptions, String seccompProfile,
         Supplier<Seccomp.Builder> seccomp) {
        this.process = process;
        this.mainClass = mainClass;
        this.jvmOptions = jvmOptions;
        this.seccompProfile = seccompProfile;
        this.seccomp = seccomp;
    }

    /** The role's name ({@code vmm-proc}, {@code vionet-proc}, {@code vioblk-proc}, {@code control-proc}), as its module's. */
    public String process() {
        return process;
    }

    public String mainClass() {
        return mainClass;
    }

    /** The role's own JVM options, given after {@link Spawner#DEFAULT_JVM_OPTIONS}. */
    public List<String> jvmOptions() {
        return jvmOptions;
    }

    /** Every JVM option a child of this role starts with: Spawner's defaults, then the role's. */
    public List<String> allJvmOptions() {
        List<String> all = new ArrayList<>(Spawner.DEFAULT_JVM_OPTIONS);
        all.addAll(jvmOptions);
        return List.copyOf(all);
    }

    /** The name of the role's seccomp profile ({@code vmm}, {@code vionet}, {@code disk}). */
    public String seccompProfile() {
        return seccompProfile;
    }

    /** A fresh builder of the role's seccomp filter. */
    public Seccomp.Builder seccomp() {
        return seccomp.get();
    }

    /** The user to drop to: {@code given}, or {@link #DEFAULT_USER} when it is null or empty. */
    public String user(String given) {
        return given == null || given.isEmpty() ? DEFAULT_USER : given;
    }

    /**
     * The directory to chroot into: {@code given}, or {@link #DEFAULT_CHROOT} when it is null
     * or empty, which is created (root:root 0755) if absent. Whether it is empty is
     * {@link Shed}'s check.
     */
    public Path chroot(String given) throws IOException {
        if (given != null && !given.isEmpty()) {
            return Path.of(given);
        }
        if (!Files.isDirectory(DEFAULT_CHROOT)) {
            Files.createDirectories(DEFAULT_CHROOT,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        }
        return DEFAULT_CHROOT;
    }

    /** The drop of this role: to {@code user} (or the default) with the role's seccomp profile; chroot not yet set. */
    public Shed shed(String user) {
        return Shed.to(user(user)).seccomp(seccomp());
    }

    /** The role called {@code process} ({@code vionet-proc}, ...). */
    public static Role of(String process) {
        for (Role r : values()) {
            if (r.process.equals(process)) {
                return r;
            }
        }
        throw new IllegalArgumentException("no process role " + process);
    }

    /**
     * For scripts (scripts/aot-cache, scripts/bench-boot): {@code Role [--no-share] PROCESS...}
     * prints, for each process role named, one line with the JVM options a child of that role
     * starts with, separated by blanks (no option holds one) ({@code --no-share}: without
     * {@code -Xshare:*}, which an AOT cache excludes); {@code Role --main PROCESS} prints its
     * main class. One JVM start for every role a script needs.
     */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            if (args.length == 2 && args[0].equals("--main")) {
                out.println(of(args[1]).mainClass());
                return 0;
            }
            boolean share = args.length == 0 || !args[0].equals("--no-share");
            List<Role> roles = new ArrayList<>();
            for (int i = share ? 0 : 1; i < args.length; i++) {
                roles.add(of(args[i]));
            }
            if (!roles.isEmpty()) {
                for (Role r : roles) {
                    out.println(String.join(" ", r.allJvmOptions().stream()
                            .filter(o -> share || !o.startsWith("-Xshare:")).toList()));
                }
                return 0;
            }
        } catch (IllegalArgumentException e) {
            err.println("role: " + e.getMessage());
            return 2;
        }
        err.println("usage: Role [--no-share] PROCESS... | Role --main PROCESS");
        return 2;
    }
}
