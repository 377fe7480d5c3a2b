package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jvmd.proto.DiskRequest;
import org.jvmd.proto.LoadRequest;
import org.jvmd.proto.LogRequest;
import org.jvmd.proto.ReloadRequest;
import org.jvmd.proto.Request;
import org.jvmd.proto.ResetRequest;
import org.jvmd.proto.Response;
import org.jvmd.proto.StartRequest;
import org.jvmd.proto.StatusRequest;
import org.jvmd.proto.VmSelector;
import org.jvmd.proto.VmState;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.vmd.config.Caller;
import org.jvmd.vmd.config.ConfigEnvironment;
import org.jvmd.vmd.config.ConfigParser;
import org.jvmd.vmd.config.EtcAccounts;
import org.jvmd.vmd.config.LladdrGenerator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The request dispatch: vmd's permission rules and answers. */
class ControlTest {
    @TempDir
    Path dir;
    Control control;
    final List<String> daemonCalls = new ArrayList<>();
    RecordingLauncher launcher = new RecordingLauncher();

    @BeforeEach
    void setUp() throws Exception {
        Files.writeString(dir.resolve("bzImage"), "k");
        var env = new ConfigEnvironment(RegistryTest.ACCOUNTS, LladdrGenerator.secure(), 1, Map.of());
        var cfg = new ConfigParser(env).parse("vm.conf", """
                vm "web" {
                  boot "bzImage"
                  owner joe
                  disable
                }
                vm "tpl" {
                  boot "bzImage"
                  disable
                  allow instance { boot, disk, owner joe }
                }
                """, dir).config().orElseThrow();
        Registry reg = new Registry(launcher, Runnable::run, System::nanoTime, LladdrGenerator.secure());
        reg.load(cfg);
        control = new Control(reg, new Control.Daemon() {
            @Override
            public void reload() {
                daemonCalls.add("reload");
            }

            @Override
            public void load(Path file) {
                daemonCalls.add("load " + file);
            }

            @Override
            public void reset(ResetRequest.What what) {
                daemonCalls.add("reset " + what);
            }

            @Override
            public void setVerbose(boolean verbose) {
                daemonCalls.add("verbose " + verbose);
            }
        });
    }

    @Test
    void onlyRootMayReloadLoadResetOrChangeLogging() {
        List<Request> daemonRequests = List.of(
                Request.newBuilder().setReload(ReloadRequest.getDefaultInstance()).build(),
                Request.newBuilder().setLoad(LoadRequest.newBuilder().setFile("/x")).build(),
                Request.newBuilder().setReset(ResetRequest.newBuilder().setWhat(ResetRequest.What.VMS)).build(),
                Request.newBuilder().setLog(LogRequest.newBuilder().setVerbose(true)).build());
        for (Request r : daemonRequests) {
            Response resp = control.handle(r, RegistryTest.JOE);
            assertEquals(VmdException.EPERM, resp.getError().getErrno(), r.toString());
        }
        assertTrue(daemonCalls.isEmpty());
        for (Request r : daemonRequests) {
            assertTrue(control.handle(r, Caller.root()).hasOk(), r.toString());
        }
        assertEquals(List.of("reload", "load /x", "reset VMS", "verbose true"), daemonCalls);
    }

    @Test
    void everyoneSeesTheStatusOfEveryVm() {
        Response r = control.handle(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build(),
                RegistryTest.ANN);
        assertEquals(2, r.getStatus().getVmsCount());
        assertEquals("tpl", r.getStatus().getVms(1).getName());
        var v = r.getStatus().getVms(0);
        assertEquals("web", v.getName());
        assertEquals(1000, v.getOwnerUid());
        assertEquals(-1, v.getOwnerGid());
        assertEquals(VmState.STOPPED, v.getState());
    }

    @Test
    void startAnswersWithTheIdAndTty() throws InterruptedException {
        Thread t = Thread.ofVirtual().start(() -> {
            while (launcher.launches.isEmpty()) {
                Thread.onSpinWait();
            }
            launcher.last().started();
        });
        Response r = control.handle(Request.newBuilder().setStart(org.jvmd.proto.StartRequest.newBuilder()
                .setVm(VmSelector.newBuilder().setName("web"))).build(), RegistryTest.JOE);
        assertEquals(1, r.getOk().getId(), r.toString());
        assertEquals("/dev/pts/" + launcher.last().pid, r.getOk().getMessage());
        Response c = control.handle(Request.newBuilder().setConsole(org.jvmd.proto.ConsoleRequest.newBuilder()
                .setVm(VmSelector.newBuilder().setId(1))).build(), RegistryTest.JOE);
        assertEquals("/dev/pts/" + launcher.last().pid, c.getOk().getMessage());
        t.join(5000);
    }

