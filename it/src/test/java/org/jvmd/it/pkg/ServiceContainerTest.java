package org.jvmd.it.pkg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import org.jvmd.testkit.Shell;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jvmd.testkit.EchoGuest;
import org.jvmd.testkit.Host;
import org.jvmd.testkit.RequiresKvm;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Device;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.BindMode;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.IsRunningStartupCheckStrategy;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.images.builder.Transferable;
import org.testcontainers.utility.MountableFile;

/**
 * The Debian package as a system service, in a container: a privileged container (or, where
 * the host's own capabilities are fewer, one with all of them) with
 * systemd as PID 1 (the image scripts/container-image builds from Debian packages, never
 * pulled), no network of its own, the .deb installed with {@code apt-get install ./jvmd_*.deb}
 * (offline), then the service's life: start (Type=notify: active once vmd said READY=1),
 * the hardening in force, vmctl as root and as a member of the socket's group, reload
 * picking up a new VM in the same process, kill -9 and systemd's restart, a clean stop,
 * remove and purge. The container is removed at the end; the base image stays cached.
 *
 * <p>Where no docker daemon answers the class skips with one line, unless the build says
 * {@code -Djvmd.test.containers=required} (scripts/test, after scripts/docker-up), where that
 * is a failure. Without /dev/kvm (this project's machines, CI) no guest boots: vionet runs end
 * to end through the guest simulator instead, the installed vionet-proc forwarding ping
 * between two namespaces in the container after dropping as shipped; where the host has
 * /dev/kvm (kvm_pvm is enough) a tiny guest also goes through reload, kill -9 of vmd and
 * systemctl stop.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServiceContainerTest {
    private static final String CONF_A = """
            # written by ServiceContainerTest
            socket owner root:vmusers
            vm "a" {
            \tmemory 64M
            \tboot "/var/lib/jvmd/guest/vmlinuz"
            \tdisable
            }
            """;
    private static final String CONF_B = """
            vm "b" {
            \tmemory 32M
            \tboot "/var/lib/jvmd/guest/vmlinuz"
            \tdisable
            }
            """;

    private static GenericContainer<?> box;

    @BeforeAll
    static void startContainer() throws Exception {
        boolean required = "required".equals(System.getProperty("jvmd.test.containers"));
        String why = null;
        String tag = null;
        if (!Files.exists(Path.of("/var/run/docker.sock")) && System.getenv("DOCKER_HOST") == null) {
            why = "no /var/run/docker.sock";
        } else {
            Host.assumeRoot("ServiceContainerTest (scripts/container-image runs mmdebstrap as root)");
            try {
                // First the image: it is also testcontainers' helper image (jvmd-it-base:latest),
                // which its client checks run before anything else.
                List<String> img = Shell.sh(List.of("bash",
                        DebPackage.projectRoot().resolve("scripts/container-image").toString())).strip().lines().toList();
                tag = img.get(img.size() - 1);
                DockerClientFactory.instance().client();
            } catch (java.io.IOException | RuntimeException e) {
                why = e.toString();
            }
        }
        if (why != null) {
            if (required) {
                fail("no docker daemon answers (" + why + "), and -Djvmd.test.containers=required (scripts/docker-up starts one)");
            }
            Host.skipIf(java.util.Optional.of("no docker daemon (scripts/docker-up starts one): " + why),
                    "ServiceContainerTest");
        }
        Path deb = DebPackage.get();
        List<String> missing = missingCapabilities();
        System.err.println("jvmd-test: ServiceContainerTest: image " + tag + ", capabilities the host lacks: " + missing);
        GenericContainer<?> c = new GenericContainer<>(DockerImageName.parse(tag))
                .withNetworkMode("none")
                .withTmpFs(Map.of("/run", "rw,exec,mode=755", "/run/lock", "rw", "/tmp", "rw,exec"))
                .withCopyFileToContainer(MountableFile.forHostPath(deb), "/root/" + deb.getFileName())
                .withCommand("/sbin/init")
                .withStartupCheckStrategy(new IsRunningStartupCheckStrategy().withTimeout(Duration.ofSeconds(60)));
        if (missing.isEmpty()) {
            c.withPrivilegedMode(true); // every device, every capability, cgroups writable
        } else {
            // A host whose own bounding set lacks capabilities (this project's machines lack
            // CAP_SYS_RESOURCE) cannot start a privileged container ("unable to apply caps").
            // The nearest thing: every capability the host has, no seccomp/AppArmor profile,
            // /dev/net/tun (and /dev/kvm), the cgroup tree writable for systemd.
            System.err.println("jvmd-test: ServiceContainerTest: the host's bounding set lacks " + missing
                    + ": the container gets every other capability instead of --privileged");
            List<Device> devices = new ArrayList<>(List.of(Device.parse("/dev/net/tun:/dev/net/tun:rwm")));
            if (Files.exists(Path.of("/dev/kvm"))) {
                devices.add(Device.parse("/dev/kvm:/dev/kvm:rwm"));
            }
            c.withFileSystemBind("/sys/fs/cgroup", "/sys/fs/cgroup", BindMode.READ_WRITE)
                    .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig()
                            .withCapAdd(Capability.ALL)
                            .withCapDrop(missing.stream().map(Capability::valueOf).toArray(Capability[]::new))
                            .withSecurityOpts(List.of("seccomp=unconfined", "apparmor=unconfined"))
                            .withDevices(devices));
        }
        c.start();
        box = c;
        // systemd up: "running", or "degraded" when a unit the container cannot have failed
        // (its bus socket appears a moment after the container starts)
        ExecResult up = sh("timeout 90 systemctl is-system-running --wait");
        long deadline = System.nanoTime() + 90_000_000_000L;
        while (up.getStdout().isBlank() && System.nanoTime() < deadline) {
            Thread.sleep(500);
            up = sh("timeout 90 systemctl is-system-running --wait");
        }
        assertTrue(up.getStdout().strip().matches("running|degraded"), describe("systemd did not come up", up));
    }

    /**
     * The capabilities (docker's names, without CAP_) the docker daemon's bounding set lacks
     * (this process's where no local dockerd is found), up to the kernel's last one: docker's
     * --privileged asks for all of them. (The daemon's, not this JVM's: on this project's
     * machines the two differ.)
     */
    static List<String> missingCapabilities() throws Exception {
        Path status = Path.of("/proc/self/status");
        Process pgrep = new ProcessBuilder("pgrep", "-o", "-x", "dockerd").redirectErrorStream(true).start();
        String pid = new String(pgrep.getInputStream().readAllBytes()).strip();
        if (pgrep.waitFor() == 0 && pid.matches("[0-9]+")) {
            status = Path.of("/proc", pid, "status");
        }
        long bnd = Files.readAllLines(status).stream().filter(l -> l.startsWith("CapBnd:"))
                .map(l -> Long.parseLong(l.substring(7).strip(), 16)).findFirst().orElseThrow();
        // readAllLines, not readString: readString of this procfs file returned "4" for "40" on JDK 25
        int last = Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/kernel/cap_last_cap")).get(0).strip());
        // linux/capability.h, in bit order; docker knows them by these names
        String[] names = {"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
            "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK",
            "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT",
            "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
            "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON",
            "BPF", "CHECKPOINT_RESTORE"};
        List<String> missing = new ArrayList<>();
        for (int i = 0; i <= Math.min(last, names.length - 1); i++) {
            if ((bnd & (1L << i)) == 0) {
                missing.add(names[i]);
            }
        }
        return missing;
    }

    @AfterAll
    static void removeContainer() {
        if (box != null) {
            box.stop(); // stops and removes the container (and its anonymous volumes)
        }
    }

    static ExecResult sh(String script) throws Exception {
        return box.execInContainer("sh", "-c", script);
    }

    static String ok(String script) throws Exception {
        ExecResult r = sh(script);
        assertEquals(0, r.getExitCode(), describe(script, r));
        return r.getStdout();
    }

    static String describe(String what, ExecResult r) {
        return what + ": exit " + r.getExitCode() + "\nstdout: " + r.getStdout() + "\nstderr: " + r.getStderr();
    }

    static String prop(String name) throws Exception {
        return ok("systemctl show -P " + name + " vmd.service").strip();
    }

    static void awaitActive(String notPid) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            String state = prop("ActiveState");
            String pid = prop("MainPID");
            if (state.equals("active") && !pid.equals("0") && !pid.equals(notPid)) {
                return;
            }
            Thread.sleep(500);
        }
        fail("vmd not active again:\n" + sh("systemctl status vmd; journalctl -u vmd --no-pager | tail -30").getStdout());
    }

    @Test
    @Order(1)
    void installsOfflineWithItsUserDirectoriesAndAnEnabledUnit() throws Exception {
        ok("[ -c /dev/net/tun ]");
        ok("! command -v java"); // no JDK in the image: the package brings its runtime
        ok("cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y ./jvmd_*.deb");
        assertTrue(ok("getent passwd _vmd").contains(":/var/empty:/usr/sbin/nologin"));
        assertEquals("755 root root", ok("stat -c '%a %U %G' /var/empty").strip());
        ok("[ -d /var/log/vmd ] && [ -d /var/lib/jvmd ]");
        assertEquals("enabled", ok("systemctl is-enabled vmd").strip());
        // --man=no: the image has no man-db (the unit's Documentation= pages are in the package).
        // It exits 0 on a key it does not know or a value it cannot parse (a warning, and the
        // line is ignored): none may name the unit.
        ExecResult verify = sh("systemd-analyze verify --man=no /lib/systemd/system/vmd.service");
        assertEquals(0, verify.getExitCode(), describe("systemd-analyze verify", verify));
        assertFalse((verify.getStdout() + verify.getStderr()).contains("vmd.service:"), describe("systemd-analyze verify", verify));
    }

    @Test
    @Order(2)
    void startsAsNotifyServiceWithItsHardeningAndAnswersRootAndTheSocketGroup() throws Exception {
        ok("groupadd vmusers && useradd -m -G vmusers alice && useradd -m bob");
        ok("mkdir -p /var/lib/jvmd/guest && : > /var/lib/jvmd/guest/vmlinuz");
        ok("cat > /etc/vm.conf <<'EOF'\n" + CONF_A + "EOF");
        ok("systemctl start vmd"); // Type=notify: returns once vmd sent READY=1
        assertEquals("active", ok("systemctl is-active vmd").strip());
        assertEquals("notify", prop("Type"));
        assertEquals("yes", prop("NoNewPrivileges"));
        assertEquals("full", prop("ProtectSystem"));
        assertEquals("yes", prop("ProtectKernelModules"));
        assertEquals("yes", prop("PrivateTmp"));
        assertEquals("main", prop("NotifyAccess"));
        assertEquals("mixed", prop("KillMode"));
        assertEquals("on-failure", prop("Restart"));
        assertEquals("yes", prop("RestrictSUIDSGID"));
        assertEquals("yes", prop("ProtectKernelTunables"));
        assertEquals("yes", prop("ProtectKernelLogs"));
        assertEquals("yes", prop("ProtectControlGroups"));
        assertEquals("yes", prop("ProtectHostname"));
        assertEquals("yes", prop("RestrictRealtime"));
        assertEquals("yes", prop("LockPersonality"));
        assertTrue(prop("SystemCallArchitectures").matches("native|x86-64"), prop("SystemCallArchitectures"));
        assertEquals("0027", prop("UMask"));
        String families = prop("RestrictAddressFamilies");
        assertEquals(List.of("AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"),
                java.util.Arrays.stream(families.split("\\s+")).sorted().toList(), families);
        String caps = prop("CapabilityBoundingSet");
        assertTrue(caps.contains("cap_net_admin") && caps.contains("cap_sys_chroot"), caps);
        assertFalse(caps.contains("cap_sys_admin") || caps.contains("cap_sys_module") || caps.contains("cap_sys_ptrace"), caps);
        // ...and in force on the running vmd, as the kernel sees it
        String vmd = prop("MainPID");
        String status = ok("cat /proc/" + vmd + "/status");
        assertTrue(status.contains("\nNoNewPrivs:\t1\n"), status);
        long bnd = status.lines().filter(l -> l.startsWith("CapBnd:")).mapToLong(l -> Long.parseLong(l.substring(7).strip(), 16))
                .findFirst().orElseThrow();
        // linux/capability.h: CHOWN 0, DAC_OVERRIDE 1, DAC_READ_SEARCH 2, FOWNER 3, KILL 5, SETGID 6,
        // SETUID 7, NET_ADMIN 12, IPC_LOCK 14, SYS_CHROOT 18, SYS_RESOURCE 24 (the unit's set)
        long unitSet = 1L << 0 | 1L << 1 | 1L << 2 | 1L << 3 | 1L << 5 | 1L << 6 | 1L << 7 | 1L << 12 | 1L << 14 | 1L << 18 | 1L << 24;
        assertEquals(0L, bnd & ~unitSet, "vmd's bounding set within the unit's: 0x" + Long.toHexString(bnd));
        assertEquals(1L << 12 | 1L << 18, bnd & (1L << 12 | 1L << 18), "CAP_NET_ADMIN, CAP_SYS_CHROOT: 0x" + Long.toHexString(bnd));
        // ProtectSystem=full: /usr and /etc read-only in vmd's mount namespace
        String mounts = ok("awk '$5 == \"/usr\" || $5 == \"/etc\" { print $5, $6 }' /proc/" + vmd + "/mountinfo");
        assertTrue(mounts.lines().anyMatch(l -> l.matches("/usr ro(,.*)?")) && mounts.lines().anyMatch(l -> l.matches("/etc ro(,.*)?")),
                "read-only /usr and /etc for vmd: " + mounts);
        assertTrue(ok("systemctl status vmd --no-pager").contains("Status: \"1 vms configured"), "STATUS= shown");
        assertEquals("srw-rw---- root vmusers", ok("stat -c '%A %U %G' /run/vmd.sock").strip());

        String rootStatus = ok("vmctl status");
        assertTrue(rootStatus.lines().anyMatch(l -> l.matches(".*\\bstopped\\s+a$")), rootStatus);
        String alice = ok("runuser -u alice -- vmctl status");
        assertTrue(alice.lines().anyMatch(l -> l.endsWith(" a")), alice);
        ExecResult bob = sh("runuser -u bob -- vmctl status");
        assertNotEquals(0, bob.getExitCode(), describe("bob is not in vmusers", bob));
    }

    /** The guest simulator's two namespaces in the container and their taps (addresses from 100.64.0.0/10). */
    static final String SIM_GUEST_NS = "jvmd-simg";
    static final String SIM_HOST_NS = "jvmd-simh";
    static final String SIM_GUEST_TAP = "simg0";
    static final String SIM_HOST_TAP = "simh0";
    static final String SIM_GUEST_ADDR = "100.64.18.2";
    static final String SIM_HOST_ADDR = "100.64.18.1";
    /** Where the simulator's classes (module it's target/classes) go in the container. */
    static final String SIM_CLASSES = "/root/guest-sim/classes";

    /**
     * The JVM the service runs: vmd's command line up to {@code -jar} (the bundled runtime's
     * java and every JVM option and property the installed launcher gives it, an AOT cache
     * directory among them should it name one), read from the running vmd's
     * /proc/PID/cmdline, so that what runs here is what the launcher runs.
     */
    static List<String> launcherJvm() throws Exception {
        List<String> argv = ok("tr '\\0' '\\n' < /proc/" + prop("MainPID") + "/cmdline").lines().toList();
        int jar = argv.indexOf("-jar");
        assertTrue(jar > 0, "vmd's command line: " + argv);
        assertEquals("/usr/lib/jvmd/runtime/bin/java", argv.get(0), "the service runs the bundled runtime");
        return argv.subList(0, jar);
    }

    /**
     * vionet end to end without KVM, on the installed files: the guest simulator (module it,
     * org.jvmd.it.sim.GuestSimMain; its classes copied into the container, its libraries the
     * installed ones) runs on the bundled runtime with the launcher's JVM options, as a
     * transient unit, and starts the INSTALLED vionet-proc (/usr/lib/jvmd/vionet-proc) through
     * the process-role table as vmm-proc does (Spawner.role(VIONET): the same java binary, the
     * role's JVM options). The device process must drop as shipped (user _vmd, no groups and
     * no capabilities, no_new_privs, a seccomp filter, chrooted into the package's empty
     * /var/empty) and forward frames between the simulated guest's stack (tap simg0 in one
     * namespace) and its tap (simh0 in another): ping both ways, the small and the
     * fragmented. Runs whether or not the host has /dev/kvm.
     */
    @Test
    @Order(3)
    void theInstalledVionetProcDropsAndForwardsFramesOfTheGuestSimulator() throws Exception {
        Path classes = DebPackage.projectRoot().resolve("it/target/classes");
        assertTrue(Files.isRegularFile(classes.resolve("org/jvmd/it/sim/GuestSimMain.class")), "it is compiled: " + classes);
        box.copyFileToContainer(MountableFile.forHostPath(classes), SIM_CLASSES);
        List<String> jvm = launcherJvm();
        ok("ip netns add " + SIM_GUEST_NS + " && ip netns add " + SIM_HOST_NS);
        try {
            for (String[] t : new String[][] {{SIM_GUEST_NS, SIM_GUEST_TAP, SIM_GUEST_ADDR}, {SIM_HOST_NS, SIM_HOST_TAP, SIM_HOST_ADDR}}) {
                ok("ip -n " + t[0] + " tuntap add dev " + t[1] + " mode tap && ip -n " + t[0] + " link set " + t[1]
                        + " mtu 1500 up && ip -n " + t[0] + " addr add " + t[2] + "/24 dev " + t[1]);
            }
            List<String> cmd = new ArrayList<>(List.of("systemd-run", "--unit=jvmd-guest-sim", "--collect",
                    "--property=StandardOutput=file:/root/guest-sim.out", "--property=StandardError=file:/root/guest-sim.err"));
            cmd.addAll(jvm);
            // the simulator's own heap and collector (bin/guest-sim's); vionet gets its role's
            cmd.addAll(List.of("-XX:+UseSerialGC", "-Xmx256m",
                    "-Djvmd.vionet.classpath=/usr/lib/jvmd/vionet-proc/jvmd-vionet-proc.jar",
                    "-cp", SIM_CLASSES + ":/usr/lib/jvmd/vmm-proc/jvmd-vmm-proc.jar", "org.jvmd.it.sim.GuestSimMain",
                    "--ns1", SIM_GUEST_NS, "--tap1", SIM_GUEST_TAP, "--ns2", SIM_HOST_NS, "--tap2", SIM_HOST_TAP,
                    "--guest-offloads", "on", "--user", "_vmd", "--chroot", "/var/empty"));
            ExecResult run = box.execInContainer(cmd.toArray(String[]::new));
            assertEquals(0, run.getExitCode(), describe(String.join(" ", cmd), run));
            awaitSimulator("grep -qx ready /root/guest-sim.out", 180);
            String log = ok("cat /root/guest-sim.err");
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("vionet0 ready, pid ([0-9]+)").matcher(log);
            assertTrue(m.find(), "the simulator names vionet's pid:\n" + log);
            String pid = m.group(1);

            // the installed vionet-proc, on the bundled runtime, with its role's options
            List<String> argv = ok("tr '\\0' '\\n' < /proc/" + pid + "/cmdline").lines().toList();
            assertEquals("/usr/lib/jvmd/runtime/bin/java", argv.get(0), String.join(" ", argv));
            assertEquals("/usr/lib/jvmd/vionet-proc/jvmd-vionet-proc.jar", argv.get(argv.indexOf("-cp") + 1), String.join(" ", argv));
            assertEquals("org.jvmd.vionet.VionetMain", argv.get(argv.indexOf("-cp") + 2), String.join(" ", argv));
            assertTrue(argv.containsAll(List.of("-Xmx64m", "-XX:+ErrorFileToStderr", "-XX:+UseSerialGC")), String.join(" ", argv));

            // dropped: /proc/PID/status as the kernel sees the process
            String uid = ok("id -u _vmd").strip();
            String gid = ok("id -g _vmd").strip();
            Map<String, String> st = new java.util.HashMap<>();
            for (String l : ok("cat /proc/" + pid + "/status").lines().toList()) {
                int colon = l.indexOf(':');
                if (colon > 0) {
                    st.put(l.substring(0, colon), l.substring(colon + 1).strip().replaceAll("\\s+", " "));
                }
            }
            assertNotEquals("0", uid);
            assertEquals(String.join(" ", uid, uid, uid, uid), st.get("Uid"), "real, effective, saved, fs uid: _vmd");
            assertEquals(String.join(" ", gid, gid, gid, gid), st.get("Gid"), "real, effective, saved, fs gid: _vmd's");
            assertEquals(gid, st.get("Groups"), "supplementary groups: _vmd's own group only (setgroups(1, &gid), as OpenBSD's vmd)");
            assertEquals("1", st.get("NoNewPrivs"));
            assertEquals("2", st.get("Seccomp"), "SECCOMP_MODE_FILTER");
            assertEquals(0L, Long.parseLong(st.get("CapEff"), 16), "no effective capability");
            assertEquals(0L, Long.parseLong(st.get("CapPrm"), 16), "no permitted capability");
            assertEquals("/var/empty", ok("readlink /proc/" + pid + "/root").strip(), "chrooted into the package's /var/empty");
            assertEquals("", ok("ls -A /proc/" + pid + "/root/").strip(), "the chroot is empty");

            // frames both ways: guest stack -> TX queue -> vionet -> simh0, and back through RX
            String ping = ok("ip netns exec " + SIM_GUEST_NS + " ping -n -c 3 -i 0.5 -w 60 " + SIM_HOST_ADDR);
            assertTrue(ping.contains("3 received"), ping);
            String big = ok("ip netns exec " + SIM_HOST_NS + " ping -n -c 2 -s 4000 -w 60 " + SIM_GUEST_ADDR);
            assertTrue(big.contains("2 received"), "fragmented echo (3 frames each way): " + big);
            long hostRx = Long.parseLong(ok("ip netns exec " + SIM_HOST_NS + " cat /sys/class/net/" + SIM_HOST_TAP
                    + "/statistics/rx_packets").strip());
            assertTrue(hostRx >= 3 + 2 * 3, "frames vionet wrote into " + SIM_HOST_TAP + ": " + hostRx);
            ok("kill -0 " + pid); // vionet still serving
        } finally {
            sh("systemctl stop jvmd-guest-sim; ip -n " + SIM_GUEST_NS + " link del " + SIM_GUEST_TAP + "; ip -n " + SIM_HOST_NS
                    + " link del " + SIM_HOST_TAP + "; ip netns del " + SIM_GUEST_NS + "; ip netns del " + SIM_HOST_NS);
        }
        // the simulator's counters, printed at its stop: frames it sent and received through vionet
        String log = ok("cat /root/guest-sim.err");
        java.util.regex.Matcher c = java.util.regex.Pattern.compile("guest-sim: tx frames=([0-9]+) .*\\| rx frames=([0-9]+) ").matcher(log);
        assertTrue(c.find(), "the simulator's counters:\n" + log);
        assertTrue(Long.parseLong(c.group(1)) >= 3 + 2 * 3 && Long.parseLong(c.group(2)) >= 3 + 2 * 3, c.group());
        ok("! pgrep -f '[o]rg.jvmd.vionet.VionetMain' && ! pgrep -f '[o]rg.jvmd.it.sim.GuestSimMain'");
        ok("[ -z \"$(ls -A /var/empty)\" ] && ! ip netns list | grep -q jvmd-sim");
    }

    /** Waits until {@code check} succeeds in the container, at most {@code seconds}; the simulator's output when not. */
    static void awaitSimulator(String check, int seconds) throws Exception {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (sh(check).getExitCode() != 0) {
            if (System.nanoTime() > deadline || sh("systemctl is-active -q jvmd-guest-sim").getExitCode() != 0) {
                fail("the guest simulator is not ready (" + check + "):\n"
                        + sh("systemctl status jvmd-guest-sim --no-pager; cat /root/guest-sim.out /root/guest-sim.err").getStdout());
            }
            Thread.sleep(500);
        }
    }

    @Test
    @Order(4)
    void reloadPicksUpANewVmInTheSameProcess() throws Exception {
        String pid = prop("MainPID");
        ok("cat >> /etc/vm.conf <<'EOF'\n" + CONF_B + "EOF");
        ok("systemctl reload vmd"); // RELOADING=1 ... READY=1
        assertEquals("active", ok("systemctl is-active vmd").strip());
        assertEquals(pid, prop("MainPID"));
        String s = ok("vmctl status");
        assertTrue(s.lines().anyMatch(l -> l.endsWith(" a")) && s.lines().anyMatch(l -> l.endsWith(" b")), s);
        assertTrue(ok("journalctl -u vmd --no-pager").contains("config reloaded: 2 vms"));
    }

    /** The status line of VM {@code name}: ID PID VCPUS MAXMEM CURMEM TTY OWNER STATE NAME. */
    static String[] vm(String name) throws Exception {
        return ok("vmctl status").lines().map(String::strip).map(l -> l.split("\\s+"))
                .filter(f -> f.length == 9 && f[8].equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no VM " + name + " in vmctl status"));
    }

    static int taps() throws Exception {
        return (int) ok("ip -o link show type tun").lines().filter(l -> !l.isBlank()).count();
    }

    /** Waits until VM {@code name} is running with a process other than {@code notPid}; its status line. */
    static String[] awaitRunning(String name, String notPid) throws Exception {
        long deadline = System.nanoTime() + 120_000_000_000L;
        String[] v = null;
        while (System.nanoTime() < deadline) {
            ExecResult s = sh("vmctl status");
            if (s.getExitCode() == 0) { // vmd may still be starting
                v = s.getStdout().lines().map(String::strip).map(l -> l.split("\\s+"))
                        .filter(f -> f.length == 9 && f[8].equals(name)).findFirst().orElse(null);
                if (v != null && v[7].equals("running") && !v[1].equals(notPid)) {
                    return v;
                }
            }
            Thread.sleep(500);
        }
        fail("VM " + name + " not running" + (notPid.equals("-") ? "" : " with a new process (was " + notPid + ")") + ": "
                + (v == null ? "not listed" : String.join(" ", v)) + "\n"
                + sh("vmctl status; journalctl -u vmd --no-pager | tail -40").getStdout());
        return v;
    }

    /**
     * Where the host has /dev/kvm (kvm_pvm is enough), the service's life with a running
     * guest: the tiny guest (testkit's {@link EchoGuest}: a bzImage whose entry sleeps in hlt
     * between polls and powers off when the power button is pressed) as an enabled VM with a
     * local interface, started by a reload; kept running (same vmm-proc) by the next reload;
     * after kill -9 of vmd, systemd restarts vmd and the enabled VM comes back (a new vmm-proc:
     * systemd killed the old one with the rest of the unit's processes, KillMode=mixed; its tap
     * went with it and a new one came); {@code systemctl stop vmd} stops it gracefully (the
     * guest powers off: ACPI S5) and removes its tap, no VM process left. vmd then runs again
     * with the earlier tests' configuration. Without /dev/kvm (this project's machines) no guest
     * boots: the test skips with one line and the guest simulator test above stands in for
     * vionet; kvm-lab, where real guests run, has no docker.
     */
    @Test
    @Order(5)
    @RequiresKvm
    void aRunningGuestSurvivesReloadComesBackAfterKill9AndStopRemovesItsTap() throws Exception {
        box.copyFileToContainer(Transferable.of(EchoGuest.bzImage()), "/var/lib/jvmd/guest/echo.bzImage");
        ok("cat >> /etc/vm.conf <<'EOF'\n" + """
                vm "g" {
                \tmemory 64M
                \tboot "/var/lib/jvmd/guest/echo.bzImage"
                \tlocal interface {
                \t}
                }
                """ + "EOF");
        int before = taps();
        try {
            // a reload starts the new enabled VM
            ok("systemctl reload vmd");
            String[] g = awaitRunning("g", "-");
            assertEquals(before + 1, taps(), "the VM's tap");

            // the next reload keeps it running: the same vmm-proc
            ok("cat >> /etc/vm.conf <<'EOF'\nvm \"c\" {\n\tmemory 32M\n\tboot \"/var/lib/jvmd/guest/vmlinuz\"\n\tdisable\n}\nEOF");
            ok("systemctl reload vmd");
            vm("c");
            assertEquals(g[1], vm("g")[1], "the running VM keeps its process across a reload");
            assertEquals("running", vm("g")[7]);

            // kill -9 of vmd: systemd restarts it, and the enabled VM comes back
            String vmd = prop("MainPID");
            int restarts = Integer.parseInt(prop("NRestarts"));
            ok("kill -9 " + vmd);
            awaitActive(vmd);
            assertEquals(restarts + 1, Integer.parseInt(prop("NRestarts")));
            String[] back = awaitRunning("g", g[1]);
            ok("! kill -0 " + g[1] + " 2>/dev/null"); // the old vmm-proc went with the killed vmd's unit
            assertEquals(before + 1, taps(), "the old tap gone, the new VM's tap there: " + ok("ip -o link show type tun"));

            // systemctl stop vmd: the VM stops, its tap and its processes go
            ok("systemctl stop vmd");
            assertEquals("inactive", sh("systemctl is-active vmd").getStdout().strip());
            assertEquals("success", prop("Result"));
            ok("! kill -0 " + back[1] + " 2>/dev/null");
            ok("! pgrep -f '[o]rg.jvmd.vmm.VmmMain' && ! pgrep -f '[o]rg.jvmd.vionet.VionetMain'");
            // gracefully: the guest heard the power button (a forced stop says "did not shut down in
            // time"); journald may file the dead vmm-proc's last line a moment later
            ExecResult off = sh("for i in $(seq 20); do journalctl -u vmd --no-pager | grep -q 'guest powered off (ACPI S5)'"
                    + " && exit 0; sleep 0.5; done; exit 1");
            assertEquals(0, off.getExitCode(), "no graceful power-off in the journal:\n" + sh("journalctl -u vmd --no-pager | tail -40").getStdout());
            assertEquals(before, taps(), "the VM's tap is removed when vmd stops: " + ok("ip -o link show type tun"));
        } finally {
            // the configuration of the tests before (g and c gone), vmd running for the next
            // (sh, not ok: a failure above stays the one reported)
            sh("cat > /etc/vm.conf <<'EOF'\n" + CONF_A + CONF_B + "EOF");
            sh("systemctl restart vmd");
        }
        assertEquals("active", ok("systemctl is-active vmd").strip());
    }

    @Test
    @Order(6)
    void aKilledVmdIsRestartedBySystemd() throws Exception {
        String pid = prop("MainPID");
        int restarts = Integer.parseInt(prop("NRestarts"));
        ok("kill -9 " + pid);
        awaitActive(pid);
        assertEquals(restarts + 1, Integer.parseInt(prop("NRestarts")));
        String s = ok("vmctl status");
        assertTrue(s.lines().anyMatch(l -> l.endsWith(" b")), s);
    }

    @Test
    @Order(7)
    void stopsCleanlyRemoveLeavesNothingRunningAndPurgeRemovesTheConfig() throws Exception {
        ok("systemctl stop vmd");
        assertEquals("inactive", sh("systemctl is-active vmd").getStdout().strip());
        assertEquals("success", prop("Result"));
        ok("[ ! -e /run/vmd.sock ]");
        assertTrue(ok("journalctl -u vmd --no-pager").contains("terminating"));

        ok("systemctl start vmd");
        ok("DEBIAN_FRONTEND=noninteractive apt-get remove -y jvmd");
        ok("! pgrep -f '[/]usr/lib/jvmd/'"); // the bracket keeps sh -c itself from matching
        ok("[ ! -e /run/vmd.sock ] && [ ! -e /usr/sbin/vmd ]");
        ok("[ -f /etc/vm.conf ]"); // a conffile stays until purge
        ok("DEBIAN_FRONTEND=noninteractive apt-get purge -y jvmd");
        ok("[ ! -e /etc/vm.conf ] && [ ! -e /var/log/vmd ]");
    }
}
