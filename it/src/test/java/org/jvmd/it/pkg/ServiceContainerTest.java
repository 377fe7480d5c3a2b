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
 * is a failure. This machine has no /dev/kvm: no guest runs here (a VM start/stop is left to
 * hosts with one).
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
        // --man=no: the image has no man-db (the unit's Documentation= pages are in the package)
        ok("systemd-analyze verify --man=no /lib/systemd/system/vmd.service");
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
        String caps = prop("CapabilityBoundingSet");
        assertTrue(caps.contains("cap_net_admin") && caps.contains("cap_sys_chroot"), caps);
        assertFalse(caps.contains("cap_sys_admin") || caps.contains("cap_sys_module"), caps);
        assertTrue(ok("systemctl status vmd --no-pager").contains("Status: \"1 vms configured"), "STATUS= shown");
        assertEquals("srw-rw---- root vmusers", ok("stat -c '%A %U %G' /run/vmd.sock").strip());

        String rootStatus = ok("vmctl status");
        assertTrue(rootStatus.lines().anyMatch(l -> l.matches(".*\\bstopped\\s+a$")), rootStatus);
        String alice = ok("runuser -u alice -- vmctl status");
        assertTrue(alice.lines().anyMatch(l -> l.endsWith(" a")), alice);
        ExecResult bob = sh("runuser -u bob -- vmctl status");
        assertNotEquals(0, bob.getExitCode(), describe("bob is not in vmusers", bob));
    }

    @Test
    @Order(3)
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

    /**
     * Where a stock kernel boots (hardware KVM): the test guest (scripts/test-guest) as an
     * enabled VM with a local interface, started by a reload, kept running (same PID) by
     * the next reload, stopped by vmctl with its tap removed. Not run on this project's
     * machines (no /dev/kvm): written for hosts that have one.
     */
    @Test
    @Order(4)
    @RequiresKvm(real = true)
    void aGuestStartsAtReloadKeepsRunningAcrossTheNextAndStopsWithItsTap() throws Exception {
        Path root = DebPackage.projectRoot();
        Path kernel = root.resolve("guest/cache/vmlinuz");
        Path initrd = root.resolve("guest/cache/initramfs.gz");
        Host.skipIf(Files.exists(kernel) && Files.exists(initrd) ? java.util.Optional.empty()
                : java.util.Optional.of("no test guest in guest/cache (scripts/test-guest builds it)"),
                "ServiceContainerTest.aGuestStarts...");
        box.copyFileToContainer(MountableFile.forHostPath(kernel), "/var/lib/jvmd/guest/test-vmlinuz");
        box.copyFileToContainer(MountableFile.forHostPath(initrd), "/var/lib/jvmd/guest/test-initramfs.gz");
        ok("cat >> /etc/vm.conf <<'EOF'\n" + """
                vm "g" {
                \tmemory 256M
                \tboot "/var/lib/jvmd/guest/test-vmlinuz"
                \tinitrd "/var/lib/jvmd/guest/test-initramfs.gz"
                \tcmdline "console=ttyS0 quiet"
                \tlocal interface {
                \t}
                }
                """ + "EOF");
        int before = taps();
        ok("systemctl reload vmd");
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!vm("g")[7].equals("running") && System.nanoTime() < deadline) {
            Thread.sleep(500);
        }
        String[] g = vm("g");
        assertEquals("running", g[7], String.join(" ", g));
        assertEquals(before + 1, taps());
        ok("cat >> /etc/vm.conf <<'EOF'\nvm \"c\" {\n\tmemory 32M\n\tboot \"/var/lib/jvmd/guest/vmlinuz\"\n\tdisable\n}\nEOF");
        ok("systemctl reload vmd");
        vm("c");
        assertEquals(g[1], vm("g")[1], "the running VM keeps its process across a reload");
        ok("vmctl stop -w g");
        assertEquals("stopped", vm("g")[7]);
        assertEquals(before, taps(), "the VM's tap is removed when it stops");
        // the configuration of the tests before: g and c forgotten at the reload (stopped VMs
        // not in the file go), so that the restart below starts nothing
        ok("cat > /etc/vm.conf <<'EOF'\n" + CONF_A + CONF_B + "EOF");
        ok("systemctl reload vmd");
    }

    @Test
    @Order(5)
    void aKilledVmdIsRestartedBySystemd() throws Exception {
        String pid = prop("MainPID");
        ok("kill -9 " + pid);
        awaitActive(pid);
        assertEquals("1", prop("NRestarts"));
        String s = ok("vmctl status");
        assertTrue(s.lines().anyMatch(l -> l.endsWith(" b")), s);
    }

    @Test
    @Order(6)
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