    /** A name of ten or more digits was re-parsed as an int by vmd: NumberFormatException, the client dropped. */
    @Test
    void aStartOfAVmNamedWithTwelveDigitsIsAnAnswerNotADroppedClient() {
        Response r = control.handle(Request.newBuilder().setStart(org.jvmd.proto.StartRequest.newBuilder()
                .setVm(VmSelector.newBuilder().setName("123456789012"))).build(), Caller.root());
        assertEquals(VmdException.ENOENT, r.getError().getErrno(), r.toString());
        Response none = control.handle(Request.newBuilder().setStart(org.jvmd.proto.StartRequest.getDefaultInstance())
                .build(), Caller.root());
        assertEquals(VmdException.ENOENT, none.getError().getErrno(), none.toString());
    }

    /**
     * StartRequest.interfaces is optional: absent is "not given", and 0 a number given. vmctl's
     * -i adds interfaces, so -i 0 adds none: it is no override of a configured VM, which its
     * owner may start with it, and a new VM started with it has no interface.
     */
    @Test
    void interfacesZeroIsGivenAndAddsNone() throws Exception {
        Thread t = Thread.ofVirtual().start(() -> {
            for (int n = 1; n <= 3; n++) {
                while (launcher.launches.size() < n) {
                    Thread.onSpinWait();
                }
                launcher.last().started();
            }
        });
        var zero = org.jvmd.proto.StartRequest.newBuilder().setVm(VmSelector.newBuilder().setName("web")).setInterfaces(0);
        assertTrue(zero.hasInterfaces() && !org.jvmd.proto.StartRequest.getDefaultInstance().hasInterfaces());
        Response owner = control.handle(Request.newBuilder().setStart(zero).build(), RegistryTest.JOE);
        assertTrue(owner.hasOk(), owner.toString());
        assertEquals(0, launcher.last().spec.interfaces().size());
        Response two = control.handle(Request.newBuilder().setStart(org.jvmd.proto.StartRequest.newBuilder()
                .setVm(VmSelector.newBuilder().setName("new2")).setKernel(dir.resolve("bzImage").toString())
                .setKernelFd(0).setInterfaces(2)).build(), Caller.root(), List.of(kernelFd()));
        assertTrue(two.hasOk(), two.toString());
        assertEquals(2, launcher.last().spec.interfaces().size());
        Response none = control.handle(Request.newBuilder().setStart(org.jvmd.proto.StartRequest.newBuilder()
                .setVm(VmSelector.newBuilder().setName("new0")).setKernel(dir.resolve("bzImage").toString())
                .setKernelFd(0).setInterfaces(0)).build(), Caller.root(), List.of(kernelFd()));
        assertTrue(none.hasOk(), none.toString());
        assertEquals(0, launcher.last().spec.interfaces().size());
        t.join(5000);
    }

    /** vmctl tells a refusal apart by its code, not by vmd's text. */
    @Test
    void anInvalidTemplateIsACodeVmctlMaps() {
        Response r = control.handle(Request.newBuilder().setStart(org.jvmd.proto.StartRequest.newBuilder()
                .setVm(VmSelector.newBuilder().setName("i1")).setTemplate("nosuch")).build(), Caller.root());
        assertEquals(org.jvmd.proto.ErrorCode.TEMPLATE_INVALID, r.getError().getCode(), r.toString());
        Response other = control.handle(Request.getDefaultInstance(), Caller.root());
        assertEquals(org.jvmd.proto.ErrorCode.ERROR_CODE_UNSPECIFIED, other.getError().getCode());
    }

    @Test
    void anEmptyRequestIsRejected() {
        assertEquals(VmdException.EINVAL, control.handle(Request.getDefaultInstance(), Caller.root()).getError()
                .getErrno());
    }

    private Fd kernelFd() throws IOException {
        return LibC.open(dir.resolve("bzImage").toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
    }

    private static Fd open(String path, int flags) throws IOException {
        return LibC.open(path, flags | LibC.O_CLOEXEC);
    }

    private static StartRequest.Builder instance(String name) {
        return StartRequest.newBuilder().setVm(VmSelector.newBuilder().setName(name)).setTemplate("tpl");
    }

    private String error(Response r) {
        assertTrue(r.hasError(), r.toString());
        return r.getError().getMessage();
    }

    /** The must-show at the dispatch: no caller's path is ever opened by vmd. */
    @Test
    void aFileNamedWithoutItsDescriptorIsRefusedForEveryCaller() {
        for (Caller c : List.of(RegistryTest.JOE, Caller.root())) {
            assertEquals("kernel /etc/shadow: not passed as a descriptor (vmctl opens the files it names)",
                    error(control.handle(Request.newBuilder().setStart(instance("i1").setKernel("/etc/shadow")).build(), c)));
            assertEquals("initrd /etc/shadow: not passed as a descriptor (vmctl opens the files it names)",
                    error(control.handle(Request.newBuilder().setStart(instance("i1").setInitrd("/etc/shadow")).build(), c)));
            assertEquals("disk 0 (/etc/shadow): not passed as a descriptor (vmctl opens the files it names)",
                    error(control.handle(Request.newBuilder().setStart(instance("i1").addDisks(DiskRequest.newBuilder()
                            .setPath("/etc/shadow"))).build(), c)));
        }
        assertTrue(launcher.launches.isEmpty());
    }

    @Test
    void aRootOnlyFilePassedByAUserIsRefusedAndAReadableOneStarts() throws Exception {
        Thread t = Thread.ofVirtual().start(() -> {
            while (launcher.launches.isEmpty()) {
                Thread.onSpinWait();
            }
            launcher.last().started();
        });
        assertEquals("kernel /etc/shadow: Permission denied", error(control.handle(Request.newBuilder()
                .setStart(instance("i1").setKernel("/etc/shadow").setKernelFd(0)).build(), RegistryTest.JOE,
                List.of(open("/etc/shadow", LibC.O_RDONLY)))));
        assertEquals("initrd /etc/shadow: Permission denied", error(control.handle(Request.newBuilder()
                .setStart(instance("i1").setInitrd("/etc/shadow").setInitrdFd(0)).build(), RegistryTest.JOE,
                List.of(open("/etc/shadow", LibC.O_RDONLY)))));
        assertTrue(launcher.launches.isEmpty());
        Response ok = control.handle(Request.newBuilder().setStart(instance("i1").setKernel(dir.resolve("bzImage").toString())
                .setKernelFd(0)).build(), RegistryTest.JOE, List.of(kernelFd()));
        assertTrue(ok.hasOk(), ok.toString());
        assertEquals("k", Files.readString(launcher.last().spec.kernelFd().orElseThrow().procPath()));
        t.join(5000);
    }

    @Test
    void descriptorIndexesMustNameWhatCameEachOnce() throws Exception {
        String k = dir.resolve("bzImage").toString();
        assertEquals(VmdException.EINVAL, control.handle(Request.newBuilder().setStart(instance("i1").setKernel(k)
                .setKernelFd(1)).build(), RegistryTest.JOE, List.of(kernelFd())).getError().getErrno());
        assertEquals("initrd " + k + ": descriptor 0 named twice", error(control.handle(Request.newBuilder()
                .setStart(instance("i1").setKernel(k).setKernelFd(0).setInitrd(k).setInitrdFd(0)).build(),
                RegistryTest.JOE, List.of(kernelFd()))));
        assertEquals("kernel descriptor without a kernel", error(control.handle(Request.newBuilder()
                .setStart(instance("i1").setKernelFd(0)).build(), RegistryTest.JOE, List.of(kernelFd()))));
    }

    @Test
    void aDiskDescriptorMustBeWritableAndARegularFile() throws Exception {
        Path img = Files.writeString(dir.resolve("joe.img"), "j");
        Files.setAttribute(img, "unix:uid", DiskImagesTest.JOE);
        assertEquals("disk 0 (" + img + "): descriptor not open for writing (a disk needs O_RDWR)",
                error(control.handle(Request.newBuilder().setStart(instance("i1").addDisks(DiskRequest.newBuilder()
                        .setPath(img.toString()).setFd(0))).build(), RegistryTest.JOE,
                        List.of(open(img.toString(), LibC.O_RDONLY)))));
        assertEquals("kernel " + dir + ": not a regular file",
                error(control.handle(Request.newBuilder().setStart(instance("i1").setKernel(dir.toString())
                        .setKernelFd(0)).build(), Caller.root(),
                        List.of(open(dir.toString(), LibC.O_RDONLY | LibC.O_DIRECTORY)))));
        assertEquals("disk 0 (" + img + "): base image 1: descriptor not open for reading",
                error(control.handle(Request.newBuilder().setStart(instance("i1").addDisks(DiskRequest.newBuilder()
                        .setPath(img.toString()).setFd(0).addBaseFds(1))).build(), RegistryTest.JOE,
                        List.of(open(img.toString(), LibC.O_RDWR), open(img.toString(), LibC.O_WRONLY)))));
    }

    @Test
    void everyDescriptorOfARequestIsClosedWhateverTheAnswer() throws Exception {
        List<Fd> refused = List.of(open("/etc/shadow", LibC.O_RDONLY), kernelFd());
        control.handle(Request.newBuilder().setStart(instance("i1").setKernel("/etc/shadow").setKernelFd(0)).build(),
                RegistryTest.JOE, refused);
        List<Fd> unexpected = List.of(kernelFd(), kernelFd());
        control.handle(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build(), RegistryTest.JOE,
                unexpected);
        List<Fd> malformed = List.of(kernelFd());
        control.handle(Request.getDefaultInstance(), Caller.root(), malformed);
        for (List<Fd> l : List.of(refused, unexpected, malformed)) {
            for (Fd fd : l) {
                assertTrue(!fd.isOpen(), "closed by handle");
            }
        }
    }
}
